"""`rfactory dedup`: drop repeated and near-repeated problems before paying a teacher for them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from ..progress import Progress, print_summary
from .options import JSON, QUIET, interruptible, output_mode


@interruptible
def dedup(
    source: str = typer.Argument(..., help="Problem file (.jsonl/.json/.parquet/.csv) or hf:org/name."),
    out: Path = typer.Option(..., "--out", "-o", help="Kept rows, unchanged, as JSONL."),
    column: str = typer.Option("problem", help="Column holding the problem text."),
    threshold: float = typer.Option(0.8, min=0.1, max=1.0, help="Estimated Jaccard of word 3-grams above which two problems are near-duplicates."),
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
    from ..problems import raw_rows
    from ..recipe import ProblemsConfig

    mode = output_mode(quiet, as_json)
    rows, where, _ = raw_rows(ProblemsConfig(source=source), whole=True)
    report = report or out.with_suffix(".dedup.jsonl")
    pending: list[dict] = []

    def texts():  # noqa: ANN202
        for n, row in enumerate(rows):
            text = row.get(column)
            if not isinstance(text, str):
                raise UserError(f"{where}: row {n}: field {column!r}: missing or not text")
            pending.append(row)
            yield text

    counts = {"rows": 0, "kept": 0, "exact": 0, "near": 0}
    progress = Progress(mode, "dedup", None, "kept")
    tmp_out, tmp_report = out.with_name(f".{out.name}.tmp"), report.with_name(f".{report.name}.tmp")
    try:
        with tmp_out.open("w", encoding="utf-8") as fo, tmp_report.open("w", encoding="utf-8") as fr:
            for d in decisions(texts(), threshold=threshold, near=not exact_only):
                row = pending.pop(0)  # one row in flight: dedup decides each as it arrives
                counts["rows"] += 1
                progress.advance(d.kept)
                if d.kept:
                    counts["kept"] += 1
                    fo.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                else:
                    counts[d.reason] += 1
                    fr.write(json.dumps({"row": d.row, "reason": d.reason, "duplicate_of": d.duplicate_of,
                                         "similarity": d.similarity}) + "\n")
        os.replace(tmp_out, out)
        os.replace(tmp_report, report)
    finally:
        progress.close()
        tmp_out.unlink(missing_ok=True)
        tmp_report.unlink(missing_ok=True)
    print_summary(mode, "dedup", {**counts, "out": str(out), "report": str(report)})
