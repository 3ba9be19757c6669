"""Memory per GPU of a training step, before any GPU: the usual accounting, written out so a user
can check it:
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

from typing import Any

from pydantic import BaseModel

from .config import HardwareConfig, LoraConfig, ModelConfig

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


def count_parameters(config: Any, model_cfg: ModelConfig, lora: LoraConfig | None) -> tuple[int, int, int]:
    """(total, trainable, largest decoder layer), on the meta device: no weights are read."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=model_cfg.trust_remote_code)
    total = sum(p.numel() for p in model.parameters())
    layers = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == config.num_hidden_layers]
    largest = max((sum(p.numel() for p in layer.parameters()) for layer in layers[0]), default=0) if layers else 0
    if lora is None:
        return total, total, largest
    targets, output = lora.target_modules, model.get_output_embeddings()
    trainable = 0
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or module is output:
            continue
        if targets == "all-linear" or any(name == t or name.endswith(f".{t}") for t in targets):
            trainable += lora.r * (module.in_features + module.out_features)
    return total, trainable, largest


def estimate_memory(config: Any, hardware: HardwareConfig, lora: LoraConfig | None, checkpointing: bool,
                    fused_logits: bool, total: int, trainable: int, largest: int, tokens: int) -> Memory:
    """Bytes per GPU for `tokens` tokens per forward pass (see the module docstring)."""
    strategy = hardware.strategy
    shard = 1 if strategy == "ddp" else hardware.world
    h, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    inter = getattr(config, "intermediate_size", None) or 4 * h
    if lora is None:
        weights, grads, optim = 2 * total / shard, 2 * total / shard, 12 * total / shard
    else:
        weights, grads, optim = 2 * total / shard + 4 * trainable, 2 * trainable, 12 * trainable
    cpu = 0.0
    if strategy == "zero3_offload":
        cpu, optim = optim * hardware.gpus, 0.0
    layer = 2 * (6 * h + 2 * kv * head_dim + 4 * inter) * tokens
    kept = layers * 2 * h * tokens + layer if checkpointing else layers * layer
    logits = 0 if fused_logits else 12 * tokens * vocab
    gathered = 0 if strategy == "ddp" else 2 * 2 * largest + 2 * vocab * h
    buffers = gathered + 2 * GB
    total_bytes = 1.05 * (weights + grads + optim + kept + logits + buffers)
    return Memory(
        weights_gb=weights / GB, gradients_gb=grads / GB, optimizer_gb=optim / GB, activations_gb=kept / GB,
        logits_gb=logits / GB, buffers_gb=buffers / GB, total_gb=total_bytes / GB, cpu_optimizer_gb=cpu / GB,
    )


def gpu_memory(hardware: HardwareConfig) -> tuple[float, str]:
    if hardware.gpu_memory_gb:
        return hardware.gpu_memory_gb, "recipe"
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_properties(0).total_memory / GB, torch.cuda.get_device_name(0)
    return ASSUMED_GPU_GB, "assumed: no GPU visible"
