"""`rfactory verify`: verdicts for every sample of a run, then the OpenThoughts dataset and stats."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..progress import Mode, Progress, print_summary
from ..runstore import Run
from ..verify import verify_run
from .options import JSON, QUIET, interruptible, output_mode


def verify_with_progress(run: Run, mode: Mode, workers: int | None = None) -> dict[str, Any]:
    progress = Progress(mode, "verify", run.record_count(), "pass")
    try:
        return verify_run(run, progress, workers)
    finally:
        progress.close()


def report(mode: Mode, stats: dict[str, Any]) -> None:
    print_summary(mode, "verify", stats)
    if mode == "rich":
        typer.echo(f"dataset: {stats['dataset']}  ({stats['kept']} samples kept, pass rate {stats['pass_rate']:.1%})")


@interruptible
def verify(
    run: Path = typer.Argument(..., help="Run folder made by `rfactory generate`."),
    workers: Optional[int] = typer.Option(None, help="Verifier processes (default: every core)."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Check every sample of RUN and write RUN/dataset (OpenThoughts layout) and RUN/stats.json.

    Example:

      rfactory verify runs/m1 --json
    """
    mode = output_mode(quiet, as_json)
    report(mode, verify_with_progress(Run.open(run), mode, workers))
