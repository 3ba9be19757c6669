"""The resolved plan of a fine-tuning job: data, steps, batch, and memory per GPU — before any GPU
(the memory model is `training/memory.py`'s)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from ..errors import UserError
from ..training.memory import Memory
from .recipe import SFTRecipe


class Plan(BaseModel):
    model: str
    chat_template: str
    parameters: int
    trainable: int
    sources: list[dict[str, Any]]
    examples: int
    tokens: int
    trained_tokens: int
    overlong: dict[str, Any]
    max_length: int
    packing: bool
    sequences: int
    longest: int
    processes: int
    strategy: str
    micro_batch: int
    accumulation: int
    global_batch: int
    steps_per_epoch: int
    epochs: float
    total_steps: int
    memory: Memory
    gpu_memory_gb: float
    gpu_memory_source: str
    fits: bool


def steps(recipe: SFTRecipe, sequences: int) -> tuple[int, int]:
    """(steps per epoch, total steps), computed as transformers' Trainer computes them."""
    batches = math.ceil(sequences / (recipe.train.micro_batch * recipe.world))
    per_epoch = max(batches // recipe.accumulation + int(batches % recipe.accumulation > 0), 1)
    total = recipe.train.max_steps or math.ceil(recipe.train.epochs * per_epoch)
    return per_epoch, total


def refuse_if_too_big(plan: Plan) -> None:
    if plan.fits:
        return
    m = plan.memory
    bigger = {"ddp": "fsdp2, zero3 or zero3_offload", "fsdp2": "zero3_offload", "zero3": "zero3_offload"}
    ways = ["more GPUs"] + ([f"--strategy {bigger[plan.strategy]}"] if plan.strategy in bigger else [])
    ways += ["--lora", "train.liger_kernel", "a shorter --max-length"]
    raise UserError(
        f"plan needs ~{m.total_gb:.0f} GB per GPU (states {m.weights_gb + m.gradients_gb + m.optimizer_gb:.0f}, "
        f"activations {m.activations_gb:.0f}, logits {m.logits_gb:.0f}) but a GPU has {plan.gpu_memory_gb:.0f} GB: "
        f"use {', '.join(ways)}"
    )
