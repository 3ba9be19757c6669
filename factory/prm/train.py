"""A PRM recipe → a token-classification model trained on the step separators, on transformers'
Trainer. Written here rather than taken from TRL because TRL removed its PRM trainer in 2026; the
Trainer does the loop, checkpoints, resume and multi-GPU, and this module adds only what a PRM
needs: the model with a two-class head, the labels on the separators (`data.py`), and the loss on
soft labels (the rollouts' share reaching the answer), which no library head computes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..progress import Mode, Progress
from ..training.folder import resume_point
from ..training.memory import Memory, count_parameters, estimate_memory, gpu_memory
from ..training.model import (attention, config_and_tokenizer, fit, peft_config, publish_and_mark_done,
                              trainer_arguments)
from .data import DataReport, encode
from .recipe import PRMRecipe


class PRMPlan(BaseModel):
    model: str
    parameters: int
    trainable: int
    data: DataReport
    label_balance: float
    global_batch: str
    steps_per_epoch: int
    total_steps: int
    soft_labels: bool
    memory: Memory
    gpu_memory_gb: float
    gpu_memory_source: str
    fits: bool


def plan(recipe: PRMRecipe, config: Any, report: DataReport) -> PRMPlan:
    t = recipe.train
    total, trainable, largest = count_parameters(config, recipe.model, recipe.lora)
    memory = estimate_memory(config, recipe.hardware, recipe.lora, t.gradient_checkpointing, True, total, trainable,
                             largest, t.micro_batch * min(t.max_length, report.longest))
    gpu_gb, source = gpu_memory(recipe.hardware)
    per_epoch = max(1, math.ceil(report.traces / t.global_batch))
    return PRMPlan(
        model=recipe.model.name, parameters=total, trainable=trainable, data=report,
        label_balance=report.right / report.steps if report.steps else 0.0,
        global_batch=f"{t.global_batch} = {t.micro_batch} × {recipe.world} GPUs × {recipe.accumulation} accumulation",
        steps_per_epoch=per_epoch, total_steps=t.max_steps or math.ceil(t.epochs * per_epoch),
        soft_labels=t.soft_labels, memory=memory, gpu_memory_gb=gpu_gb, gpu_memory_source=source,
        fits=memory.total_gb <= gpu_gb,
    )


def _collator(tokenizer: Any, soft: bool) -> Any:
    import torch
    from transformers import DataCollatorForTokenClassification

    base = DataCollatorForTokenClassification(tokenizer)

    def collate(features: list[dict[str, Any]]) -> dict[str, Any]:
        targets = [f.pop("targets") for f in features] if soft else None
        batch = base(features)
        if targets is not None:
            width = batch["input_ids"].shape[1]
            batch["targets"] = torch.tensor([t + [-1.0] * (width - len(t)) for t in targets])
        return batch

    return collate


def _trainer_class(soft: bool) -> Any:
    import torch
    from transformers import Trainer

    if not soft:
        return Trainer  # the token-classification head's own cross-entropy, -100 ignored

    class SoftLabelTrainer(Trainer):
        """Cross-entropy against the soft target p: -(p·log q(right) + (1-p)·log q(wrong)) at each
        labelled separator."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001, ANN201
            targets = inputs.pop("targets")
            inputs.pop("labels", None)
            outputs = model(**inputs)
            logp = torch.log_softmax(outputs.logits.float(), dim=-1)
            mask = targets >= 0
            p = targets[mask]
            loss = -(p * logp[..., 1][mask] + (1 - p) * logp[..., 0][mask]).mean()
            return (loss, outputs) if return_outputs else loss

    return SoftLabelTrainer


def build_trainer(recipe: PRMRecipe, dataset: Any, tokenizer: Any, path: str, out: Path, cuda: bool) -> Any:
    import torch
    from transformers import AutoModelForTokenClassification, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    dtype = torch.bfloat16 if cuda and recipe.lora is not None else torch.float32
    model = AutoModelForTokenClassification.from_pretrained(
        path, num_labels=2, id2label={0: "wrong", 1: "right"}, label2id={"wrong": 0, "right": 1}, dtype=dtype,
        attn_implementation=attention(recipe.model, cuda), trust_remote_code=recipe.model.trust_remote_code)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    lora = peft_config(recipe.lora, task_type="TOKEN_CLS")
    if lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, lora)
    args = TrainingArguments(**trainer_arguments(recipe, recipe.train, recipe.accumulation, out, cuda),
                             remove_unused_columns=False)
    trainer = _trainer_class(recipe.train.soft_labels)(
        model=model, args=args, train_dataset=dataset, data_collator=_collator(tokenizer, recipe.train.soft_labels),
        processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    return trainer


def _progress_callback(progress: Progress) -> Any:
    from transformers import TrainerCallback

    class ShowProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN003
            if logs and "loss" in logs:
                progress.advance(True, note=f"loss {logs['loss']:.4f}")

    return ShowProgress()


def prepare(recipe: PRMRecipe) -> tuple[Any, Any, str, PRMPlan]:
    """(encoded dataset, tokenizer, model path, plan): data and model read, no weights."""
    path, config, tokenizer = config_and_tokenizer(recipe.model)
    dataset, report = encode(recipe, tokenizer)
    return dataset, tokenizer, path, plan(recipe, config, report)


def train(recipe: PRMRecipe, dataset: Any, tokenizer: Any, path: str, the_plan: PRMPlan, mode: Mode) -> dict[str, Any]:
    import torch

    out = recipe.output_folder()
    resume, start = resume_point(out)
    trainer = build_trainer(recipe, dataset, tokenizer, path, out, torch.cuda.is_available())
    main = trainer.accelerator.is_main_process
    progress = Progress(mode if main else "quiet", "train-prm", the_plan.total_steps - start, "loss", log_every_s=30)
    result, seconds = fit(trainer, resume, progress, _progress_callback(progress))
    trainer.save_model(str(out))
    history = [h for h in trainer.state.log_history if "loss" in h]
    summary = {
        "output_dir": str(out), "steps": trainer.state.global_step, "resumed_from": resume.name if resume else None,
        "steps_this_run": trainer.state.global_step - start, "traces": the_plan.data.traces,
        "labelled_steps": the_plan.data.steps, "first_loss": history[0]["loss"] if history else None,
        "last_loss": history[-1]["loss"] if history else None, "train_loss": result.training_loss,
        "seconds": round(seconds, 1), "separator": recipe.train.separator,
    }
    if main:
        publish_and_mark_done(trainer, recipe, out, "prm", summary)
    return summary
