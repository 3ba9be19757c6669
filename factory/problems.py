"""Problems: streamed from JSONL, JSON, Parquet, CSV, a `datasets` Hub id or a built-in set.

Every reader is a generator of raw rows, so a million-problem file never sits in memory; the
column mapping and id assignment happen once, in `iter_problems`.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from .builtin_problems import BUILTIN_SETS, BUILTIN_SIZES
from .errors import UserError
from .recipe import ProblemsConfig

FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    problem: str
    answer: str | None  # for code: the tests, as JSON text in any format rfactory.verifiers.code reads
    source: str
    starter_code: str | None = None


def content_id(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}: line {lineno}: invalid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise UserError(f"{path}: line {lineno}: expected a JSON object, got {type(row).__name__}")
            yield row


def _json_rows(path: Path) -> Iterator[dict[str, Any]]:
    # A JSON array cannot be streamed with the standard library; JSONL, Parquet and CSV are
    # the formats for large sets (the docs say so).
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: line {e.lineno}: invalid JSON ({e.msg})") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise UserError(f"{path}: expected a list of objects (or an object holding exactly one list)")
        data = lists[0]
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a list of objects")
    for i, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise UserError(f"{path}: item {i}: expected an object, got {type(row).__name__}")
        yield row


def _parquet_rows(path: Path, columns: list[str] | None) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise UserError(f"{path}: not a readable Parquet file ({e})") from None
    present = set(pf.schema_arrow.names)
    missing = [c for c in columns or [] if c not in present]
    if missing:
        raise UserError(f"{path}: missing column {missing[0]!r} (columns: {', '.join(sorted(present))})")
    for batch in pf.iter_batches(batch_size=2048, columns=columns):
        yield from batch.to_pylist()


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("r", encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


def _hub_rows(name: str, split: str) -> Iterator[dict[str, Any]]:
    import datasets

    try:
        ds = datasets.load_dataset(name, split=split, streaming=True)
    except Exception as e:  # datasets raises many types for a missing/unreachable dataset
        raise UserError(f"hf:{name}: cannot open split {split!r} ({type(e).__name__}: {e})".splitlines()[0]) from None
    yield from ds


def raw_rows(cfg: ProblemsConfig, whole: bool = False) -> tuple[Iterator[dict[str, Any]], str, bool]:
    """(rows, name for messages, whether the rows already carry rfactory's own id/problem/answer).
    `whole` keeps every column (curation writes rows back out); otherwise Parquet reads only the
    mapped ones."""
    src = cfg.source
    if src.startswith("builtin:"):
        name = src.split(":", 1)[1]
        if name not in BUILTIN_SETS:
            raise UserError(f"unknown built-in problem set {name!r} (have: {', '.join(BUILTIN_SETS)})")
        return BUILTIN_SETS[name](), src, True
    if src.startswith("hf:"):
        return _hub_rows(src[3:], cfg.split), src, False
    path = Path(src)
    if not path.exists():
        raise UserError(f"{path}: problem file not found (use hf:org/name for a Hub dataset)")
    if path.suffix == ".jsonl":
        return _jsonl_rows(path), str(path), False
    if path.suffix == ".json":
        return _json_rows(path), str(path), False
    if path.suffix == ".csv":
        return _csv_rows(path), str(path), False
    if path.suffix == ".parquet":
        cols = cfg.columns
        wanted = [c for c in (cols.id, cols.problem, *_answer_columns(cols.answer), cols.starter_code) if c]
        return _parquet_rows(path, None if whole else wanted), str(path), False
    raise UserError(f"{path}: unsupported problem file type (use one of {', '.join(FILE_SUFFIXES)})")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value)  # tests stored as objects (JSONL, Parquet structs) travel as JSON text
    return value if isinstance(value, str) else str(value)


def _answer_columns(spec: str | None) -> list[str]:
    """Several answer columns ("public_tests,private_tests,generated_tests" for CodeContests,
    "test,entry_point" for HumanEval) travel together as one JSON object."""
    return spec.split(",") if spec else []


def _answer(row: dict[str, Any], columns: list[str]) -> str | None:
    if len(columns) > 1:
        return _text({c: row[c] for c in columns})
    return _text(row[columns[0]]) if columns else None


def iter_problems(cfg: ProblemsConfig) -> Iterator[Problem]:
    """Stream problems with ids; raises UserError naming the row and field on bad input."""
    yield from problems_of(*raw_rows(cfg), cfg)


def problems_of(rows: Iterator[dict[str, Any]], where: str, native: bool, cfg: ProblemsConfig) -> Iterator[Problem]:
    """`iter_problems` over rows `raw_rows` opened already."""
    cols = cfg.columns
    id_col, problem_col, answer_col = ("id", "problem", "answer") if native else (cols.id, cols.problem, cols.answer)
    starter_col = "starter_code" if native else cols.starter_code
    answer_cols = _answer_columns(answer_col)
    count = 0
    for rowno, row in enumerate(rows, 1):
        if cfg.limit is not None and count >= cfg.limit:
            return
        for col in (id_col, problem_col, *answer_cols, None if native else starter_col):
            if col and col not in row:
                raise UserError(f"{where}: row {rowno}: missing column {col!r} (columns: {', '.join(map(str, row))})")
        text = _text(row[problem_col])
        if not text or not text.strip():
            raise UserError(f"{where}: row {rowno}: field {problem_col!r} is empty")
        pid = _text(row[id_col]) if id_col else content_id(text)
        if not pid:
            raise UserError(f"{where}: row {rowno}: field {id_col!r} is empty")
        starter = _text(row.get(starter_col)) if starter_col else None
        yield Problem(
            id=pid, problem=text, source=where,
            answer=_answer(row, answer_cols),
            starter_code=starter or None,
        )
        count += 1
    if count == 0:
        raise UserError(f"{where}: no problems found")


def count_problems(cfg: ProblemsConfig) -> int | None:
    """A cheap count for the progress bar, or None when only a full read could tell."""
    src = cfg.source
    total: int | None = None
    if src.startswith("builtin:"):
        total = BUILTIN_SIZES.get(src[len("builtin:") :])
    elif not src.startswith("hf:"):
        path = Path(src)
        try:
            if path.suffix == ".parquet":
                import pyarrow.parquet as pq

                total = pq.ParquetFile(path).metadata.num_rows
            elif path.suffix == ".jsonl":
                with path.open("rb") as f:
                    total = sum(1 for line in f if line.strip())
        except Exception:  # counting is only a progress hint; the real read reports errors
            total = None
    if cfg.limit is not None:
        total = cfg.limit if total is None else min(total, cfg.limit)
    return total
