"""The resolved plan of a GRPO job before any GPU: data, batch arithmetic, steps, the generation
engine, and memory per GPU (the training side is `training/memory.py`'s model; a colocated vLLM
takes its share of each GPU on top, and a KL term a frozen reference copy of the weights)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from ..training.memory import GB, Memory, count_parameters, estimate_memory, gpu_memory
from .recipe import RLRecipe


class RLPlan(BaseModel):
    model: str
    parameters: int
    trainable: int
    prompts: int
    domains: dict[str, int]
    longest_prompt: int  # tokens, with the chat template
    prompts_per_step: int
    num_generations: int
    completions_per_step: int
    micro_batch: int
    processes: int
    accumulation: int
    steps_per_epoch: int
    total_steps: int
    max_completion_length: int
    generation: str  # off, colocate or server
    vllm: str  # the installed vLLM and whether TRL takes it
    rewards: list[str]
    memory: Memory
    vllm_gb: float
    reference_gb: float
    total_gb: float
    gpu_memory_gb: float
    gpu_memory_source: str
    fits: bool


def prompt_lengths(dataset: Any, tokenizer: Any, limit: int = 20_000) -> list[int]:
    """Token counts of the prompts as the trainer renders them (the chat template, a generation
    prompt after), for at most `limit` rows."""
    rows = dataset.select(range(min(limit, len(dataset))))
    return [len(tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])
            for p in rows["prompt"]]


def make_plan(recipe: RLRecipe, dataset: Any, config: Any, tokenizer: Any, engine: str, vllm: str) -> RLPlan:
    t, hw = recipe.train, recipe.hardware
    total, trainable, largest = count_parameters(config, recipe.model, recipe.lora)
    longest = max(prompt_lengths(dataset, tokenizer), default=0)
    memory = estimate_memory(config, hw, recipe.lora, t.gradient_checkpointing, False, total, trainable, largest,
                             t.micro_batch * (longest + t.max_completion_length))
    gpu_gb, source = gpu_memory(hw)
    vllm_gb = gpu_gb * recipe.generation.gpu_memory_utilization if engine == "colocate" else 0.0
    shard = 1 if hw.strategy == "ddp" else recipe.world
    reference_gb = 2 * total / shard / GB if t.beta > 0 else 0.0
    per_epoch = max(1, math.ceil(len(dataset) / t.prompts_per_step))
    domains: dict[str, int] = {}
    if "domain" in dataset.column_names:
        for d in dataset["domain"]:
            domains[d] = domains.get(d, 0) + 1
    need = memory.total_gb + vllm_gb + reference_gb
    return RLPlan(
        model=recipe.model.name, parameters=total, trainable=trainable, prompts=len(dataset), domains=domains,
        longest_prompt=longest, prompts_per_step=t.prompts_per_step, num_generations=t.num_generations,
        completions_per_step=recipe.completions_per_step, micro_batch=t.micro_batch, processes=recipe.world,
        accumulation=recipe.accumulation, steps_per_epoch=per_epoch,
        total_steps=t.max_steps or math.ceil(t.epochs * per_epoch), max_completion_length=t.max_completion_length,
        generation=engine, vllm=vllm, rewards=[f"{r.name} ×{r.weight:g}" for r in recipe.rewards], memory=memory,
        vllm_gb=vllm_gb, reference_gb=reference_gb, total_gb=need, gpu_memory_gb=gpu_gb, gpu_memory_source=source,
        fits=need <= gpu_gb,
    )
