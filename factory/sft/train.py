"""A prepared plan → TRL's SFTTrainer: resume, progress, the final model, and its push.

The output folder (`training/folder.py`, kind "sft") holds `sft.json`, `checkpoint-N/` folders,
the final model, and `sft-done.json` once training has finished. Running the same command again
resumes from the newest complete checkpoint, or reports the finished run without training again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError
from ..progress import Mode, Progress
from ..training.folder import resume_point
from ..training.model import fit, load_model, peft_config, publish_and_mark_done, trainer_arguments
from .prepare import Prepared
from .recipe import SFTRecipe


def sft_config(recipe: SFTRecipe, out: Path, cuda: bool, workers: int | None) -> Any:
    from trl import SFTConfig

    train = recipe.train
    if train.liger_kernel:
        try:
            import liger_kernel  # noqa: F401
        except ImportError:
            raise UserError("train.liger_kernel needs liger-kernel: pip install liger-kernel") from None
    return SFTConfig(
        **trainer_arguments(recipe, train, recipe.accumulation, out, cuda),
        max_length=train.max_length,
        packing=train.packing,
        packing_strategy="bfd",
        dataset_num_proc=workers,
        use_liger_kernel=train.liger_kernel,
        ddp_find_unused_parameters=False,  # every parameter takes part in every step
        include_num_input_tokens_seen="non_padding",
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
    model = load_model(prepared.model_path, recipe.model, recipe.lora, recipe.hardware.strategy, cuda)
    trainer = SFTTrainer(
        model=model, args=sft_config(recipe, out, cuda, worker_count(prepared.plan.examples)),
        train_dataset=prepared.dataset, processing_class=prepared.tokenizer, peft_config=peft_config(recipe.lora),
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict; rfactory draws a bar instead
    return trainer


def train(prepared: Prepared, mode: Mode) -> dict[str, Any]:
    import torch

    recipe, plan = prepared.recipe, prepared.plan
    out = recipe.output_folder()
    resume, start_step = resume_point(out)
    trainer = build_trainer(prepared, out, torch.cuda.is_available())
    main = trainer.accelerator.is_main_process
    progress = Progress(mode if main else "quiet", "train-sft", plan.total_steps - start_step, "loss", log_every_s=30)
    result, seconds = fit(trainer, resume, progress, _progress_callback(progress))
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
        publish_and_mark_done(trainer, recipe, out, "sft", summary)
    return summary
