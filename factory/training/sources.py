"""A training data source → a `datasets.Dataset`: a folder of Parquet shards (`data/*.parquet`, as
`push --to` and `rl-data` write them), a .parquet/.jsonl/.json file, or a Hub dataset id, each
failing with one line that names the source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import UserError

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def shard_files(folder: Path) -> list[str]:
    files = sorted(str(f) for f in folder.glob("*.parquet"))
    if not files:
        raise UserError(f"{folder}: no Parquet shards")
    return files


def from_shards(files: list[str]) -> Any:
    """The shards as one Dataset; shards that hold no rows (a run that kept none) give an empty
    one with their columns, where `Dataset.from_parquet` fails with "corresponds to no data"."""
    import datasets
    import pyarrow.parquet as pq

    if not any(pq.ParquetFile(f).metadata.num_rows for f in files):
        return datasets.Dataset(pq.read_table(files[0]))
    return datasets.Dataset.from_parquet(files)


def open_dataset(source: str, split: str = "train", config: str | None = None) -> Any:
    import datasets

    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "data").is_dir():
            raise UserError(f"{path}: not a dataset folder (data/*.parquet)")
        return from_shards(shard_files(path / "data"))
    if path.is_file():
        if path.suffix not in (".parquet", ".jsonl", ".json"):
            raise UserError(f"{path}: give a .parquet, .jsonl or .json file")
        builder = "parquet" if path.suffix == ".parquet" else "json"
        return datasets.load_dataset(builder, data_files=str(path), split="train")
    if not HUB_ID.fullmatch(source) or path.suffix in (".parquet", ".jsonl", ".json"):
        raise UserError(f"{source}: no such file or folder")
    try:
        return datasets.load_dataset(source, config, split=split)
    except Exception as e:  # noqa: BLE001 - the Hub client and builders raise many kinds; the user needs one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"data {source}: cannot load from the Hub: {first}") from None
