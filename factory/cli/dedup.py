"""`rfactory dedup`: drop repeated and near-repeated problems before paying a teacher for them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..progress import Progress, print_summary
from .options import JSON, QUIET, interruptible, output_mode


@interruptible
def dedup(
    source: str = typer.Argument(..., help="Problem file (.jsonl/.json/.parquet/.csv) or hf:org/name."),
    out: Path = typer.Option(..., "--out", "-o", help="Kept rows, unchanged, as JSONL."),
    column: str = typer.Option("problem", help="Column holding the problem text."),
    threshold: float = typer.Option(0.8, min=0.1, max=1.0, help="Estimated Jaccard of character 5-grams above which two problems (with the same numbers) are near-duplicates."),
    exact_only: bool = typer.Option(False, "--exact-only", help="Only drop problems equal after normalization."),
    report: Optional[Path] = typer.Option(None, help="Decisions for dropped rows (default: OUT with .dedup.jsonl)."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Keep the first of every group of duplicate problems; record what each dropped one matched.

    Example:

      rfactory dedup problems.jsonl --out clean.jsonl
    """
    from ..curate.dedup import dedup as decisions
    from ..curate.files import json_line, kept_and_dropped, rows_with_text

    mode = output_mode(quiet, as_json)
    report = report or out.with_suffix(".dedup.jsonl")
    current: list[dict] = []

    def texts():  # noqa: ANN202
        for row, text in rows_with_text(source, column):
            current[:] = [row]  # dedup decides each row as it arrives: one in flight
            yield text

    counts = {"rows": 0, "kept": 0, "exact": 0, "near": 0}
    progress = Progress(mode, "dedup", None, "kept")
    try:
        with kept_and_dropped(out, report) as (fo, fr):
            for d in decisions(texts(), threshold=threshold, near=not exact_only):
                counts["rows"] += 1
                progress.advance(d.kept)
                if d.kept:
                    counts["kept"] += 1
                    fo.write(json_line(current[0]))
                else:
                    counts[d.reason] += 1
                    fr.write(json_line({"row": d.row, "reason": d.reason, "duplicate_of": d.duplicate_of,
                                        "similarity": d.similarity}))
    finally:
        progress.close()
    print_summary(mode, "dedup", {**counts, "out": str(out), "report": str(report)})
