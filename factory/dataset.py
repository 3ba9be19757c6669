"""OpenThoughts-layout Parquet shards: `data/` (system + conversations) and `metadata/`, row-aligned.

Shard n of the data config and shard n of the metadata config hold the same samples in the same
order, so a user can zip them back together.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

DATA_SCHEMA = pa.schema(
    [
        ("system", pa.string()),
        ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
    ]
)

# The OpenThoughts-114k metadata columns (all strings), then our provenance.
METADATA_SCHEMA = pa.schema(
    [
        ("problem", pa.string()),
        ("deepseek_reasoning", pa.string()),
        ("deepseek_solution", pa.string()),
        ("ground_truth_solution", pa.string()),
        ("domain", pa.string()),
        ("source", pa.string()),
        ("test_cases", pa.string()),
        ("starter_code", pa.string()),
        ("problem_id", pa.string()),
        ("sample_index", pa.int32()),
        ("teacher", pa.string()),
        ("model", pa.string()),
        ("finish_reason", pa.string()),
        ("split_method", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("verdict", pa.string()),
        ("verdict_reason", pa.string()),
        ("extracted_answer", pa.string()),
        ("answer_source", pa.string()),  # "reference", or "majority": checked against the samples' own vote
        ("majority_answer", pa.string()),
        ("majority_agreement", pa.float64()),
    ]
)

WRITE_OPTIONS: dict[str, Any] = {"compression": "zstd", "write_page_index": True}


def _cdc_supported() -> bool:
    # Content-defined chunking (pyarrow >= 21) makes re-uploads of a changed dataset deduplicate.
    return int(pa.__version__.split(".")[0]) >= 21


SHARD_BYTES = 500 << 20  # uncompressed, as `datasets.push_to_hub` writes them
ROW_GROUP_BYTES = 100 << 20  # the Hub's viewer reads at most 300 MB per scan


OPENTHOUGHTS = {"data": DATA_SCHEMA, "metadata": METADATA_SCHEMA}


def _text_bytes(value: Any) -> int:
    """About what a value takes uncompressed: its text, which is nearly all of a row."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_text_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_text_bytes(v) for v in value)
    return 8


class ShardWriter:
    """Streams rows into `train-NNNNN` shards of at most `max_rows` rows and about `max_bytes`
    uncompressed, in row groups of about `row_group_bytes`, named `-of-` when closed. Each config
    (a folder and its schema; OpenThoughts' `data/` and `metadata/` by default) gets one row per
    `add`, and the shards of all configs end at the same row.

    Everything is written under `<out>.tmp/` and swapped in at `close`, so a crash mid-verify
    leaves the previous dataset untouched.
    """

    def __init__(self, out: Path, max_rows: int, max_bytes: int = SHARD_BYTES, row_group_bytes: int = ROW_GROUP_BYTES,
                 configs: dict[str, pa.Schema] = OPENTHOUGHTS):
        self.out = out
        self.configs = configs
        self.tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(self.tmp, ignore_errors=True)
        for config in configs:
            (self.tmp / config).mkdir(parents=True)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.row_group_bytes = row_group_bytes
        self.shards = 0
        self.rows = 0
        self._in_shard = 0
        self._shard_bytes = 0
        self._pending_bytes = 0
        self._writers: list[pq.ParquetWriter] | None = None
        self._rows: list[list[dict[str, Any]]] = [[] for _ in configs]
        self._options = dict(WRITE_OPTIONS)
        if _cdc_supported():
            self._options["use_content_defined_chunking"] = {
                "min_chunk_size": 256 * 1024, "max_chunk_size": 1024 * 1024, "norm_level": 0,
            }

    def _open_shard(self) -> None:
        name = f"train-{self.shards:05d}.parquet"
        self._writers = [pq.ParquetWriter(self.tmp / config / name, schema, **self._options)
                         for config, schema in self.configs.items()]
        self.shards += 1
        self._in_shard = 0
        self._shard_bytes = 0

    def _write_batch(self) -> None:
        if not self._rows[0]:
            return
        if self._writers is None:
            self._open_shard()
        for writer, rows, schema in zip(self._writers, self._rows, self.configs.values()):  # type: ignore[arg-type]
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        self._rows = [[] for _ in self.configs]
        self._pending_bytes = 0

    def _close_shard(self) -> None:
        self._write_batch()
        if self._writers is not None:
            for w in self._writers:
                w.close()
            self._writers = None

    def add(self, *rows: dict[str, Any]) -> None:
        """One row for each config, in the configs' order."""
        size = _text_bytes(rows) + 64
        full = self._in_shard >= self.max_rows or (self._in_shard and self._shard_bytes + size > self.max_bytes)
        if self._writers is not None and full:
            self._close_shard()
        if self._writers is None and not self._rows[0]:
            self._open_shard()
        for pending, row in zip(self._rows, rows):
            pending.append(row)
        self._in_shard += 1
        self._shard_bytes += size
        self._pending_bytes += size
        self.rows += 1
        if self._pending_bytes >= self.row_group_bytes:  # one write, one row group
            self._write_batch()

    def abort(self) -> None:
        """Drops what was written; the folder's previous contents stay as they were."""
        if self._writers is not None:
            for w in self._writers:
                w.close()
            self._writers = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def close(self, files: dict[str, bytes]) -> None:
        """Names the shards `-of-N`, adds `files` (the card, its plots) and swaps the folder in."""
        self._close_shard()
        if self.shards == 0:  # an empty but well-formed dataset: one shard with zero rows
            self._open_shard()
            self._close_shard()
        for config in self.configs:
            for i in range(self.shards):
                src = self.tmp / config / f"train-{i:05d}.parquet"
                os.replace(src, src.with_name(f"train-{i:05d}-of-{self.shards:05d}.parquet"))
        for name, content in files.items():
            (self.tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (self.tmp / name).write_bytes(content)
        old = self.out.with_name(self.out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.out.exists():
            os.replace(self.out, old)
        os.replace(self.tmp, self.out)
        shutil.rmtree(old, ignore_errors=True)
