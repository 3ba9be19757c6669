"""`rfactory verify`: verdicts for every sample of a run, then the OpenThoughts dataset and stats."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import UserError
from ..progress import Mode, Progress, print_summary
from ..runstore import Run
from .options import JSON, QUIET, interruptible, output_mode


def verify_with_progress(run: Run, mode: Mode, workers: int | None = None, band: tuple[float, float] | None = None,
                         min_agreement: float | None = None) -> dict[str, Any]:
    from ..verify import verify_run  # the verifiers (sympy, the sandbox) load only when a run is verified

    progress = Progress(mode, "verify", run.record_count(), "pass")
    try:
        return verify_run(run, progress, workers, band, min_agreement)
    finally:
        progress.close()


def _band(text: str | None) -> tuple[float, float] | None:
    from ..curate.band import parse_band

    if text is None:
        return None
    band = parse_band(text)
    if not band.closed:
        raise UserError(f"--keep-pass-rate {text}: the band {band.describe()} leaves its ends out; verify keeps a "
                        "closed band, LO:HI")
    return band.lo, band.hi


def report(mode: Mode, stats: dict[str, Any]) -> None:
    print_summary(mode, "verify", stats)
    if mode == "rich":
        typer.echo(f"dataset: {stats['dataset']}  ({stats['kept']} samples kept, pass rate {stats['pass_rate']:.1%})")
        c = stats["curation"]
        left_out = [f"{c['rows_without_thought']} with an empty thought section" if c["rows_without_thought"] else "",
                    f"{c['rows_outside_band']} outside pass-rate band {c['pass_rate_band'][0]:g}:{c['pass_rate_band'][1]:g}"
                    if c["pass_rate_band"] else "",
                    *(f"{n['rows']} from {n['problems']} problems matching {b}" for b, n in c["contamination"].items())]
        if any(left_out):
            typer.echo("left out: " + "; ".join(x for x in left_out if x))
        if c["label"] == "majority":
            typer.echo(f"majority labels: {c['problems_self_labelled']} problems labelled, "
                       f"{c['problems_without_consensus']} without consensus, {c['rows_self_labelled']} rows kept")


@interruptible
def verify(
    run: Path = typer.Argument(..., help="Run folder made by `rfactory generate`."),
    workers: Optional[int] = typer.Option(None, help="Verifier processes (default: every core)."),
    keep_pass_rate: Optional[str] = typer.Option(None, "--keep-pass-rate", metavar="LO:HI", help="Keep only problems whose share of generated samples that pass is within LO..HI (both kept), e.g. 0.1:0.9, or prime (0.2:0.8)."),
    label: str = typer.Option("reference", help="reference: problems without a reference answer keep no rows; majority: their samples' majority answer becomes the label (rows marked answer_source=majority)."),
    min_agreement: float = typer.Option(0.5, min=0.0, max=1.0, help="With --label majority: the share of a problem's generated samples the top answer needs."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Check every sample of RUN and write RUN/dataset (OpenThoughts layout) and RUN/stats.json.

    Example:

      rfactory verify runs/m1 --json

      rfactory verify runs/m1 --keep-pass-rate 0.1:0.9 --label majority --min-agreement 0.6
    """
    mode = output_mode(quiet, as_json)
    if label not in ("reference", "majority"):
        raise UserError(f"--label {label}: expected reference or majority")
    band = _band(keep_pass_rate)
    report(mode, verify_with_progress(Run.open(run), mode, workers, band, min_agreement if label == "majority" else None))
