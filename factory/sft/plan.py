"""The resolved plan of a fine-tuning job: data, steps, batch, and memory per GPU — before any GPU.

The memory model is the usual accounting, written out so a user can check it:
- states (ZeRO paper, Rajbhandari et al. 2020): mixed-precision AdamW holds 16 bytes per trained
  parameter (bf16 weights 2, bf16 gradients 2, fp32 master weights, momentum and variance 12);
  DDP keeps all of it on every GPU, FSDP2 and ZeRO-3 shard it over all GPUs, and ZeRO-3 offload
  moves the 12 optimizer bytes to CPU memory. LoRA keeps the frozen base in bf16 (2 bytes) and
  the 16 bytes only for the adapters.
- activations per layer and token, bf16, with flash/SDPA attention (nothing quadratic kept):
  the inputs of norm, q/k/v, attention output, o-proj, residual and the three MLP projections,
  2·(6h + 2·kv + 4·I) bytes; gradient checkpointing keeps only each layer's input (2h) plus one
  layer in full during its recompute.
- logits: tokens × vocab × 12 bytes (bf16 logits, their fp32 upcast for the loss, the fp32
  gradient, and TRL's fp32 entropy pass), unless Liger's fused loss never builds them.
- sharded strategies gather two layers and the embedding in bf16 at a time; 2 GB for the CUDA
  context and allocator, then 5% for fragmentation.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from ..errors import UserError
from .recipe import SFTRecipe

GB = 1024**3
ASSUMED_GPU_GB = 80.0  # an H100/A100-80GB, when no GPU is visible to ask


class Memory(BaseModel):
    weights_gb: float
    gradients_gb: float
    optimizer_gb: float
    activations_gb: float
    logits_gb: float
    buffers_gb: float
    total_gb: float
    cpu_optimizer_gb: float  # per machine, with zero3_offload


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


def count_parameters(config: Any, recipe: SFTRecipe) -> tuple[int, int, int]:
    """(total, trainable, largest decoder layer), on the meta device: no weights are read."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=recipe.model.trust_remote_code)
    total = sum(p.numel() for p in model.parameters())
    layers = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == config.num_hidden_layers]
    largest = max((sum(p.numel() for p in layer.parameters()) for layer in layers[0]), default=0) if layers else 0
    if recipe.lora is None:
        return total, total, largest
    targets, output = recipe.lora.target_modules, model.get_output_embeddings()
    trainable = 0
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or module is output:
            continue
        if targets == "all-linear" or any(name == t or name.endswith(f".{t}") for t in targets):
            trainable += recipe.lora.r * (module.in_features + module.out_features)
    return total, trainable, largest


def estimate_memory(config: Any, recipe: SFTRecipe, total: int, trainable: int, largest: int, tokens: int) -> Memory:
    """Bytes per GPU for `tokens` tokens per forward pass (see the module docstring)."""
    strategy = recipe.hardware.strategy
    shard = 1 if strategy == "ddp" else recipe.world
    h, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    inter = getattr(config, "intermediate_size", None) or 4 * h
    if recipe.lora is None:
        weights, grads, optim = 2 * total / shard, 2 * total / shard, 12 * total / shard
    else:
        weights, grads, optim = 2 * total / shard + 4 * trainable, 2 * trainable, 12 * trainable
    cpu = 0.0
    if strategy == "zero3_offload":
        cpu, optim = optim * recipe.hardware.gpus, 0.0
    layer = 2 * (6 * h + 2 * kv * head_dim + 4 * inter) * tokens
    kept = layers * 2 * h * tokens + layer if recipe.train.gradient_checkpointing else layers * layer
    logits = 0 if recipe.train.liger_kernel else 12 * tokens * vocab
    gathered = 0 if strategy == "ddp" else 2 * 2 * largest + 2 * vocab * h
    buffers = gathered + 2 * GB
    total_bytes = 1.05 * (weights + grads + optim + kept + logits + buffers)
    return Memory(
        weights_gb=weights / GB, gradients_gb=grads / GB, optimizer_gb=optim / GB, activations_gb=kept / GB,
        logits_gb=logits / GB, buffers_gb=buffers / GB, total_gb=total_bytes / GB, cpu_optimizer_gb=cpu / GB,
    )


def gpu_memory(recipe: SFTRecipe) -> tuple[float, str]:
    if recipe.hardware.gpu_memory_gb:
        return recipe.hardware.gpu_memory_gb, "recipe"
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_properties(0).total_memory / GB, torch.cuda.get_device_name(0)
    return ASSUMED_GPU_GB, "assumed: no GPU visible"


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
