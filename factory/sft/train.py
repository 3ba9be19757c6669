"""A prepared plan → TRL's SFTTrainer: resume, progress, the final model, and its push.

The output folder holds `sft.json` (the recipe and the settings a checkpoint depends on),
`checkpoint-N/` folders from transformers' Trainer, the final model, and `sft-done.json` once
training has finished. Running the same command again resumes from the newest complete
checkpoint, or reports the finished run without training again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..progress import Mode, Progress
from .launch import first_process
from .prepare import Prepared
from .recipe import SFTRecipe

SETTINGS = "sft.json"
DONE = "sft-done.json"


def output_dir(recipe: SFTRecipe) -> Path:
    return Path(recipe.output_dir or Path("models") / recipe.name)


def _first_difference(old: Any, new: Any, where: str = "") -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{where}.{key}" if where else key)
    return f"{where}: {old!r} then, {new!r} now"


def finished(out: Path, recipe: SFTRecipe) -> dict[str, Any] | None:
    """The summary of a run that already finished in `out`; refuses a folder whose checkpoints
    were made with other training settings, or that rfactory did not make."""
    settings = out / SETTINGS
    if settings.is_file():
        stored = json.loads(settings.read_text(encoding="utf-8"))["trajectory"]
        now = json.loads(json.dumps(recipe.trajectory()))
        if stored != now:
            raise UserError(
                f"{out}: holds a training run with other settings ({_first_difference(stored, now)}); "
                "give another --out, or delete the folder to start over"
            )
    elif out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: not empty and not an rfactory training folder; give another --out")
    done = out / DONE
    return {**json.loads(done.read_text(encoding="utf-8")), "already_done": True} if done.is_file() else None


def claim_output(out: Path, recipe: SFTRecipe) -> None:
    if (out / SETTINGS).is_file():
        return
    out.mkdir(parents=True, exist_ok=True)
    body = {"trajectory": recipe.trajectory(), "recipe": recipe.model_dump(mode="json")}
    tmp = out / f"{SETTINGS}.tmp"
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / SETTINGS)


def last_complete_checkpoint(out: Path, remove_partial: bool) -> Path | None:
    """The newest checkpoint whose trainer state was written (the Trainer writes it last). Newer,
    half-written ones from a killed run are removed (by the first process only), so the Trainer
    neither loads nor rotates them."""
    found = sorted(
        (int(m.group(1)), p) for p in out.glob("checkpoint-*") if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))
    )
    complete = [(step, path) for step, path in found if (path / "trainer_state.json").is_file()]
    newest = complete[-1][0] if complete else -1
    if remove_partial:
        for step, path in found:
            if step > newest:
                shutil.rmtree(path, ignore_errors=True)
    return complete[-1][1] if complete else None


def _attention(recipe: SFTRecipe, cuda: bool) -> str:
    if recipe.model.attention != "auto":
        return recipe.model.attention
    if cuda:
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"


def _load_model(prepared: Prepared, cuda: bool, strategy: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    recipe = prepared.recipe
    # Full fine-tuning keeps fp32 master weights: DeepSpeed makes its own from bf16 weights, DDP
    # and FSDP2 train fp32 weights under bf16 autocast. LoRA's frozen base needs only bf16.
    if not cuda:
        dtype = torch.float32
    elif recipe.lora is not None or strategy.startswith("zero3"):
        dtype = torch.bfloat16
    else:
        dtype = torch.float32
    model = AutoModelForCausalLM.from_pretrained(
        prepared.model_path,
        dtype=dtype,
        attn_implementation=_attention(recipe, cuda),
        trust_remote_code=recipe.model.trust_remote_code,
    )
    # Without a cache, transformers reads packed sequences from position_ids and keeps attention
    # inside each example; training never needs the cache anyway.
    model.config.use_cache = False
    return model


def _peft_config(recipe: SFTRecipe) -> Any:
    if recipe.lora is None:
        return None
    from peft import LoraConfig

    lora = recipe.lora
    return LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )


def sft_config(recipe: SFTRecipe, out: Path, cuda: bool, workers: int | None) -> Any:
    import torch
    from trl import SFTConfig

    train = recipe.train
    bf16 = cuda and torch.cuda.is_bf16_supported()
    if train.liger_kernel:
        try:
            import liger_kernel  # noqa: F401
        except ImportError:
            raise UserError("train.liger_kernel needs liger-kernel: pip install liger-kernel") from None
    return SFTConfig(
        output_dir=str(out),
        num_train_epochs=train.epochs,
        max_steps=train.max_steps or -1,
        learning_rate=train.learning_rate,
        lr_scheduler_type=train.lr_scheduler,
        warmup_steps=train.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=train.weight_decay,
        max_grad_norm=train.max_grad_norm,
        per_device_train_batch_size=train.micro_batch,
        gradient_accumulation_steps=recipe.accumulation,
        gradient_checkpointing=train.gradient_checkpointing,
        max_length=train.max_length,
        packing=train.packing,
        packing_strategy="bfd",
        dataset_num_proc=workers,
        use_liger_kernel=train.liger_kernel,
        bf16=bf16,
        fp16=cuda and not bf16,  # GPUs before Ampere: fp16 autocast with loss scaling
        use_cpu=not cuda,
        ddp_find_unused_parameters=False,  # every parameter takes part in every step
        seed=train.seed,
        save_strategy="steps",
        save_steps=recipe.checkpoints.every_steps,
        save_total_limit=recipe.checkpoints.keep,
        logging_steps=1,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        disable_tqdm=True,
        hub_model_id=recipe.push.repo,
        hub_private_repo=recipe.push.private,
    )


def _progress_callback(progress: Progress) -> Any:
    from transformers import TrainerCallback

    class ShowProgress(TrainerCallback):
        """Each optimizer step moves the bar: tokens/s from the trainer's count, the latest loss."""

        def __init__(self) -> None:
            self.tokens = 0

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003
            self.tokens = state.num_input_tokens_seen  # a resumed run counts from its checkpoint

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN003
            if logs and "loss" in logs:
                step_tokens = state.num_input_tokens_seen - self.tokens
                self.tokens = state.num_input_tokens_seen
                progress.advance(True, step_tokens, note=f"loss {logs['loss']:.4f}")

    return ShowProgress()


