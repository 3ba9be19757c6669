"""The model a trainer trains: its attention kernel, precision and LoRA adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import LoraConfig, ModelConfig, OptimizerSettings, Strategy, TrainingRecipe


def attention(model: ModelConfig, cuda: bool) -> str:
    if model.attention != "auto":
        return model.attention
    if cuda:
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"


def load_model(path: str, model: ModelConfig, lora: LoraConfig | None, strategy: Strategy, cuda: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    # Full fine-tuning keeps fp32 master weights: DeepSpeed makes its own from bf16 weights, DDP
    # and FSDP2 train fp32 weights under bf16 autocast. LoRA's frozen base needs only bf16.
    if not cuda:
        dtype = torch.float32
    elif lora is not None or strategy.startswith("zero3"):
        dtype = torch.bfloat16
    else:
        dtype = torch.float32
    loaded = AutoModelForCausalLM.from_pretrained(
        path, dtype=dtype, attn_implementation=attention(model, cuda), trust_remote_code=model.trust_remote_code,
    )
    # Without a cache, transformers reads packed sequences from position_ids and keeps attention
    # inside each example; training never needs the cache anyway.
    loaded.config.use_cache = False
    return loaded


def peft_config(lora: LoraConfig | None, task_type: str = "CAUSAL_LM") -> Any:
    if lora is None:
        return None
    from peft import LoraConfig as PeftLoraConfig

    return PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                          target_modules=lora.target_modules, task_type=task_type)


def config_and_tokenizer(model: ModelConfig) -> tuple[str, Any, Any]:
    """(folder or Hub id, config, tokenizer): all a plan needs, no weights read."""
    from transformers import AutoConfig, AutoTokenizer

    from ..errors import UserError
    from ..models import resolve_model

    path = resolve_model(model.name, f"model {model.name}")
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=model.trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=model.trust_remote_code)
    except (OSError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"model {model.name}: cannot load its config and tokenizer: {first}") from None
    return path, config, tokenizer


def trainer_arguments(recipe: TrainingRecipe, train: OptimizerSettings, accumulation: int, out: Path,
                      cuda: bool) -> dict[str, Any]:
    """The TrainingArguments every trainer of ours sets alike, from the recipe and its `train`
    section (optimizer, schedule, batch, precision, checkpoints, logging, push)."""
    import torch

    bf16 = cuda and torch.cuda.is_bf16_supported()
    return dict(
        output_dir=str(out),
        num_train_epochs=train.epochs,
        max_steps=train.max_steps or -1,
        learning_rate=train.learning_rate,
        lr_scheduler_type=train.lr_scheduler,
        warmup_steps=train.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=train.weight_decay,
        max_grad_norm=train.max_grad_norm,
        per_device_train_batch_size=train.micro_batch,
        gradient_accumulation_steps=accumulation,
        gradient_checkpointing=train.gradient_checkpointing,
        bf16=bf16,
        fp16=cuda and not bf16,  # GPUs before Ampere: fp16 autocast with loss scaling
        use_cpu=not cuda,
        seed=train.seed,
        save_strategy="steps",
        save_steps=recipe.checkpoints.every_steps,
        save_total_limit=recipe.checkpoints.keep,
        logging_steps=1,
        report_to="none",
        disable_tqdm=True,
        hub_model_id=recipe.push.repo,
        hub_private_repo=recipe.push.private,
    )


def publish_and_mark_done(trainer: Any, recipe: TrainingRecipe, out: Path, kind: str, summary: dict[str, Any]) -> None:
    """On the first process: the final model to the recipe's Hub repo, if any, then the done marker."""
    from .folder import mark_done

    if recipe.push.repo:
        commit = trainer.push_to_hub(commit_message=f"rfactory train-{kind} {recipe.name}: {summary['steps']} steps")
        summary["pushed"] = getattr(commit, "commit_url", str(commit))
    mark_done(out, kind, summary)


def fit(trainer: Any, resume: Path | None, progress: Any, callback: Any) -> tuple[Any, float]:
    """Train from `resume` (or the start) with `callback` moving `progress`; (the result, seconds)."""
    import time

    trainer.add_callback(callback)
    started = time.monotonic()
    try:
        result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    finally:
        progress.close()
    return result, time.monotonic() - started
