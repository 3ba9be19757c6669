"""Export: verified runs → the folder `push` uploads, byte for byte (shards, card, plots).

Rows stream from each run's `dataset/` in the order the runs are given, a (problem, response)
pair already written is dropped, and the survivors are renumbered into fresh shards. Nothing here
reads the clock, so the same runs always give the same bytes: that is what makes an unchanged
push a no-op and an interrupted one resumable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pyarrow.parquet as pq
from pydantic import ValidationError

from .card import Profile, RunFacts, pass_rates_by_source, render_card
from .dataset import DATA_SCHEMA, METADATA_SCHEMA, ShardWriter
from .curate.text import normalize
from .errors import UserError
from .plots import pass_rate_by_source, token_histogram
from .progress import Progress
from .recipe import Recipe
from .records import RunStats
from .runstore import Run

IMAGES = {"tokens": "images/completion_tokens.png", "pass_rate": "images/pass_rate_by_source.png"}
EXPORT_DIRS = {"data", "metadata", "images"}


@dataclass
class ExportReport:
    out: Path
    rows: int
    duplicates: int
    shards: int
    files: list[str]  # relative paths, sorted
    bytes: int


def load_run(path: Path) -> RunFacts:
    """A verified run whose dataset is current, or a one-line error saying what to run."""
    run = Run.open(path)
    config = run.config()
    stats_path = path / "stats.json"
    if not stats_path.is_file() or not (path / "dataset").is_dir():
        raise UserError(f"{path}: not verified yet; run `rfactory verify {path}` first")
    try:
        stats = RunStats.model_validate_json(stats_path.read_bytes())
        recipe = Recipe.model_validate(config["recipe"])
    except (ValidationError, KeyError) as e:
        where = stats_path if isinstance(e, ValidationError) and e.title == "RunStats" else path / "run.json"
        detail = e.errors()[0] if isinstance(e, ValidationError) else {"loc": ("recipe",), "msg": "missing"}
        field = ".".join(str(p) for p in detail["loc"])
        raise UserError(f"{where}: field {field!r}: {detail['msg']}; run `rfactory verify {path}` again") from None
    if stats.sample_records != run.record_count():
        raise UserError(f"{path}: samples were added after the last verify; run `rfactory verify {path}` again")
    return RunFacts(path=path, name=path.name, recipe=recipe, rfactory_version=config.get("rfactory_version", "?"), stats=stats)


def _shard_rows(path: Path, columns: list[str]) -> Iterator[dict[str, Any]]:
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # a damaged shard is the user's to fix, with the path to it
        raise UserError(f"{path}: unreadable Parquet shard ({e}); run `rfactory verify` on its run again") from None
    missing = [c for c in columns if c not in pf.schema_arrow.names]
    if missing:
        raise UserError(f"{path}: no column {missing[0]!r} (written by an older rfactory); run `rfactory verify` again")
    for batch in pf.iter_batches(batch_size=1024, columns=columns):
        yield from batch.to_pylist()


def run_rows(path: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(data row, metadata row) of a run's dataset, in order; the two configs must line up."""
    folder = path / "dataset"
    data = sorted((folder / "data").glob("train-*.parquet"))
    meta = sorted((folder / "metadata").glob("train-*.parquet"))
    if [p.name for p in data] != [p.name for p in meta]:
        raise UserError(f"{folder}: data/ and metadata/ shards differ; run `rfactory verify {path}` again")
    for d, m in zip(data, meta):
        if pq.read_metadata(d).num_rows != pq.read_metadata(m).num_rows:
            raise UserError(f"{m}: not row-aligned with {d.name}; run `rfactory verify {path}` again")
        yield from zip(_shard_rows(d, DATA_SCHEMA.names), _shard_rows(m, METADATA_SCHEMA.names))


def _pair_key(data_row: dict[str, Any]) -> bytes:
    """Problem and response after Unicode, case and whitespace folding: a trace that differs only
    in spacing (another run of the same greedy teacher) teaches nothing new."""
    text = "\0".join(normalize(t["value"] or "") for t in data_row["conversations"])
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def check_destination(out: Path) -> None:
    """`out` is replaced as a whole, so it must be new, empty, or an earlier export."""
    if not out.exists():
        if not out.parent.is_dir():
            raise UserError(f"{out}: parent folder {out.parent} does not exist")
        return
    if not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    entries = {p.name for p in out.iterdir()}
    if entries and not (entries <= EXPORT_DIRS | {"README.md"} and "data" in entries):
        raise UserError(f"{out}: exists and holds other files; export into a new or empty folder")


def load_runs(paths: list[Path]) -> list[RunFacts]:
    """Every run checked before anything is written, so a bad one costs nothing."""
    resolved = [p.resolve() for p in paths]
    for i, p in enumerate(resolved):
        if p in resolved[:i]:
            raise UserError(f"{paths[i]}: run given twice")
    runs = [load_run(p) for p in paths]
    if len({r.name for r in runs}) < len(runs):  # same folder name in different places: name them by path
        for run in runs:
            run.name = str(run.path)
    return runs


def export(runs: list[RunFacts], out: Path, progress: Progress, duplicates: TextIO, repo: str | None = None,
           license: str = "apache-2.0", pretty_name: str | None = None) -> ExportReport:
    """`duplicates` gets one JSON line per dropped row: its run and pair, and the published row it repeats."""
    check_destination(out)

    writer = ShardWriter(out, max_rows=min(r.recipe.output.shard_max_rows for r in runs))
    profile = Profile()
    seen: dict[bytes, int] = {}  # pair key → published row
    for run in runs:
        for data_row, meta_row in run_rows(run.path):
            key = _pair_key(data_row)
            if key in seen:
                run.duplicates += 1
                duplicates.write(json.dumps({"run": run.name, "problem_id": meta_row["problem_id"],
                                             "sample_index": meta_row["sample_index"], "duplicate_of_row": seen[key]}) + "\n")
                progress.advance(False)
                continue
            seen[key] = profile.rows
            writer.add(data_row, meta_row)
            profile.add(data_row, meta_row)
            run.rows += 1
            progress.advance(True, meta_row["completion_tokens"] or 0)

    files: dict[str, bytes] = {}
    if profile.completion_tokens:
        files[IMAGES["tokens"]] = token_histogram(profile.completion_tokens)
    rates = pass_rates_by_source(runs)
    if rates:
        files[IMAGES["pass_rate"]] = pass_rate_by_source(rates)
    repo_name = repo or "ORG/NAME"
    dropped = sum(r.duplicates for r in runs)
    card = render_card(repo_name, pretty_name or repo_name.split("/")[-1], license, runs, profile, dropped,
                       {role: path for role, path in IMAGES.items() if path in files})
    files["README.md"] = card.encode()
    writer.close(files)

    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return ExportReport(out=out, rows=profile.rows, duplicates=dropped, shards=writer.shards, files=written,
                        bytes=sum((out / f).stat().st_size for f in written))
