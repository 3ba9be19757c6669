"""`generate --batch`: a run's pending pairs through an OpenAI-compatible Batch API, at the batch
price, into the same run store with the same records as the online path (verify and push cannot
tell them apart).

RUN/batches/
  state.json              the run's key and every chunk: its batch id, last status, request counts
  chunk-NNNNNN.jsonl      the exact request lines uploaded (custom_id = "<sample index>:<problem id>")
  chunk-NNNNNN.pairs.jsonl  the problem behind each line, to build its record

A chunk is written to disk before it is uploaded, and each batch carries the run's key and the
chunk's name as metadata, so a `kill -9` at any point loses nothing: the next run finds a chunk's
batch by its metadata when its id was never saved, keeps polling the batches in progress, and
collects the finished ones. Expired, cancelled and failed lines become failed records, which the
next run sends again, as with online failures. A line for a pair that already has a sample (a
collection cut short by a crash) is skipped, so every pair ends up with exactly one sample.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .budget import Budget, Reservation
from .cost import Price, resolve_price
from .errors import UserError
from .generate import Tally, build_request, pending_pairs, prompt_bytes, run_budget, to_record
from .problems import Problem
from .progress import Progress
from .recipe import Recipe
from .runstore import PartWriter, pair_key, write_json_atomic
from .teachers import Teacher, TeacherFailure

FINISHED = {"completed", "expired", "cancelled", "failed"}


class Chunk(BaseModel):
    name: str
    requests: int
    bytes: int
    worst_usd: float = 0.0  # held against a budget until collected
    worst_tokens: int = 0
    batch_id: str | None = None
    status: str = "prepared"  # then the provider's: validating, in_progress, finalizing, completed, …
    counts: dict[str, int] = {}
    collected: bool = False


class BatchState(BaseModel):
    run_key: str
    chunks: list[Chunk] = []


class Batches:
    """The run folder's batch state, saved after every change."""

    def __init__(self, root: Path):
        self.folder = root / "batches"
        self.folder.mkdir(exist_ok=True)
        self.path = self.folder / "state.json"
        if self.path.exists():
            self.state = BatchState.model_validate_json(self.path.read_text(encoding="utf-8"))
        else:
            self.state = BatchState(run_key=uuid.uuid4().hex)
            self.save()

    def save(self) -> None:
        write_json_atomic(self.path, self.state.model_dump(mode="json"))

    def open_chunks(self) -> list[Chunk]:
        return [c for c in self.state.chunks if not c.collected]

    def pairs(self, chunk: Chunk) -> Iterator[tuple[Problem, int]]:
        with open(self.folder / f"{chunk.name}.pairs.jsonl", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                yield Problem(**row["problem"]), row["index"]

    def add(self, lines: list[bytes], pairs: list[tuple[Problem, int]], held: Reservation) -> Chunk:
        chunk = Chunk(name=f"chunk-{len(self.state.chunks):06d}", requests=len(lines), bytes=sum(map(len, lines)),
                      worst_usd=held.usd, worst_tokens=held.tokens)
        for suffix, data in ((".jsonl", b"".join(lines)),
                             (".pairs.jsonl", "".join(json.dumps({"problem": p.model_dump(), "index": i}) + "\n"
                                                       for p, i in pairs).encode())):
            tmp = self.folder / f".{chunk.name}{suffix}.tmp"
            tmp.write_bytes(data)
            tmp.replace(self.folder / f"{chunk.name}{suffix}")
        self.state.chunks.append(chunk)
        self.save()
        return chunk

    def metadata(self, chunk: Chunk) -> dict[str, str]:
        return {"rfactory_run": self.state.run_key, "rfactory_chunk": chunk.name}


def custom_id(problem: Problem, index: int) -> str:
    return f"{index}:{problem.id}"


async def generate_batches(recipe: Recipe, teacher: Teacher, writer: PartWriter, done: set[int],
                           progress: Progress) -> dict[str, Any]:
    """Submit every pending pair in chunks, wait for the batches and collect them; returns the
    summary `generate` gives, with each batch's state."""
    if not teacher.supports_batch:
        raise UserError(f"--batch: teacher {recipe.teacher.spec} has no Batch API (use an openai: teacher)")
    opts = teacher.options
    batches = Batches(writer.run.root)
    tally = Tally()
    price = resolve_price(recipe.teacher.price, teacher.price_key())
    tally.priced = price is not None
    spent = writer.run.spent()
    budget = run_budget(recipe, teacher, price, spent)
    if price is not None:
        progress.show_cost(spent.usd)
    holds: dict[str, Reservation] = {}
    in_chunks: set[int] = set()
    for chunk in batches.open_chunks():  # from an earlier run: still held against the budget
        holds[chunk.name] = Reservation(chunk.worst_usd, chunk.worst_tokens)
        if budget is not None:
            budget.reserve(holds[chunk.name])
        in_chunks.update(pair_key(p.id, i) for p, i in batches.pairs(chunk))
        if chunk.batch_id is None:  # written, then the run died: maybe before, maybe after it was sent
            await _submit(teacher, batches, chunk, search=True)
    for lines, pairs, held in _new_chunks(recipe, teacher, done | in_chunks, tally, budget, opts):
        chunk = batches.add(lines, pairs, held)
        holds[chunk.name] = held
        await _submit(teacher, batches, chunk, search=False)

    while open_chunks := batches.open_chunks():
        for chunk in open_chunks:
            info = await teacher.batch(chunk.batch_id)
            chunk.status, chunk.counts = info["status"], info.get("request_counts") or {}
            if chunk.status in FINISHED:
                usd, tokens = await _collect(recipe, teacher, batches, chunk, info, writer, done, tally, progress, price)
                if budget is not None:
                    budget.release(holds[chunk.name], usd, tokens)
            batches.save()
        if batches.open_chunks():
            await asyncio.sleep(opts.batch_poll_s)
    summary = tally.summary()
    summary["batches"] = {c.name: f"{c.status}, {c.counts.get('completed', 0)}/{c.requests} answered"
                          for c in batches.state.chunks}
    if budget is not None and budget.exhausted:
        summary["stopped"] = budget.stop_line()
    return summary


def _new_chunks(recipe: Recipe, teacher: Teacher, skip: set[int], tally: Tally, budget: Budget | None,
                opts: Any) -> Iterator[tuple[list[bytes], list[tuple[Problem, int]], Reservation]]:
    """The pending pairs as request lines, cut at the provider's limits; under a budget only as
    many as fit, each reserved at its worst case at the batch price."""
    lines: list[bytes] = []
    pairs: list[tuple[Problem, int]] = []
    held = Reservation(0.0, 0)
    size = 0
    for problem, index in pending_pairs(recipe, skip, tally):
        request = build_request(recipe, problem, index)
        line = (json.dumps(teacher.batch_line(custom_id(problem, index), request)) + "\n").encode()
        if lines and (len(lines) >= opts.batch_max_requests or size + len(line) > opts.batch_max_bytes):
            if budget is not None:
                budget.reserve(held)  # a chunk is held, and settled, as a whole
            yield lines, pairs, held
            lines, pairs, held, size = [], [], Reservation(0.0, 0), 0
        if budget is not None:
            worst = budget.worst_case(prompt_bytes(request), request.max_tokens, batch=True)
            if not budget.fits(Reservation(held.usd + worst.usd, held.tokens + worst.tokens)):
                budget.exhausted = True
                break
            held = Reservation(held.usd + worst.usd, held.tokens + worst.tokens)
        lines.append(line)
        pairs.append((problem, index))
        size += len(line)
    if lines:
        if budget is not None:
            budget.reserve(held)
        yield lines, pairs, held


async def _submit(teacher: Teacher, batches: Batches, chunk: Chunk, search: bool) -> None:
    """Start the chunk's batch; `search`: unless an earlier run already did and died before saving its id."""
    metadata = batches.metadata(chunk)
    info = await teacher.find_batch(metadata) if search else None
    if info is None:
        info = await teacher.submit_batch((batches.folder / f"{chunk.name}.jsonl").read_bytes(), metadata)
    chunk.batch_id, chunk.status = info["id"], info["status"]
    batches.save()


async def _collect(recipe: Recipe, teacher: Teacher, batches: Batches, chunk: Chunk, info: dict[str, Any],
                   writer: PartWriter, done: set[int], tally: Tally, progress: Progress,
                   price: Price | None) -> tuple[float, int]:
    """Every pair of a finished batch as a record; returns what they cost (USD, tokens)."""
    answers: dict[str, Any] = {}
    for field in ("output_file_id", "error_file_id"):
        if info.get(field):
            for line in (await teacher.batch_file(info[field])).decode("utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    answers[row["custom_id"]] = teacher.batch_result(row)
    errors = (info.get("errors") or {}).get("data") or []
    why = f"batch {chunk.status}" + (f": {errors[0].get('message')}" if errors else "")
    latency = max(0.0, float((info.get("completed_at") or info.get("expired_at") or info.get("failed_at") or 0)
                             - (info.get("created_at") or 0))) if info.get("created_at") else 0.0
    usd, tokens = 0.0, 0
    for problem, index in batches.pairs(chunk):
        key = pair_key(problem.id, index)
        if key in done:
            continue  # collected before a crash cut this collection short
        outcome = answers.get(custom_id(problem, index)) or TeacherFailure(f"batch_{chunk.status}", why)
        record = to_record(recipe, problem, build_request(recipe, problem, index), index, outcome, price, latency,
                           batch=True)
        writer.add(record)
        tally.add(record)
        if record.status == "ok":
            done.add(key)
        usd += record.cost_usd or 0.0
        tokens += record.prompt_tokens + record.completion_tokens
        progress.advance(record.status == "ok", record.completion_tokens, cost=record.cost_usd)
    chunk.collected = True
    batches.save()
    return usd, tokens


def describe(root: Path) -> dict[str, str] | None:
    """Each batch's last known state, for `rfactory status`."""
    path = root / "batches" / "state.json"
    if not path.exists():
        return None
    state = BatchState.model_validate_json(path.read_text(encoding="utf-8"))
    return {c.name: f"{'collected' if c.collected else c.status}, {c.counts.get('completed', 0)}/{c.requests} answered"
            + (f" ({c.batch_id})" if c.batch_id else "") for c in state.chunks}
