"""PRM training data: stepwise rows (`prompt`, `completions`, `labels`) from a `label-steps` folder,
a file or the Hub → token ids with each step's label on its separator's last token and -100
everywhere else (`stepwise.tokenize`, the same cut `eval --select prm:` scores with)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..errors import UserError
from ..stepwise import tokenize
from ..training.sources import from_shards, open_dataset, shard_files
from .recipe import PRMData, PRMRecipe

IGNORE = -100


class DataReport(BaseModel):
    sources: dict[str, int]  # rows each source holds
    traces: int  # rows kept, at least one step within max_length
    steps: int  # labelled positions
    right: int  # of them labelled right
    cut: int  # steps past max_length, left out with their labels
    longest: int  # tokens
    tokens: int


def _open(d: PRMData, soft: bool) -> Any:
    """A source's rows; with `soft`, each row's `soft_labels` from the metadata it travels with."""
    folder = Path(d.source).expanduser()
    if (folder / "label-steps.json").is_file():
        folder = folder / "dataset"
    rows = open_dataset(str(folder) if folder.is_dir() else d.source, d.split)
    missing = {"prompt", "completions", "labels"} - set(rows.column_names)
    if missing:
        raise UserError(f"data {d.source}: not stepwise data: no {', '.join(sorted(missing))} column "
                        f"(columns: {', '.join(rows.column_names)})")
    if soft:
        if not (folder / "metadata").is_dir():
            raise UserError(f"data {d.source}: train.soft_labels needs the metadata config of `label-steps` output")
        rows = rows.add_column("soft_labels", from_shards(shard_files(folder / "metadata"))["soft_labels"])
    return rows


def encode(recipe: PRMRecipe, tokenizer: Any) -> tuple[Any, DataReport]:
    import datasets

    t = recipe.train
    parts, sizes = [], {}
    for d in recipe.data:
        rows = _open(d, t.soft_labels)
        sizes[d.source] = len(rows)
        parts.append(rows.select_columns(["prompt", "completions", "labels"] + (["soft_labels"] if t.soft_labels else [])))
    rows = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    cut = 0

    def one(row: dict[str, Any]) -> dict[str, Any]:
        nonlocal cut
        ids, positions = tokenize(tokenizer, row["prompt"], row["completions"], t.separator, t.max_length)
        cut += len(row["completions"]) - len(positions)
        labels = [IGNORE] * len(ids)
        targets = [-1.0] * len(ids)
        for i, pos in enumerate(positions):
            labels[pos] = int(bool(row["labels"][i]))
            soft = row["soft_labels"][i] if t.soft_labels else None
            targets[pos] = float(labels[pos] if soft is None else soft)
        return {"input_ids": ids, "labels": labels, **({"targets": targets} if t.soft_labels else {})}

    encoded = [one(r) for r in rows]
    kept = [e for e in encoded if any(x != IGNORE for x in e["labels"])]
    if not kept:
        raise UserError(f"no trace has a step within train.max_length {t.max_length:,} tokens")
    labelled = [x for e in kept for x in e["labels"] if x != IGNORE]
    report = DataReport(sources=sizes, traces=len(kept), steps=len(labelled), right=sum(labelled), cut=cut,
                        longest=max(len(e["input_ids"]) for e in kept), tokens=sum(len(e["input_ids"]) for e in kept))
    return datasets.Dataset.from_list(kept), report
