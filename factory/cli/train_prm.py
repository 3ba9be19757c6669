"""`rfactory train-prm`: a process reward model on step-labelled data, on transformers' Trainer."""

from __future__ import annotations

from typing import Any, Optional

import typer

from ..errors import UserError
from ..progress import print_summary
from . import training
from .options import JSON, QUIET, interruptible, output_mode


def plan_table(plan: Any) -> dict[str, Any]:
    d, m = plan.data, plan.memory
    return {
        "model": f"{plan.model} ({plan.parameters / 1e6:,.0f}M parameters, {plan.trainable / 1e6:,.1f}M trained), "
                 "a two-class head on each step's separator",
        "data": {s: f"{n:,} traces" for s, n in d.sources.items()},
        "traces": f"{d.traces:,} ({d.tokens:,} tokens, longest {d.longest:,})",
        "labelled steps": f"{d.steps:,} ({plan.label_balance:.1%} right; {d.cut:,} past max_length left out)",
        "labels": "soft (the rollouts' share)" if plan.soft_labels else "hard (right / wrong)",
        "global batch": plan.global_batch,
        "steps": f"{plan.total_steps:,} ({plan.steps_per_epoch:,} per epoch)",
        "memory per GPU": f"~{m.total_gb:.1f} GB of {plan.gpu_memory_gb:.0f} GB ({plan.gpu_memory_source})",
        "fits": "yes" if plan.fits else "NO",
    }


@interruptible
def train_prm(
    recipe: str = typer.Option("prm/smoke", "--recipe", "-r", help="Packaged PRM recipe (prm/smoke, prm/qwen2.5-math-7b) or a YAML path."),
    data: Optional[list[str]] = typer.Option(None, "--data", "-d", help="A `label-steps` folder, a stepwise file or a Hub dataset (prompt, completions, labels). Repeatable."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Hub id, model folder, or smollm2 (embedded)."),
    out: Optional[str] = training.OUT,
    gpus: Optional[int] = training.GPUS,
    nodes: Optional[int] = training.NODES,
    node_rank: int = training.NODE_RANK,
    main_address: Optional[str] = training.MAIN_ADDRESS,
    strategy: Optional[str] = training.STRATEGY,
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate."),
    soft_labels: Optional[bool] = typer.Option(None, "--soft-labels/--hard-labels", help="Train on the rollouts' share reaching the answer (label-steps output) or on right/wrong."),
    lora: Optional[bool] = training.LORA,
    gpu_memory: Optional[float] = training.GPU_MEMORY,
    push_to: Optional[str] = training.PUSH_TO,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (traces, labelled steps, balance, steps, memory) and stop."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Train a process reward model; run the same command again to resume.

    Examples:

      rfactory train-prm --recipe prm/smoke --data prm/m1                 # a few real steps on a CPU

      rfactory train-prm --recipe prm/qwen2.5-math-7b --data prm/m1 --gpus 8 --dry-run

      rfactory eval --model vllm:models/student --bench math500 -n 16 --select prm:models/prm-smoke
    """
    from ..prm.recipe import PRMData, load_prm_recipe
    from ..prm.train import prepare, train
    from ..training.folder import claim_output
    from ..training.launch import first_process, needs_launch

    mode = output_mode(quiet, as_json)
    overrides = {
        "model.name": model, "output_dir": out, "train.max_steps": max_steps, "train.learning_rate": lr,
        "train.soft_labels": soft_labels, "push.repo": push_to,
        "data": [PRMData(source=d).model_dump() for d in data] if data else None,
        **training.hardware_overrides(gpus, nodes, strategy, gpu_memory),
    }
    spec = training.load_spec(load_prm_recipe, recipe, overrides, lora, mode)
    main = first_process()
    out_dir = spec.output_folder()
    if not dry_run and training.reported_finished(spec, "prm", mode):
        return
    dataset, tokenizer, path, the_plan = training.first_process_first(lambda: prepare(spec))
    import torch

    cuda = torch.cuda.is_available()
    if dry_run or (cuda and not the_plan.fits):
        print_summary(mode, "train-prm plan", the_plan.model_dump() if mode == "json" else plan_table(the_plan))
        if not the_plan.fits:
            raise UserError(f"plan needs ~{the_plan.memory.total_gb:.0f} GB per GPU but a GPU has "
                            f"{the_plan.gpu_memory_gb:.0f} GB: use more GPUs, a sharded strategy, --lora or a shorter "
                            "train.max_length")
        return
    if main:
        claim_output(out_dir, "prm", spec.trajectory(), spec.model_dump(mode="json"))
    if needs_launch(spec.hardware):
        training.run_launched("train-prm", spec.hardware, node_rank, main_address, cuda)
        return
    summary = train(spec, dataset, tokenizer, path, the_plan, mode)
    if main:
        print_summary(mode, "train-prm", summary)
