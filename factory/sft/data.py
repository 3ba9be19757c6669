"""Training data: verified runs, exported folders, files or Hub repos → one `messages` dataset.

OpenThoughts-format rows (`system` + `conversations[{from, value}]`) are converted here rather than
by TRL, whose automatic conversion drops the `system` column: the system prompt a dataset was
published with is part of what the student must learn to answer. Rows already in `messages`
form (open-r1's mixtures, for one) pass through with their roles checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..training.sources import from_shards, open_dataset, shard_files
from .recipe import DataSource

ROLES = {"system": "system", "user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant"}


@dataclass
class SourceReport:
    source: str
    rows: int  # rows the source holds
    used: int  # rows in one epoch after its weight
    no_assistant: int  # rows without an assistant turn, which teach nothing and are left out


def open_source(source: DataSource) -> Any:
    """The rows of one source as a `datasets.Dataset`, with a one-line error naming the source; a
    run folder gives its verified dataset."""
    path = Path(source.source).expanduser()
    if (path / "run.json").is_file():
        from ..export import load_run  # refuses a run that is unverified or verified before its last samples

        load_run(path)
        return from_shards(shard_files(path / "dataset" / "data"))
    if path.is_dir() and not (path / "data").is_dir():
        raise UserError(f"{path}: neither a run folder (run.json) nor a dataset folder (data/*.parquet)")
    return open_dataset(source.source, source.split, source.config)


def _row_messages(row: dict[str, Any], where: str) -> list[dict[str, str]]:
    if "messages" in row:
        turns, role_key, text_key, field = row["messages"], "role", "content", "messages"
        out: list[dict[str, str]] = []
    else:
        turns, role_key, text_key, field = row["conversations"], "from", "value", "conversations"
        system = row.get("system")
        out = [{"role": "system", "content": system}] if system else []
    for i, turn in enumerate(turns or []):
        role = ROLES.get(str(turn.get(role_key)).lower())
        if role is None:
            raise UserError(f"{where}: field {field}[{i}].{role_key}: unknown role {turn.get(role_key)!r}")
        text = turn.get(text_key)
        if not isinstance(text, str):
            raise UserError(f"{where}: field {field}[{i}].{text_key}: expected text, got {type(text).__name__}")
        out.append({"role": role, "content": text})
    return out


def to_messages(rows: Any, source: str) -> Any:
    """A `messages` column (system turn kept), the source `row`, and an `assistant` flag to count rows without one."""
    columns = rows.column_names
    if "messages" not in columns and "conversations" not in columns:
        raise UserError(f"{source}: no `messages` or `conversations` column (columns: {', '.join(columns)})")

    def convert(batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        keys = [k for k in ("messages", "conversations", "system") if k in batch]
        messages = [_row_messages({k: batch[k][j] for k in keys}, f"{source} row {index}") for j, index in enumerate(indices)]
        return {
            "messages": messages,
            "assistant": [any(m["role"] == "assistant" for m in ms) for ms in messages],
            "row": indices,  # where an example came from, for the errors and reports that name it
        }

    return rows.map(convert, batched=True, with_indices=True, remove_columns=columns, desc=f"reading {source}")


def weighted(rows: Any, weight: float, seed: int) -> Any:
    """`weight` copies of the rows; the fractional part is a seeded sample, the same on every rerun."""
    import datasets

    whole, frac = int(weight), weight - int(weight)
    parts = [rows] * whole
    if frac > 0 and len(rows):
        parts.append(rows.shuffle(seed=seed).select(range(max(1, math.floor(frac * len(rows))))))
    return datasets.concatenate_datasets(parts) if parts else rows.select([])


def load_examples(sources: list[DataSource], seed: int) -> tuple[Any, list[SourceReport]]:
    """Every source converted, weighted and concatenated, with what each contributed."""
    import datasets

    parts, reports = [], []
    for number, source in enumerate(sources):
        rows = to_messages(open_source(source), source.source)
        usable = rows.filter(lambda keep: keep, input_columns="assistant").remove_columns("assistant")
        part = weighted(usable, source.weight, seed)
        part = part.add_column("source", [number] * len(part))
        reports.append(SourceReport(source.source, len(rows), len(part), len(rows) - len(usable)))
        parts.append(part)
    examples = datasets.concatenate_datasets(parts)
    if not len(examples):
        raise UserError("no training examples: every source is empty or has no assistant turns")
    return examples, reports
