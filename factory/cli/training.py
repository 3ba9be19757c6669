"""What `train-sft` and `train-rl` share on the command line: the hardware, LoRA, push and
checkpoint-eval options, the libraries' own output kept quiet, a launcher's process count, and
each saved checkpoint scored by `rfactory eval`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any, Optional

import typer

from ..errors import UserError
from ..progress import Mode, print_summary

GPUS = typer.Option(None, "--gpus", min=1, help="Processes on this machine (one per GPU).")
NODES = typer.Option(None, "--nodes", min=1, help="Machines in the job.")
NODE_RANK = typer.Option(0, "--node-rank", min=0, help="This machine's rank (0 on the first).")
MAIN_ADDRESS = typer.Option(None, "--main-address", help="HOST:PORT of the rank-0 machine (several machines).")
STRATEGY = typer.Option(None, "--strategy", help="ddp, fsdp2, zero3 or zero3_offload.")
LORA = typer.Option(None, "--lora/--no-lora", help="Train LoRA adapters instead of all weights.")
GPU_MEMORY = typer.Option(None, help="GB per GPU for the memory check (default: the GPU's own).")
PUSH_TO = typer.Option(None, "--push-to", help="Hub model repo ORG/NAME for the trained model.")
EVAL = typer.Option(None, "--eval", help="Benchmarks to score each saved checkpoint on after training, comma-separated (aime2024,math500); the curve goes to OUT/evals/.")
EVAL_ENGINE = typer.Option("vllm", help="Backend that serves each checkpoint for --eval.")
EVAL_SAMPLES = typer.Option(None, help="Samples per problem for --eval (default: each benchmark's).")
OUT = typer.Option(None, "--out", "-o", help="Checkpoints and final model (default models/<recipe name>).")


def hardware_overrides(gpus: Optional[int], nodes: Optional[int], strategy: Optional[str],
                       gpu_memory: Optional[float]) -> dict[str, Any]:
    """The flags' hardware; under a launcher (ours, or `accelerate launch` typed by hand), its
    process count rules."""
    overrides: dict[str, Any] = {"hardware.gpus": gpus, "hardware.nodes": nodes, "hardware.strategy": strategy,
                                 "hardware.gpu_memory_gb": gpu_memory}
    if "LOCAL_RANK" in os.environ:
        local = int(os.environ.get("LOCAL_WORLD_SIZE") or os.environ.get("WORLD_SIZE") or 1)
        overrides |= {"hardware.gpus": local, "hardware.nodes": int(os.environ.get("WORLD_SIZE") or local) // local}
    return overrides


def quiet_libraries(mode: Mode, main: bool) -> None:
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


def load_spec(loader: Callable[[str, dict[str, Any]], Any], recipe: str, overrides: dict[str, Any],
              lora: Optional[bool], mode: Mode) -> Any:
    """The recipe with the flags over it (`--lora/--no-lora` adds or removes its section), and the
    libraries quiet where they should be."""
    from ..training.config import LoraConfig
    from ..training.launch import first_process

    spec = loader(recipe, overrides)
    if lora is not None:
        spec.lora = (spec.lora or LoraConfig()) if lora else None
    quiet_libraries(mode, first_process())
    return spec


def reported_finished(spec: Any, kind: str, mode: Mode, extra: Callable[[], dict[str, Any]] = dict) -> bool:
    """Whether the output folder holds this training finished already; its summary is then shown
    again (with `extra`: a stopped training resumes its evals too). A folder made with other
    settings is refused."""
    from ..training.folder import finished
    from ..training.launch import first_process

    done = finished(spec.output_folder(), kind, spec.trajectory())
    if done is not None and first_process():
        print_summary(mode, f"train-{kind} (already finished)", done | extra())
    return done is not None


def first_process_first(prepare: Callable[[], Any]) -> Any:
    """`prepare()`, under a launcher in the first process first: the others read its caches (the
    tokenized data) instead of making them again."""
    from ..training.launch import launched

    if not launched():
        return prepare()
    from accelerate import PartialState

    with PartialState().main_process_first():
        return prepare()


def eval_benches(text: Optional[str], lora: bool) -> list[str]:
    benches = [b.strip() for b in (text or "").split(",") if b.strip()]
    if benches and lora:
        raise UserError("--eval: LoRA checkpoints hold adapters only; merge them into the model first, then "
                        "`rfactory eval` the merged folder")
    return benches


def scored_checkpoints(out: Path, benches: list[str], engine: str, args: list[str], mode: Mode) -> dict[str, Any]:
    """The checkpoints' scores, as a summary's `evals` entry (nothing without --eval, or in a
    process other than the first)."""
    from ..training.launch import first_process, launched

    if not benches or not first_process() or launched():
        return {}
    import gc

    import torch

    from ..checkpoint_evals import score_checkpoints

    gc.collect()  # the trainer's model is gone: give its GPU memory back before an engine asks for it
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    points = score_checkpoints(out, benches, engine, args, quiet=mode != "rich")
    return {"evals": {"curve": str(out / "evals" / "curve.json"),
                      **{f"{p.checkpoint} {p.benchmark}": f"{100 * p.avg_at_n:.1f} (n={p.n})" for p in points}}}


def run_launched(name: str, hardware: Any, node_rank: int, main_address: Optional[str], cuda: bool) -> None:
    """This same command again, under the launcher that runs the recipe's processes; returns once
    every training process has exited (and freed its GPU)."""
    import subprocess

    from ..training.launch import launch_command

    argv = sys.argv[sys.argv.index(name) + 1:]
    code = subprocess.call(launch_command(name, hardware, argv, node_rank, main_address, cuda))
    if code:
        raise UserError(f"training processes exited with status {code}; see their output above")
