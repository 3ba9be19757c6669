"""`rfactory train-sft`: fine-tune a model on verified runs or Hub datasets with TRL."""

from __future__ import annotations

from typing import Any, Optional

import typer

from ..progress import print_summary
from . import training
from .options import JSON, QUIET, interruptible, output_mode


def _size(n: float) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def plan_table(plan: Any) -> dict[str, Any]:
    m, o = plan.memory, plan.overlong
    over = "none" if not o["count"] else (
        f"{o['count']:,} ({o['policy']}; longest {o['longest']:,} tokens at {o['longest_at']})"
    )
    return {
        "model": plan.model,
        "parameters": f"{_size(plan.parameters)} ({_size(plan.trainable)} trained)",
        "chat template": plan.chat_template,
        "data": {s["source"]: f"{s['rows']:,} rows → {s['used']:,}" for s in plan.sources},
        "examples": f"{plan.examples:,}",
        "tokens": f"{plan.tokens:,} ({plan.trained_tokens:,} in assistant turns, the loss)",
        f"over {plan.max_length:,} tokens": over,
        "sequences": f"{plan.sequences:,} ({'packed' if plan.packing else 'one example each'}; longest {plan.longest:,})",
        "global batch": f"{plan.global_batch} = {plan.micro_batch} × {plan.processes} GPUs × {plan.accumulation} accumulation",
        "steps": f"{plan.total_steps:,} ({plan.steps_per_epoch:,} per epoch × {plan.epochs:g})",
        "strategy": plan.strategy,
        "memory per GPU": f"~{m.total_gb:.1f} GB of {plan.gpu_memory_gb:.0f} GB ({plan.gpu_memory_source})",
        "memory parts": {
            "weights": f"{m.weights_gb:.1f}", "gradients": f"{m.gradients_gb:.1f}", "optimizer": f"{m.optimizer_gb:.1f}",
            "activations": f"{m.activations_gb:.1f}", "logits": f"{m.logits_gb:.1f}", "buffers": f"{m.buffers_gb:.1f}",
        } | ({"CPU optimizer per machine": f"{m.cpu_optimizer_gb:.1f}"} if m.cpu_optimizer_gb else {}),
        "fits": "yes" if plan.fits else "NO",
    }


@interruptible
def train_sft(
    recipe: str = typer.Option("sft/smoke", "--recipe", "-r", help="Packaged SFT recipe (sft/sky-t1-32b, sft/openthinker-7b, sft/smoke) or a YAML path."),
    data: Optional[list[str]] = typer.Option(None, "--data", "-d", help="Run folder, export folder, file or Hub dataset; SOURCE=WEIGHT to weight it. Repeat to mix; replaces the recipe's data."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Hub id, model folder, or smollm2 (embedded)."),
    out: Optional[str] = training.OUT,
    gpus: Optional[int] = training.GPUS,
    nodes: Optional[int] = training.NODES,
    node_rank: int = training.NODE_RANK,
    main_address: Optional[str] = training.MAIN_ADDRESS,
    strategy: Optional[str] = training.STRATEGY,
    epochs: Optional[float] = typer.Option(None, help="Epochs over the data."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate."),
    global_batch: Optional[int] = typer.Option(None, help="Sequences per optimizer step, all GPUs together."),
    micro_batch: Optional[int] = typer.Option(None, help="Sequences per GPU per forward pass."),
    max_length: Optional[int] = typer.Option(None, help="Tokens per training sequence."),
    overlong: Optional[str] = typer.Option(None, help="Examples over max_length: drop, truncate or error."),
    packing: Optional[bool] = typer.Option(None, "--packing/--no-packing", help="Pack examples into max_length sequences."),
    lora: Optional[bool] = training.LORA,
    gpu_memory: Optional[float] = training.GPU_MEMORY,
    push_to: Optional[str] = training.PUSH_TO,
    eval_benches: Optional[str] = training.EVAL,
    eval_engine: str = training.EVAL_ENGINE,
    eval_samples: Optional[int] = training.EVAL_SAMPLES,
    eval_max_tokens: Optional[int] = typer.Option(None, help="Max new tokens per sample for --eval."),
    eval_option: list[str] = typer.Option([], "--eval-option", help="Engine option KEY=VALUE for --eval (e.g. dtype=float32). Repeatable."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (examples, tokens, steps, memory per GPU) and stop."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Fine-tune on verified reasoning traces; run the same command again to resume.

    Examples:

      rfactory train-sft --recipe sft/smoke --data runs/math              # a few steps on SmolLM2, CPU is fine

      rfactory train-sft --recipe sft/sky-t1-32b --data runs/m1 --dry-run

      rfactory train-sft --recipe sft/openthinker-7b --data my-org/math-traces --data runs/c1=2 --gpus 8

      rfactory train-sft --recipe sft/openthinker-7b --data runs/m1 --eval aime2024,math500   # scores each checkpoint
    """
    from ..sft.recipe import load_sft_recipe, parse_data_flag
    from ..training.launch import first_process, needs_launch

    mode = output_mode(quiet, as_json)
    overrides = {
        "model.name": model,
        "output_dir": out,
        "train.epochs": epochs,
        "train.max_steps": max_steps,
        "train.learning_rate": lr,
        "train.global_batch": global_batch,
        "train.micro_batch": micro_batch,
        "train.max_length": max_length,
        "train.overlong": overlong,
        "train.packing": packing,
        "push.repo": push_to,
        "data": [parse_data_flag(d).model_dump() for d in data] if data else None,
        **training.hardware_overrides(gpus, nodes, strategy, gpu_memory),
    }
    spec = training.load_spec(load_sft_recipe, recipe, overrides, lora, mode)
    main = first_process()

    from ..sft.plan import refuse_if_too_big
    from ..sft.prepare import prepare
    from ..sft.train import train
    from ..training.folder import claim_output

    out_dir = spec.output_folder()
    benches = training.eval_benches(eval_benches, spec.lora is not None)
    eval_args = [*(a for pair in eval_option for a in ("--option", pair)),
                 *(["-n", str(eval_samples)] if eval_samples else []),
                 *(["--max-tokens", str(eval_max_tokens)] if eval_max_tokens else [])]

    def scored() -> dict[str, Any]:
        return training.scored_checkpoints(out_dir, benches, eval_engine, eval_args, mode)

    if not dry_run and training.reported_finished(spec, "sft", mode, scored):
        return
    prepared = training.first_process_first(lambda: prepare(spec))
    import torch

    cuda = torch.cuda.is_available()
    if dry_run:
        if mode == "json":
            print_summary(mode, "", prepared.plan.model_dump())
        else:
            print_summary(mode, "train-sft plan", plan_table(prepared.plan))
        refuse_if_too_big(prepared.plan)
        return
    if cuda:
        refuse_if_too_big(prepared.plan)
    if main:
        claim_output(out_dir, "sft", spec.trajectory(), spec.model_dump(mode="json"))
    if needs_launch(spec.hardware):
        training.run_launched("train-sft", spec.hardware, node_rank, main_address, cuda)
        if evals := scored():
            print_summary(mode, "train-sft evals", evals["evals"])
        return
    summary = train(prepared, mode)
    if main:
        print_summary(mode, "train-sft", summary | scored())
