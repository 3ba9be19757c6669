"""`rfactory verify`: verdicts for every sample of a run, then the OpenThoughts dataset and stats."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..progress import Progress, print_summary
from ..runstore import Run
from ..verify import verify_run
from .options import JSON, QUIET, interruptible, output_mode


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
    opened = Run.open(run)
    progress = Progress(mode, "verify", None, "pass")
    try:
        stats = verify_run(opened, progress, workers)
    finally:
        progress.close()
    print_summary(mode, "verify", stats)
    if mode == "rich":
        typer.echo(f"dataset: {stats['dataset']}  ({stats['kept']} samples kept, pass rate {stats['pass_rate']:.1%})")
