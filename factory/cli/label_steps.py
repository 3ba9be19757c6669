"""`rfactory label-steps`: step-level labels for a verified run's traces, from rollouts."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from ..progress import Mode, print_summary
from .options import JSON, QUIET, engine_options, interruptible, output_mode


async def _label(req, found, recipe, mode: Mode):  # noqa: ANN001, ANN202
    from ..prm.label import label_all
    from ..session import Session
    from ..teachers import build_teacher

    session = Session(build_teacher(req.completer, req.options), mode, label="label-steps")
    judge = Session(build_teacher(req.judge, req.judge_options), mode, label="label-steps") if req.judge else None
    try:
        return await label_all(req, found, recipe, session, judge)
    finally:
        await session.aclose()
        if judge is not None:
            await judge.aclose()


@interruptible
def label_steps(
    run: Path = typer.Argument(..., help="A verified run folder: its traces, references and verdicts."),
    completer: str = typer.Option(..., "--completer", "-c", help="The model that continues step prefixes: backend:model, any teacher."),
    out: Path = typer.Option(..., "--out", "-o", help="Labelling folder: rollouts/ (a run), dataset/ (the stepwise data), label-steps.json."),
    rollouts: int = typer.Option(8, min=1, help="Continuations per step prefix (Math-Shepherd: 8)."),
    search: str = typer.Option("binary", help="binary: search for the first wrong step (about N·log2(M) rollouts); linear: every prefix (N·(M-1))."),
    chunk: int = typer.Option(2, min=1, help="Binary search: rollouts per probed prefix per round; a prefix stops at its first success."),
    split: str = typer.Option("blank", help="How to cut solutions into steps: blank (blank lines), marker ('Step k:') or regex (--pattern)."),
    pattern: Optional[str] = typer.Option(None, help="With --split regex: where a step starts."),
    max_steps: int = typer.Option(40, min=1, help="Leave out solutions cut into more steps."),
    with_thought: bool = typer.Option(False, "--with-thought", help="Label the thought's steps too, before the solution's."),
    mixed_only: bool = typer.Option(False, "--mixed-only", help="Only problems whose samples are neither all right nor all wrong (OmegaPRM)."),
    max_traces: Optional[int] = typer.Option(None, min=1, help="Label at most this many traces."),
    temperature: float = typer.Option(0.7, min=0.0, help="Rollout sampling temperature."),
    max_tokens: int = typer.Option(2048, min=1, help="Max new tokens per rollout."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint of the completer (openai)."),
    option: list[str] = typer.Option([], "--option", help="Completer engine option KEY=VALUE. Repeatable."),
    concurrency: Optional[int] = typer.Option(None, help="Requests in flight."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0.0, help="USD the rollouts may cost, every invocation together; rerun with a larger cap to continue."),
    max_tokens_total: Optional[int] = typer.Option(None, "--max-tokens-total", min=1, help="Prompt + completion tokens the rollouts may use, the same way."),
    judge: Optional[str] = typer.Option(None, "--judge", help="A teacher that reads each labelled trace and names its first wrong step; where it disagrees with the rollouts the trace is flagged (or dropped)."),
    judge_base_url: Optional[str] = typer.Option(None, help="The judge's endpoint (default: the completer's, for the same backend)."),
    consensus: str = typer.Option("flag", help="With --judge: flag disagreements in metadata, or drop those traces."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Label each step of a run's traces by rolling out continuations from its prefixes and
    verifying them; rerun the same command to resume.

    Examples:

      rfactory label-steps runs/m1 --completer vllm:/models/Qwen2.5-Math-7B-Instruct --rollouts 8 --out prm/m1

      rfactory label-steps runs/m1 --completer openai:deepseek-chat --search linear --out prm/m1

      rfactory push prm/m1 --repo my-org/m1-steps
    """
    from ..prm.export import summary, write
    from ..prm.label import BudgetStop, LabelRequest, kept, traces
    from ..stepwise import StepRule

    mode = output_mode(quiet, as_json)
    if search not in ("binary", "linear"):
        raise UserError(f"--search {search}: expected binary or linear")
    if consensus not in ("flag", "drop"):
        raise UserError(f"--consensus {consensus}: expected flag or drop")
    if split not in ("blank", "marker", "regex") or (split == "regex") != bool(pattern):
        raise UserError(f"--split {split}: expected blank, marker, or regex with --pattern")
    options = engine_options(option) | ({"base_url": base_url} if base_url else {})
    same_backend = judge is not None and judge.partition(":")[0] == completer.partition(":")[0]
    judge_options = (options if same_backend else {}) | ({"base_url": judge_base_url} if judge_base_url else {})
    req = LabelRequest(run=run, out=out, completer=completer, options=options, rollouts=rollouts, chunk=chunk,
                       search=search, rule=StepRule(split=split, pattern=pattern, max_steps=max_steps),  # type: ignore[arg-type]
                       with_thought=with_thought, mixed_only=mixed_only, max_traces=max_traces,
                       temperature=temperature, max_tokens=max_tokens, concurrency=concurrency, judge=judge,
                       max_cost_usd=max_cost, max_tokens_total=max_tokens_total, judge_options=judge_options,
                       consensus=consensus)  # type: ignore[arg-type]
    skipped: Counter[str] = Counter()
    found, recipe = traces(req, skipped)
    if not found:
        raise UserError(f"{run}: no trace to label ({', '.join(f'{k} {n}' for k, n in skipped.items()) or 'no samples'})")
    out.mkdir(parents=True, exist_ok=True)
    try:
        done = asyncio.run(_label(req, found, recipe, mode))
    except BudgetStop as stop:
        typer.echo(f"{stop}; the rollouts so far are kept: rerun with a larger cap to continue", err=True)
        raise typer.Exit(3) from None
    dropped: Counter[str] = Counter()
    labelled = list(kept(done, req.consensus, dropped))
    stats = summary(labelled, req, skipped, dropped)
    write(labelled, req, stats)
    print_summary(mode, "label-steps", stats)
