"""The run folder: resolved config, a write-ahead journal, and append-only Parquet parts.

runs/<name>/
  run.json                     resolved recipe, teacher identity, generation fingerprint (no secrets)
  samples/part-*.parquet       append-only, each written to a temp file and renamed into place
  samples/journal-*.jsonl      every finished sample, one line as soon as it lands; folded into
                               a part when the part is written, or on the next open after a crash
  verdicts/, dataset/, stats.json    written by `rfactory verify`

The journal is what makes `kill -9` lose nothing beyond requests in flight while Parquet parts
stay large; a torn last journal line is the only thing a crash can leave behind, and it is skipped.
"""

from __future__ import annotations

import fcntl
import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import __version__
from .errors import UserError
from .records import SAMPLE_SCHEMA, SampleRecord


def pair_key(problem_id: str, sample_index: int) -> int:
    """A 64-bit key per (problem, sample): resume sets stay small at millions of pairs."""
    digest = hashlib.blake2b(f"{problem_id}\x00{sample_index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_parquet_atomic(path: Path, table: pa.Table, **kwargs: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, **kwargs)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _diff(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new)):
            out += _diff(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [(prefix.rstrip("."), old, new)]


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


class Spend(NamedTuple):
    usd: float
    tokens: int  # prompt + completion
    priced: int  # records that had a price


class Run:
    """A run folder. `Run.create_or_resume` for generate; `Run.open` for everything that reads."""

    def __init__(self, root: Path):
        self.root = root
        self.samples_dir = root / "samples"
        self.config_path = root / "run.json"

    @classmethod
    def open(cls, root: Path) -> "Run":
        run = cls(root)
        if not run.config_path.is_file():
            raise UserError(f"{root}: not a run folder (no run.json); make one with `rfactory generate --out {root}`")
        return run

    def config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"{self.config_path}: unreadable run config ({e})") from None

    @classmethod
    def create_or_resume(cls, root: Path, recipe: dict[str, Any], fingerprint: dict[str, Any]) -> "Run":
        """Refuses to continue a run whose generation settings differ from this command's."""
        run = cls(root)
        try:
            run.samples_dir.mkdir(parents=True, exist_ok=True)
            probe = root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise UserError(f"{root}: output directory not writable ({e.strerror})") from None
        if run.config_path.exists():
            old = run.config().get("fingerprint", {})
            changes = _diff(old, fingerprint)
            if changes:
                key, was, now = changes[0]
                raise UserError(
                    f"{root} was generated with {key}={_short(was)}, this command asks for {_short(now)}; "
                    f"to change it start a new run with --out {root.parent / (root.name + '-2')}"
                )
        config = {
            "rfactory_version": __version__,
            "updated_at": datetime.now(timezone.utc).isoformat(),
            "recipe": recipe,
            "fingerprint": fingerprint,
        }
        write_json_atomic(run.config_path, config)
        return run

    # -- parts -------------------------------------------------------------------------------

    def part_paths(self) -> list[Path]:
        return sorted(self.samples_dir.glob("part-*.parquet"))

    def record_count(self) -> int:
        """Records in the parts (a retried pair counts once per try): the verify progress total."""
        return sum(pq.read_metadata(p).num_rows for p in self.part_paths())

    def iter_sample_batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        for path in self.part_paths():
            try:
                pf = pq.ParquetFile(path)
            except Exception as e:  # a damaged part is a user-visible fact, not a crash
                raise UserError(f"{path}: unreadable Parquet part ({e})") from None
            present = set(pf.schema_arrow.names)
            wanted = columns if columns is not None else SAMPLE_SCHEMA.names
            missing = [c for c in wanted if c not in present]
            for batch in pf.iter_batches(batch_size=4096, columns=[c for c in wanted if c in present]):
                for name in missing:  # a part written before this column existed
                    batch = batch.append_column(SAMPLE_SCHEMA.field(name), pa.nulls(batch.num_rows, SAMPLE_SCHEMA.field(name).type))
                yield batch.select(wanted)

    def spent(self) -> Spend:
        """What the run cost over every record, retries included."""
        usd, tokens, priced = 0.0, 0, 0
        for batch in self.iter_sample_batches(["cost_usd", "prompt_tokens", "completion_tokens"]):
            usd += pc.sum(batch.column(0)).as_py() or 0.0
            tokens += (pc.sum(batch.column(1)).as_py() or 0) + (pc.sum(batch.column(2)).as_py() or 0)
            priced += batch.num_rows - batch.column(0).null_count
        return Spend(usd, tokens, priced)

    def done_keys(self) -> set[int]:
        """Pairs that have a sample; failed pairs are not done and are tried again."""
        done: set[int] = set()
        for batch in self.iter_sample_batches(["problem_id", "sample_index", "status"]):
            for pid, idx, status in zip(*(batch.column(i).to_pylist() for i in range(3))):
                if status == "ok":
                    done.add(pair_key(pid, idx))
        return done

    def _latest_mask(self) -> np.ndarray:
        """For each record in part order, whether it is its pair's last: 17 bytes per record
        while it is computed, 1 after (a dict of positions took ~110)."""
        keys = np.fromiter((pair_key(pid, idx) for batch in self.iter_sample_batches(["problem_id", "sample_index"])
                            for pid, idx in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist())), np.uint64)
        order = np.argsort(keys, kind="stable")  # equal keys keep part order: the last of a run is the latest
        ordered = keys[order]
        del keys
        last_of_run = np.ones(len(ordered), bool)
        last_of_run[:-1] = ordered[:-1] != ordered[1:]
        latest = np.zeros(len(ordered), bool)
        latest[order[last_of_run]] = True
        return latest

    def iter_latest_samples(self, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every pair once: its last record (a retry supersedes the failure before it)."""
        latest = self._latest_mask()
        position = 0
        if columns is not None:
            columns = ["problem_id", "sample_index", *(c for c in columns if c not in ("problem_id", "sample_index"))]
        for batch in self.iter_sample_batches(columns):
            keep = latest[position:position + batch.num_rows]
            position += batch.num_rows
            if keep.all():
                yield from batch.to_pylist()
            elif keep.any():
                yield from batch.filter(pa.array(keep)).to_pylist()

    # -- writing -----------------------------------------------------------------------------

    def writer(self, rows_per_part: int = 2000, seconds_per_part: float = 60.0) -> "PartWriter":
        return PartWriter(self, rows_per_part, seconds_per_part)


def _rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA)


def _read_journal(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open("r", encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break  # the torn tail of a crash: everything before it is intact
            row["finished_at"] = datetime.fromisoformat(row["finished_at"])
            rows.append(row)
    return rows


class PartWriter:
    """Holds the run's lock; journals each record at once, writes a Parquet part every N rows.

    Parts are encoded and written on a background thread so the event loop that feeds the
    teacher never stalls on Parquet; the journal keeps those rows safe until the part is in place.
    """

    def __init__(self, run: Run, rows_per_part: int, seconds_per_part: float):
        self.run = run
        self.rows_per_part = rows_per_part
        self.seconds_per_part = seconds_per_part
        self._lock_file = open(run.root / ".lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise UserError(f"{run.root}: another rfactory process is writing this run") from None
        self._recover()
        self._stem = f"{time.time_ns():020d}-{os.getpid()}"
        self._seq = 0
        self._rows: list[dict[str, Any]] = []
        self._journal = None
        self._started = time.monotonic()
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rfactory-parts")
        self._pending: Future[None] | None = None

    def _recover(self) -> None:
        for tmp in self.run.samples_dir.glob(".*.tmp"):
            tmp.unlink()
        for journal in sorted(self.run.samples_dir.glob("journal-*.jsonl")):
            part = journal.with_name("part-" + journal.name[len("journal-"):]).with_suffix(".parquet")
            if not part.exists():
                rows = _read_journal(journal)
                if rows:
                    write_parquet_atomic(part, _rows_to_table(rows))
            journal.unlink()

    def _open_journal(self) -> None:
        self._journal_path = self.run.samples_dir / f"journal-{self._stem}-{self._seq:06d}.jsonl"
        self._journal = self._journal_path.open("a", encoding="utf-8")

    def add(self, record: SampleRecord) -> None:
        row = record.model_dump()
        if self._journal is None:
            self._open_journal()
        self._journal.write(record.model_dump_json() + "\n")
        self._journal.flush()
        self._rows.append(row)
        if len(self._rows) >= self.rows_per_part or time.monotonic() - self._started >= self.seconds_per_part:
            self.flush()

    @staticmethod
    def _write_part(part: Path, rows: list[dict[str, Any]], journal: Path) -> None:
        write_parquet_atomic(part, _rows_to_table(rows))
        journal.unlink()

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()  # a failed part write surfaces here, its journal still on disk
            self._pending = None

    def flush(self) -> None:
        if not self._rows:
            return
        self._wait()  # one part in flight at most: memory stays bounded
        part = self.run.samples_dir / f"part-{self._stem}-{self._seq:06d}.parquet"
        self._journal.close()
        self._pending = self._background.submit(self._write_part, part, self._rows, self._journal_path)
        self._journal = None
        self._rows = []
        self._seq += 1
        self._started = time.monotonic()

    def close(self) -> None:
        try:
            self.flush()
            self._wait()
        finally:
            self._background.shutdown(wait=True)
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
