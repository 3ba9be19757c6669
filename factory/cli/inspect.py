"""Small commands to look at recipes and runs: `recipes`, `status`, `show`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ..batch import describe as describe_batches
from ..progress import print_summary
from ..recipe import builtin_recipe_names, load_recipe
from ..runstore import Run
from .options import JSON


def recipes() -> None:
    """List the built-in recipes: generation, fine-tuning (`train-sft`) and RL (`train-rl`).

    Example:

      rfactory recipes
    """
    from ..rl.recipe import RLRecipe, load_rl_recipe
    from ..sft.recipe import SFTRecipe, load_sft_recipe

    table = Table("recipe", "domain", "problems", "teacher", "samples")
    for name in builtin_recipe_names():
        r = load_recipe(name)
        table.add_row(name, r.domain, r.problems.source, r.teacher.spec, str(r.sampling.samples))
    Console().print(table)
    sft = Table("train-sft recipe", "model", "lr", "epochs", "global batch", "max length", "GPUs", "strategy")
    for name in builtin_recipe_names("sft"):
        # Recipes name no data: the user brings it with --data.
        s: SFTRecipe = load_sft_recipe(name, {"data": [{"source": "-"}]})
        sft.add_row(name, s.model.name, f"{s.train.learning_rate:g}", f"{s.train.epochs:g}", str(s.train.global_batch),
                    f"{s.train.max_length:,}", f"{s.hardware.nodes}×{s.hardware.gpus}", s.hardware.strategy)
    Console().print(sft)
    rl = Table("train-rl recipe", "model", "rewards", "lr", "prompts × group", "max completion", "GPUs", "strategy")
    for name in builtin_recipe_names("rl"):
        r: RLRecipe = load_rl_recipe(name, {"data": [{"source": "-"}]})
        rl.add_row(name, r.model.name, ", ".join(x.name for x in r.rewards), f"{r.train.learning_rate:g}",
                   f"{r.train.prompts_per_step} × {r.train.num_generations}", f"{r.train.max_completion_length:,}",
                   f"{r.hardware.nodes}×{r.hardware.gpus}", r.hardware.strategy)
    Console().print(rl)


def _run_counts(run: Run) -> dict[str, object]:
    statuses: Counter[str] = Counter()
    for row in run.iter_latest_samples(["status", "error_reason"]):
        statuses[row["status"] if row["status"] == "ok" else f"failed: {row['error_reason']}"] += 1
    return dict(statuses)


def status(run: Path = typer.Argument(..., help="Run folder."), as_json: bool = JSON) -> None:
    """Show what a run holds: its recipe and teacher, samples and failures, and the last verify stats.

    Example:

      rfactory status runs/m1
    """
    opened = Run.open(run)
    config = opened.config()
    stats_path = run / "stats.json"
    spent = opened.spent()
    report = {
        "run": str(run),
        "recipe": config["recipe"]["name"],
        "teacher": config["recipe"]["teacher"]["spec"],
        "samples_per_problem": config["recipe"]["sampling"]["samples"],
        "parts": len(opened.part_paths()),
        "pairs": _run_counts(opened),
        "spent_usd": round(spent.usd, 6) if spent.priced else None,
        "batches": describe_batches(run),
        "verify": json.loads(stats_path.read_text()) if stats_path.exists() else None,
    }
    if as_json:
        typer.echo(json.dumps(report, sort_keys=True))
        return
    shown = dict(report)
    value = report["verify"]
    if value:
        cost = value.get("cost")
        spend = (f"; cost ${cost['total_usd']:,.4f}" + (f", ${cost['per_kept_trace_usd']:,.6f} per kept trace"
                 if cost["per_kept_trace_usd"] else "") + (f", ${cost['per_problem_solved_usd']:,.6f} per problem "
                 "solved" if cost["per_problem_solved_usd"] else "")) if cost else ""
        shown["verify"] = f"pass rate {value['pass_rate']:.1%}, {value['kept']} kept in {value['dataset']}{spend}"
    else:
        shown["verify"] = "not verified yet"
    print_summary("rich", f"run {run}", shown)


def show(
    run: Path = typer.Argument(..., help="Run folder."),
    n: int = typer.Option(3, "-n", help="How many samples."),
    only: str = typer.Option("all", help="all | passed | failed (failed needs a verified run)."),
) -> None:
    """Print a few samples of a run with their verdicts.

    Example:

      rfactory show runs/m1 -n 2 --only failed
    """
    opened = Run.open(run)
    verdicts: dict[tuple[str, int], dict] = {}
    for path in sorted((run / "verdicts").glob("part-*.parquet")):
        for v in pq.read_table(path).to_pylist():
            verdicts[(v["problem_id"], v["sample_index"])] = v
    console = Console()
    shown = 0
    for row in opened.iter_latest_samples():
        v = verdicts.get((row["problem_id"], row["sample_index"]))
        passed = bool(v and v["passed"])
        if (only == "passed" and not passed) or (only == "failed" and (v is None or passed)):
            continue
        verdict = f"{v['status']}: {v['reason']}" if v else "not verified"
        # Model output is full of [brackets]: escape it so rich prints it instead of parsing it.
        body = escape(row["content"] or "") if row["status"] == "ok" else f"[red]{escape(row['error_reason'])}[/]: {escape(row['error_detail'] or '')}"
        console.print(Panel(
            f"[bold]problem[/] {escape(row['problem'])}\n[bold]reference[/] {escape(str(row['reference_answer']))}\n"
            f"[bold]verdict[/] {escape(verdict)}\n\n{body}",
            title=escape(f"{row['problem_id']} #{row['sample_index']}"),
        ))
        shown += 1
        if shown >= n:
            break
