"""`rfactory train-sft`: fine-tune a model on verified runs or Hub datasets with TRL."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Optional

import typer

from ..errors import UserError
from ..progress import Mode, print_summary
from .options import JSON, QUIET, interruptible, output_mode


def _quiet_libraries(mode: Mode, main: bool) -> None:
    """transformers, datasets and TRL log and draw bars of their own; keep them off the output
    that --quiet/--json promise, and off every process but the first."""
    if mode == "rich" and main and sys.stderr.isatty():
        return
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    if mode != "rich" or not main:
        datasets.logging.set_verbosity_error()
        transformers.logging.set_verbosity_error()


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
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Checkpoints and final model (default models/<recipe name>)."),
    gpus: Optional[int] = typer.Option(None, "--gpus", min=1, help="Processes on this machine (one per GPU)."),
    nodes: Optional[int] = typer.Option(None, "--nodes", min=1, help="Machines in the job."),
    node_rank: int = typer.Option(0, "--node-rank", min=0, help="This machine's rank (0 on the first)."),
    main_address: Optional[str] = typer.Option(None, "--main-address", help="HOST:PORT of the rank-0 machine (several machines)."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="ddp, fsdp2, zero3 or zero3_offload."),
    epochs: Optional[float] = typer.Option(None, help="Epochs over the data."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate."),
    global_batch: Optional[int] = typer.Option(None, help="Sequences per optimizer step, all GPUs together."),
    micro_batch: Optional[int] = typer.Option(None, help="Sequences per GPU per forward pass."),
    max_length: Optional[int] = typer.Option(None, help="Tokens per training sequence."),
    overlong: Optional[str] = typer.Option(None, help="Examples over max_length: drop, truncate or error."),
    packing: Optional[bool] = typer.Option(None, "--packing/--no-packing", help="Pack examples into max_length sequences."),
    lora: Optional[bool] = typer.Option(None, "--lora/--no-lora", help="Train LoRA adapters instead of all weights."),
    gpu_memory: Optional[float] = typer.Option(None, help="GB per GPU for the memory check (default: the GPU's own)."),
    push_to: Optional[str] = typer.Option(None, "--push-to", help="Hub model repo ORG/NAME for the trained model."),
    eval_benches: Optional[str] = typer.Option(None, "--eval", help="Benchmarks to score each saved checkpoint on after training, comma-separated (aime2024,math500); the curve goes to OUT/evals/."),
    eval_engine: str = typer.Option("vllm", help="Backend that serves each checkpoint for --eval."),
    eval_samples: Optional[int] = typer.Option(None, help="Samples per problem for --eval (default: each benchmark's)."),
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
    from ..sft.launch import first_process, launch_command, launched, needs_launch
    from ..sft.recipe import LoraConfig, load_sft_recipe, parse_data_flag

    mode = output_mode(quiet, as_json)
    overrides = {
        "model.name": model,
        "output_dir": out,
        "hardware.gpus": gpus,
        "hardware.nodes": nodes,
        "hardware.strategy": strategy,
        "hardware.gpu_memory_gb": gpu_memory,
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
    }
    if launched():  # under a launcher (ours, or `accelerate launch` typed by hand), its process count rules
        local = int(os.environ.get("LOCAL_WORLD_SIZE") or os.environ.get("WORLD_SIZE") or 1)
        overrides |= {"hardware.gpus": local, "hardware.nodes": int(os.environ.get("WORLD_SIZE") or local) // local}
    spec = load_sft_recipe(recipe, overrides)
    if lora is not None:
        spec.lora = (spec.lora or LoraConfig()) if lora else None
    main = first_process()
    _quiet_libraries(mode, main)

    from ..sft.plan import refuse_if_too_big
    from ..sft.prepare import prepare
    from ..sft.train import claim_output, finished, output_dir, train

    out_dir = output_dir(spec)
    benches = [b.strip() for b in (eval_benches or "").split(",") if b.strip()]
    if benches and spec.lora is not None:
        raise UserError("--eval: LoRA checkpoints hold adapters only; merge them into the model first, then "
                        "`rfactory eval` the merged folder")
    eval_args = [*(a for pair in eval_option for a in ("--option", pair)),
                 *(["-n", str(eval_samples)] if eval_samples else []),
                 *(["--max-tokens", str(eval_max_tokens)] if eval_max_tokens else [])]

    def scored() -> dict[str, Any]:
        """The checkpoints' scores, as a summary's `evals` entry (nothing without --eval)."""
        if not benches or not main or launched():
            return {}
        import gc

        import torch

        from ..checkpoint_evals import score_checkpoints

        gc.collect()  # the trainer's model is gone: give its GPU memory back before an engine asks for it
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        points = score_checkpoints(out_dir, benches, eval_engine, eval_args, quiet=mode != "rich")
        return {"evals": {"curve": str(out_dir / "evals" / "curve.json"),
                          **{f"{p.checkpoint} {p.benchmark}": f"{100 * p.avg_at_n:.1f} (n={p.n})" for p in points}}}

    if not dry_run:
        done = finished(out_dir, spec)
        if done is not None:
            if main:  # a stopped training resumes its evals too
                print_summary(mode, "train-sft (already finished)", done | scored())
            return
    if launched():
        from accelerate import PartialState

        with PartialState().main_process_first():  # one process tokenizes; the others read its cache
            prepared = prepare(spec)
    else:
        prepared = prepare(spec)
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
        claim_output(out_dir, spec)
    if needs_launch(spec):
        argv = sys.argv[sys.argv.index("train-sft") + 1:]
        code = subprocess.call(launch_command(spec, argv, node_rank, main_address, cuda))
        if code:
            raise UserError(f"training processes exited with status {code}; see their output above")
        if evals := scored():  # here, after every training process has exited and freed its GPU
            print_summary(mode, "train-sft evals", evals["evals"])
        return
    summary = train(prepared, mode)
    if main:
        print_summary(mode, "train-sft", summary | scored())
