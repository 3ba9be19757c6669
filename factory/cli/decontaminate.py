"""`rfactory decontaminate`: take problems that repeat a benchmark out of a run or a problem file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from ..errors import UserError
from ..progress import Mode, Progress, print_summary
from .options import JSON, QUIET, interruptible, output_mode

if TYPE_CHECKING:
    from ..curate.contamination import BenchmarkIndex, ContaminationReport


def _run_problems(root: Path) -> Iterator[tuple[str, str]]:
    from ..runstore import Run

    seen: set[str] = set()
    for batch in Run.open(root).iter_sample_batches(["problem_id", "problem"]):
        for pid, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
            if pid not in seen:
                seen.add(pid)
                yield pid, text


def _decontaminate_run(root: Path, index: BenchmarkIndex, report: ContaminationReport, progress: Progress) -> dict[str, Any]:
    from ..curate.contamination import Flag, write_contamination
    from ..runstore import Run
    from ..verify import rebuild_dataset

    problems = 0
    for pid, text in _run_problems(root):
        problems += 1
        match = index.match(text)
        progress.advance(match is None)
        if match is not None:
            report.flagged.append(Flag(problem_id=pid, benchmark=match.benchmark, benchmark_row=match.row,
                                       method=match.method, score=match.score, problem=text[:500],
                                       benchmark_problem=match.text[:500]))
    write_contamination(root, report)
    summary: dict[str, Any] = {"problems": problems, "flagged": len(report.flagged),
                               "by_benchmark": dict(Counter(f.benchmark for f in report.flagged)),
                               "report": str(root / "contamination.json")}
    if (root / "stats.json").is_file():
        stats = rebuild_dataset(Run.open(root))
        summary |= {"kept": stats["kept"], "dataset": stats["dataset"],
                    "rows_removed": sum(c["rows"] for c in stats["curation"]["contamination"].values())}
    else:
        summary["next"] = f"rfactory verify {root}"
    return summary


def _decontaminate_file(source: str, out: Path, column: str, index: BenchmarkIndex, progress: Progress) -> dict[str, Any]:
    from ..curate.files import json_line, kept_and_dropped, rows_with_text

    report = out.with_suffix(".contamination.jsonl")
    counts: Counter[str] = Counter()
    rows = 0
    with kept_and_dropped(out, report) as (fo, fr):
        for n, (row, text) in enumerate(rows_with_text(source, column)):
            rows += 1
            match = index.match(text)
            progress.advance(match is None)
            if match is None:
                fo.write(json_line(row))
            else:
                counts[match.benchmark] += 1
                fr.write(json_line({"row": n, "benchmark": match.benchmark, "benchmark_row": match.row, "method": match.method,
                                    "score": match.score, "benchmark_problem": match.text[:500]}))
    return {"rows": rows, "kept": rows - sum(counts.values()), "flagged": sum(counts.values()),
            "by_benchmark": dict(counts), "out": str(out), "report": str(report)}


@interruptible
def decontaminate(
    source: str = typer.Argument(..., help="Run folder, or a problem file (.jsonl/.json/.parquet/.csv) or hf:org/name with --out."),
    against: list[str] = typer.Option(..., "--against", "-a", help="Benchmark: a name (math500, aime2024, aime2025, amc, gpqa-diamond, livecodebench), a file, or a Hub dataset org/name; add :COLUMN to name its text column. Repeatable."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="For a problem file: rows matching no benchmark, unchanged, as JSONL (report: OUT with .contamination.jsonl)."),
    column: str = typer.Option("problem", help="Column holding the problem text (problem files)."),
    min_overlap: float = typer.Option(0.5, min=0.01, max=1.0, help="Share of either text's word 8-grams that must be shared."),
    fuzzy: float = typer.Option(95.0, min=50.0, max=100.0, help="Fuzzy ratio (0-100) at or above which a problem matches."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Find problems that repeat a benchmark problem (word 8-grams, then a fuzzy ratio) and take them out.

    For a run, the matches go to RUN/contamination.json (replacing earlier ones) and, if the run
    is verified, the dataset is rebuilt without them from the verdicts already made; the counts
    per benchmark land in stats.json and the card. For a problem file, the clean rows go to --out.

    Example:

      rfactory decontaminate runs/m1 --against math500 --against aime2024 --against my_eval.jsonl:question
    """
    from ..benchmarks import load_benchmark
    from ..curate.contamination import BenchmarkIndex, BenchmarkInfo, ContaminationReport

    mode: Mode = output_mode(quiet, as_json)
    if mode != "rich":  # the Hub client's retry warnings and download bars, for benchmarks named by Hub id
        import datasets
        from huggingface_hub.utils import logging

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
        logging.set_verbosity_error()
    is_run = (Path(source) / "run.json").is_file()
    if not is_run and out is None:
        raise UserError(f"{source}: not a run folder; give --out for the clean rows of a problem file")
    loaded = [load_benchmark(arg) for arg in against]
    names = [spec.name for spec, _ in loaded]
    if len(set(names)) < len(names):
        raise UserError(f"--against: benchmark {next(n for n in names if names.count(n) > 1)!r} given twice")
    index = BenchmarkIndex(((spec.name, texts) for spec, texts in loaded), min_overlap=min_overlap, fuzzy=fuzzy)
    progress = Progress(mode, "decontaminate", None, "clean")
    try:
        if is_run:
            report = ContaminationReport(
                benchmarks=[BenchmarkInfo(name=s.name, source=s.repo, column=s.column, rows=len(t)) for s, t in loaded],
                min_overlap=min_overlap, fuzzy=fuzzy)
            summary = _decontaminate_run(Path(source), index, report, progress)
        else:
            assert out is not None
            summary = _decontaminate_file(source, out, column, index, progress)
    finally:
        progress.close()
    print_summary(mode, "decontaminate", summary)