def build_trainer(prepared: Prepared, out: Path, cuda: bool) -> Any:
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTTrainer

    from .tokens import worker_count

    recipe = prepared.recipe
    model = _load_model(prepared, cuda, recipe.hardware.strategy)
    trainer = SFTTrainer(
        model=model, args=sft_config(recipe, out, cuda, worker_count(prepared.plan.examples)),
        train_dataset=prepared.dataset, processing_class=prepared.tokenizer, peft_config=_peft_config(recipe),
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict; rfactory draws a bar instead
    return trainer


def train(prepared: Prepared, mode: Mode) -> dict[str, Any]:
    import torch

    recipe, plan = prepared.recipe, prepared.plan
    out = output_dir(recipe)
    resume = last_complete_checkpoint(out, remove_partial=first_process())
    trainer = build_trainer(prepared, out, torch.cuda.is_available())
    main = trainer.accelerator.is_main_process
    start_step = 0
    if resume is not None:
        start_step = json.loads((resume / "trainer_state.json").read_text(encoding="utf-8"))["global_step"]
    progress = Progress(mode if main else "quiet", "train-sft", plan.total_steps - start_step, "loss", log_every_s=30)
    trainer.add_callback(_progress_callback(progress))
    started = time.monotonic()
    try:
        result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    finally:
        progress.close()
    seconds = time.monotonic() - started
    trainer.save_model(str(out))
    history = [h for h in trainer.state.log_history if "loss" in h]
    summary = {
        "output_dir": str(out),
        "steps": trainer.state.global_step,
        "resumed_from": resume.name if resume else None,
        "steps_this_run": trainer.state.global_step - start_step,
        "first_loss": history[0]["loss"] if history else None,
        "last_loss": history[-1]["loss"] if history else None,
        "train_loss": result.training_loss,
        "tokens_this_run": progress.tokens,
        "tokens_per_s": round(progress.tokens / seconds, 1) if seconds else 0.0,
        "seconds": round(seconds, 1),
        "examples": plan.examples,
        "overlong": plan.overlong["count"],
        "parameters": plan.parameters,
        "trainable": plan.trainable,
    }
    if main:
        if recipe.push.repo:
            commit = trainer.push_to_hub(commit_message=f"rfactory train-sft {recipe.name}: {summary['steps']} steps")
            summary["pushed"] = getattr(commit, "commit_url", str(commit))
        tmp = out / f"{DONE}.tmp"
        tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, out / DONE)
    return summary
