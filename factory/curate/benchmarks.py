"""Benchmarks to decontaminate against: ready definitions by name, files, or Hub datasets.

Only where each benchmark lives is shipped; its text is read from the Hub when a user names it,
so rfactory never redistributes benchmark problems.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..errors import UserError


class BenchmarkDef(BaseModel):
    name: str
    repo: str
    config: str | None = None
    split: str | None = "test"  # None: every split (a benchmark named by Hub id alone)
    column: str = "problem"
    data_files: str | None = None  # for repos whose loading script `datasets` no longer runs


BENCHMARKS: dict[str, BenchmarkDef] = {b.name: b for b in [
    BenchmarkDef(name="math500", repo="HuggingFaceH4/MATH-500"),
    BenchmarkDef(name="aime2024", repo="HuggingFaceH4/aime_2024", split="train"),
    BenchmarkDef(name="aime2025", repo="MathArena/aime_2025", split="train"),
    BenchmarkDef(name="amc", repo="AI-MO/aimo-validation-amc", split="train"),
    BenchmarkDef(name="gpqa-diamond", repo="Idavidrein/gpqa", config="gpqa_diamond", split="train", column="Question"),
    BenchmarkDef(name="livecodebench", repo="livecodebench/code_generation_lite", column="question_content",
                 data_files="test*.jsonl", split="train"),
]}

# What a problem column is called in the benchmarks people pass as files or Hub ids.
TEXT_COLUMNS = ("problem", "question", "Question", "question_content", "prompt", "input")


def _hub_rows(spec: BenchmarkDef) -> Iterator[dict[str, Any]]:
    import datasets

    kwargs: dict[str, Any] = {"split": spec.split, "streaming": True}
    if spec.data_files:
        kwargs["data_files"] = spec.data_files
    try:
        loaded = datasets.load_dataset(spec.repo, spec.config, **kwargs)
        for split in [loaded] if spec.split else loaded.values():
            yield from split
    except Exception as e:  # missing, gated or unreachable: datasets raises many types
        raise UserError(f"benchmark {spec.name} ({spec.repo}): cannot load {f'split {spec.split!r}' if spec.split else 'it'} "
                        f"({type(e).__name__}: {e})".splitlines()[0]) from None


def _resolve(arg: str) -> tuple[BenchmarkDef, bool]:
    """(definition, whether it reads a local file). `ARG:COLUMN` names the text column."""
    base, column = arg, ""
    head, sep, tail = arg.rpartition(":")
    if sep and head not in ("", "hf") and "/" not in tail and not Path(arg).exists():
        base, column = head, tail
    base = base.removeprefix("hf:")
    if base in BENCHMARKS and not column:
        return BENCHMARKS[base], False
    if Path(base).exists():
        return BenchmarkDef(name=Path(base).name, repo=base, column=column, split="train"), True
    if base.count("/") == 1 and not base.startswith((".", "/")):
        return BenchmarkDef(name=base, repo=base, column=column, split=None), False
    raise UserError(f"--against {arg}: not a file, a Hub dataset (org/name) or a known benchmark "
                    f"({', '.join(BENCHMARKS)})")


def load_benchmark(arg: str) -> tuple[BenchmarkDef, list[str]]:
    """The definition (column filled in) and the benchmark's problem texts, in row order."""
    from ..problems import raw_rows
    from ..recipe import ProblemsConfig

    spec, local = _resolve(arg)
    rows = raw_rows(ProblemsConfig(source=spec.repo), whole=True)[0] if local else _hub_rows(spec)
    texts: list[str] = []
    for n, row in enumerate(rows):
        column = spec.column or next((c for c in TEXT_COLUMNS if c in row), None)
        if column is None:
            raise UserError(f"{spec.repo}: row {n}: no problem column (looked for {', '.join(TEXT_COLUMNS)}); "
                            f"name it: --against {arg}:COLUMN")
        spec.column = column
        text = row.get(column)
        if not isinstance(text, str):
            raise UserError(f"{spec.repo}: row {n}: field {column!r}: missing or not text")
        texts.append(text)
    if not texts:
        raise UserError(f"{spec.repo}: benchmark has no rows")
    return spec, texts
