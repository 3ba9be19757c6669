"""`rfactory eval`: a model on benchmarks, scored with honest statistics; `rfactory eval compare`."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from ..benchmarks import EVAL_BENCHMARKS
from ..errors import UserError
from .options import JSON, QUIET, engine_options, interruptible, output_mode

STRATEGIES = ("majority", "verifier", "tests", "distinguish")
eval_app = typer.Typer(add_completion=False)  # the help is the callback's docstring, examples included


class Executor(str, Enum):
    local = "local"
    ray = "ray"


def _strategy(text: str) -> str:
    if text in STRATEGIES or (text.startswith(("prm:", "prm-prod:")) and text.partition(":")[2]):
        return text
    raise UserError(f"--select {text}: expected {', '.join(STRATEGIES)}, or prm:PATH / prm-prod:PATH")


def _dates(text: str | None) -> tuple[str | None, str | None] | None:
    if text is None:
        return None
    start, sep, end = text.partition("..")
    if not sep or not (start or end):
        raise UserError(f"--dates {text}: expected START..END (YYYY-MM or YYYY-MM-DD; either side may be empty)")
    return start or None, end or None


@eval_app.callback(invoke_without_command=True)
@interruptible
def evaluate(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="backend:model, e.g. vllm:models/sft or openai:deepseek-reasoner."),
    bench: list[str] = typer.Option([], "--bench", "-b", help=f"A ready benchmark ({', '.join(EVAL_BENCHMARKS)}), a file or a Hub dataset; ARG:COLUMN names the problem column. Repeatable."),
    answer_column: Optional[str] = typer.Option(None, help="The reference answer's column, for a file or Hub dataset."),
    samples: Optional[int] = typer.Option(None, "--samples", "-n", help="Samples per problem (default: the benchmark's, as the anchors ran it)."),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature (default: the benchmark's, 0.6)."),
    top_p: Optional[float] = typer.Option(None, help="Nucleus sampling top_p."),
    max_tokens: Optional[int] = typer.Option(None, help="Max new tokens per sample (default: the benchmark's, 32768)."),
    seed: Optional[int] = typer.Option(None, help="Base seed; each (problem, sample) derives its own."),
    select: list[str] = typer.Option([], "--select", help="Best-of-n strategy to report at every n: majority, verifier (the oracle bound), tests (code: chosen by public tests), distinguish (code, S*: ties on public tests broken on inputs the model writes, the model judging the outputs; asks the model more), or prm:PATH (prm-prod:PATH): the sample a process reward model scores highest by its lowest (product of) step scores. Repeatable."),
    release: Optional[str] = typer.Option(None, help="LiveCodeBench release tag (default release_v5)."),
    dates: Optional[str] = typer.Option(None, help="LiveCodeBench contest dates kept, START..END (default 2024-08..2025-01)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Eval folder (default evals/<model>)."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint (openai)."),
    tensor_parallel: Optional[int] = typer.Option(None, "--tensor-parallel-size", "--tp", help="GPUs per replica (vllm)."),
    max_model_len: Optional[int] = typer.Option(None, help="Context length (vllm)."),
    dtype: Optional[str] = typer.Option(None, help="auto, bfloat16, float16 or float32 (vllm)."),
    concurrency: Optional[int] = typer.Option(None, help="Requests in flight."),
    option: list[str] = typer.Option([], "--option", help="Any other engine option, KEY=VALUE (e.g. enforce_eager=true, gpu_memory_utilization=0.85). Repeatable."),
    executor: Executor = typer.Option(Executor.local, help="local: this process; ray: model workers on a Ray cluster."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (--executor ray; default: start or join a local one)."),
    workers: int = typer.Option(2, min=1, help="Ray workers, each with its own engine (--executor ray)."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Generate, verify and score; rerun the same command to resume an interrupted eval.

    Examples:

      rfactory eval --model vllm:models/sky-t1-32b --bench aime2024 --bench math500 -n 16

      rfactory eval --model openai:deepseek-reasoner --bench gpqa-diamond -n 8 --out evals/r1

      rfactory eval --model vllm:models/student --bench livecodebench --release release_v6 --dates 2025-01.. --select tests

      rfactory eval --model vllm:models/student --bench livecodebench --select tests --select distinguish

      rfactory eval compare evals/base evals/sft-round1
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..eval.evaluate import EvalRequest, evaluate as run_eval
    from ..eval.report import print_report
    from ..eval.run import folder_name
    from ..progress import print_summary

    mode = output_mode(quiet, as_json)
    if not model:
        raise UserError("eval: --model is required, e.g. --model vllm:models/sft or --model llamacpp:smollm2")
    if not bench:
        raise UserError(f"eval: name at least one --bench ({', '.join(EVAL_BENCHMARKS)}, a file or a Hub dataset)")
    options = engine_options(option) | {k: v for k, v in {
        "base_url": base_url, "tensor_parallel_size": tensor_parallel, "max_model_len": max_model_len,
        "dtype": dtype}.items() if v is not None}
    root = out or Path("evals") / folder_name(model)
    res = run_eval(EvalRequest(
        model=model, benches=bench, out=root, options=options, samples=samples, temperature=temperature, top_p=top_p,
        max_tokens=max_tokens, seed=seed, concurrency=concurrency, answer_column=answer_column, release=release,
        dates=_dates(dates), select=[_strategy(s) for s in select],
        ray=(address, workers) if executor is Executor.ray else None), mode)
    if mode == "json":
        print_summary(mode, "", json.loads(res.model_dump_json()))
    elif mode == "rich":
        print_report(res)
        typer.echo(f"results: {root / 'results.json'}  report: {root / 'report.md'}")


@eval_app.command("compare")
def compare(
    a: Path = typer.Argument(..., help="An eval folder (or its results.json)."),
    b: Path = typer.Argument(..., help="The eval to compare it with."),
    as_json: bool = JSON,
) -> None:
    """A minus B on every benchmark both scored, paired problem by problem, with its 95% interval."""
    from rich.console import Console

    from ..eval.evaluate import read_results
    from ..eval.report import comparison_table
    from ..eval.results import compare as paired

    rows = paired(read_results(a), read_results(b))
    if not rows:
        raise UserError(f"{a} and {b} share no benchmark")
    if as_json:
        print(json.dumps([json.loads(r.model_dump_json()) for r in rows]))
        return
    Console().print(comparison_table(rows, str(a), str(b)))
    for r in rows:
        if not r.same_problems:
            typer.echo(f"warning: {r.benchmark}: the two scored different problem sets; only shared problems are paired")


@eval_app.command("push")
def push(
    folder: Path = typer.Argument(..., help="An eval folder (written by `rfactory eval --out`)."),
    repo: str = typer.Option(..., "--repo", help="The model's Hub repo, ORG/NAME."),
    create_pr: bool = typer.Option(False, "--create-pr", help="Open a pull request instead of committing to main."),
    as_json: bool = JSON,
) -> None:
    """Put the eval's report into the model's card, in one commit: a section of README.md (replaced
    by the next push, the rest of the card untouched) and `evals/` with results.json and the plots."""
    from ..eval.evaluate import read_results
    from ..eval.report import markdown
    from ..publish import publish_card_section

    res = read_results(folder)
    plots = sorted(p.name for p in folder.glob("scaling-*.png"))
    files = {f"evals/{name}": folder / name for name in ("results.json", "report.md", *plots)}
    done = publish_card_section(repo, markdown(res, plots, depth=2, images="evals/"), files, create_pr=create_pr,
                                message=f"rfactory eval: {', '.join(r.benchmark for r in res.benchmarks)}")
    summary = {"repo": repo, "commit": done.commit, "files": done.added, "pull_request": done.pull_request}
    if as_json:
        print(json.dumps(summary))
    else:
        typer.echo(f"eval report of {res.model.spec} on {done.pull_request or done.url} (commit {done.commit[:12]})")
