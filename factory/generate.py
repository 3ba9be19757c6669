"""Generate: problems → prompts → teacher → samples, appended to a run, resumable.

A producer streams (problem, sample) pairs that are not done yet into a bounded queue; a fixed
number of workers send them to the teacher; every answer or failure becomes one SampleRecord in
the run's journal at once. Memory is bounded by the queue, never by the problem count.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from .budget import Budget
from .cost import Price, resolve_price
from .errors import UserError
from .problems import Problem, iter_problems
from .progress import Progress
from .recipe import Recipe
from .records import SampleRecord
from .runstore import PartWriter, Spend, pair_key
from .teachers import ChatRequest, Completion, Teacher, TeacherFailure
from .traces import split_trace


def sample_seed(base: int, problem_id: str, sample_index: int) -> int:
    """Distinct, reproducible seeds per pair, so extra samples never repeat an earlier one."""
    digest = hashlib.blake2b(f"{base}\x00{problem_id}\x00{sample_index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


STARTER = "Complete this starter code; keep its signature:\n```python\n{code}\n```"
NO_STARTER = "Read the input from standard input and print the answer to standard output."


def build_messages(recipe: Recipe, problem: Problem) -> list[dict[str, str]]:
    # str.replace, not str.format: math templates are full of literal braces (\boxed{}).
    user = recipe.prompt.user_template.replace("{problem}", problem.problem)
    if "{starter_code}" in user:
        starter = STARTER.replace("{code}", problem.starter_code.rstrip()) if problem.starter_code else NO_STARTER
        user = user.replace("{starter_code}", starter)
    messages = [{"role": "system", "content": recipe.prompt.teacher_system}] if recipe.prompt.teacher_system else []
    return messages + [{"role": "user", "content": user}]


def build_request(recipe: Recipe, problem: Problem, index: int) -> ChatRequest:
    return ChatRequest(
        messages=build_messages(recipe, problem),
        temperature=recipe.sampling.temperature,
        top_p=recipe.sampling.top_p,
        max_tokens=recipe.sampling.max_tokens,
        seed=sample_seed(recipe.sampling.seed, problem.id, index),
        stop=recipe.sampling.stop,
    )


def prompt_bytes(request: ChatRequest) -> int:
    return sum(len(m["content"].encode()) for m in request.messages)


def to_record(recipe: Recipe, problem: Problem, request: ChatRequest, index: int,
              outcome: Completion | TeacherFailure, price: Price | None, latency_s: float,
              batch: bool = False) -> SampleRecord:
    """One pair's answer or failure as the run stores it, whichever path (online, Batch API) it took."""
    common: dict[str, Any] = dict(
        problem_id=problem.id,
        sample_index=index,
        problem=problem.problem,
        reference_answer=problem.answer,
        starter_code=problem.starter_code,
        source=problem.source,
        teacher=recipe.teacher.spec,
        seed=request.seed,
        latency_s=latency_s,
        finished_at=datetime.now(timezone.utc),
    )
    if isinstance(outcome, TeacherFailure):
        return SampleRecord(**common, status="failed", error_reason=outcome.reason, error_detail=outcome.detail,
                            attempts=outcome.attempts)
    c = outcome
    trace = split_trace(c.content, c.reasoning_content)
    return SampleRecord(
        **common,
        status="ok",
        model=c.model,
        finish_reason=c.finish_reason,
        # Truncated answers are kept and flagged: retrying with the same max_tokens rarely helps.
        truncated=c.finish_reason == "length",
        content=c.content,
        reasoning_content=c.reasoning_content,
        thought=trace.thought,
        solution=trace.solution,
        split_method=trace.method,
        split_problem=trace.problem,
        prompt_tokens=c.prompt_tokens,
        completion_tokens=c.completion_tokens,
        reasoning_tokens=c.reasoning_tokens,
        cached_prompt_tokens=c.cached_prompt_tokens,
        cost_usd=None if price is None else price.cost(c.prompt_tokens, c.cached_prompt_tokens or 0,
                                                       c.completion_tokens, batch),
        attempts=c.attempts,
    )


async def sample_one(recipe: Recipe, teacher: Teacher, problem: Problem, index: int, price: Price | None = None,
                     request: ChatRequest | None = None) -> SampleRecord:
    request = request or build_request(recipe, problem, index)
    started = time.monotonic()
    try:
        outcome: Completion | TeacherFailure = await teacher.generate(request)
    except TeacherFailure as failure:
        if failure.fatal:
            raise
        outcome = failure
    return to_record(recipe, problem, request, index, outcome, price, time.monotonic() - started)


class Tally:
    """The run summary's counts, from the pairs handed out and the records as they land."""

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.cost_usd = 0.0
        self.priced = False
        self.started = time.monotonic()

    def add(self, record: SampleRecord) -> None:
        if record.status == "ok":
            self.stats["samples"] += 1
            self.stats["truncated"] += record.truncated
            self.stats["unsplit"] += record.split_problem is not None
        else:
            self.failures[record.error_reason or "unknown"] += 1
        self.stats["prompt_tokens"] += record.prompt_tokens
        self.stats["cached_prompt_tokens"] += record.cached_prompt_tokens or 0
        self.stats["completion_tokens"] += record.completion_tokens
        self.stats["reasoning_tokens"] += record.reasoning_tokens
        self.cost_usd += record.cost_usd or 0.0

    def summary(self) -> dict[str, Any]:
        stats, failures = self.stats, self.failures
        elapsed = time.monotonic() - self.started
        return {
            "problems": stats["problems"],
            "duplicate_problems": stats["duplicate_problems"],
            "pairs_already_done": stats["skipped_done"],
            "new_samples": stats["samples"],
            "failed": sum(failures.values()),
            "failures": dict(failures),
            "truncated": stats["truncated"],
            "unsplit": stats["unsplit"],
            "prompt_tokens": stats["prompt_tokens"],
            "cached_prompt_tokens": stats["cached_prompt_tokens"],
            "completion_tokens": stats["completion_tokens"],
            "reasoning_tokens": stats["reasoning_tokens"],
            "cost_usd": round(self.cost_usd, 6) if self.priced else None,
            "seconds": round(elapsed, 2),
            "samples_per_s": round((stats["samples"] + sum(failures.values())) / elapsed, 2) if elapsed else 0.0,
        }


def pending_pairs(recipe: Recipe, done: set[int], tally: Tally) -> Iterator[tuple[Problem, int]]:
    """Every (problem, sample index) the run still needs, streamed; repeated problems are skipped."""
    seen_problems: set[int] = set()
    for problem in iter_problems(recipe.problems):
        key = pair_key(problem.id, -1)
        if key in seen_problems:
            tally.stats["duplicate_problems"] += 1
            continue
        seen_problems.add(key)
        tally.stats["problems"] += 1
        for index in range(recipe.sampling.samples):
            if pair_key(problem.id, index) in done:
                tally.stats["skipped_done"] += 1
                continue
            yield problem, index


def worker_count(recipe: Recipe, teacher: Teacher) -> int:
    wanted = recipe.teacher.concurrency or teacher.default_concurrency
    return min(wanted, teacher.max_concurrency or wanted)


class _Unreachable(Exception):
    """Raised in a worker to stop the others; the caller gets FailFast.error instead."""


class FailFast:
    """Stops a run whose first requests all fail to reach the endpoint (refused, unknown host,
    TLS, timeouts): on a wrong URL that is every request, and the run would walk the whole problem
    file in retries. Once one request has succeeded, failures are an outage and only recorded."""

    REASONS = {"connection_refused", "dns_error", "tls_error", "connect_timeout", "connection_error", "timeout"}
    WORDS = {"connection_refused": "connection refused", "dns_error": "unknown host", "tls_error": "TLS failed",
             "connect_timeout": "connecting timed out", "connection_error": "connection failed",
             "timeout": "every request timed out"}

    def __init__(self, after: int):
        self.after = after
        self.reached = False
        self.failed: Counter[str] = Counter()
        self.detail = ""

    def add(self, record: SampleRecord) -> bool:
        """True when the run should stop now."""
        if self.reached or not self.after:
            return False
        if record.status == "ok" or record.error_reason not in self.REASONS:
            self.reached = True
            return False
        self.failed[record.error_reason] += 1
        self.detail = record.error_detail or ""
        return sum(self.failed.values()) >= self.after

    def tripped(self) -> bool:
        """At the end: nothing ever reached the endpoint (a run smaller than the threshold)."""
        return bool(self.after) and not self.reached and bool(self.failed)

    def error(self, recipe: Recipe, teacher: Teacher) -> UserError:
        reason, _ = self.failed.most_common(1)[0]
        return UserError(
            f"teacher {recipe.teacher.spec}: the first {sum(self.failed.values())} requests to {teacher.engine()} all "
            f"failed ({self.WORDS[reason]}: {self.detail}); fix the endpoint and rerun, the run continues where it is"
        )


def run_budget(recipe: Recipe, teacher: Teacher, price: Price | None, spent: Spend) -> Budget | None:
    cap = recipe.budget
    if cap.max_cost_usd is None and cap.max_tokens_total is None:
        return None
    if cap.max_cost_usd is not None and price is None:
        raise UserError(f"--max-cost: no price known for {recipe.teacher.spec} (set teacher.price or "
                        "--price-input/--price-output)")
    return Budget(cap.max_cost_usd, cap.max_tokens_total, price, spent.usd, spent.tokens)


async def generate(
    recipe: Recipe, teacher: Teacher, writer: PartWriter, done: set[int], progress: Progress
) -> dict[str, Any]:
    """Run every pending pair; returns counts for the summary (`stopped`: why it ended early).
    Raises UserError on a fatal teacher error or an endpoint that never answers."""
    workers = worker_count(recipe, teacher)
    queue: asyncio.Queue[tuple[Problem, int] | None] = asyncio.Queue(maxsize=workers * 4)
    tally = Tally()
    fatal: list[TeacherFailure] = []
    price = resolve_price(recipe.teacher.price, teacher.price_key())
    spent = writer.run.spent()
    budget = run_budget(recipe, teacher, price, spent)
    fail_fast = FailFast(recipe.teacher.fail_fast_after)
    tally.priced = price is not None
    if price is not None:
        progress.show_cost(spent.usd)
    stopping = False

    async def produce() -> None:
        # No `finally`: a cancelled producer must not block on a full queue; its error (a bad
        # problem row) reaches gather, which cancels the workers.
        for pair in pending_pairs(recipe, done, tally):
            if stopping:
                break
            await queue.put(pair)
        for _ in range(workers):
            await queue.put(None)

    async def one(problem: Problem, index: int) -> SampleRecord | None:
        request = build_request(recipe, problem, index)
        if budget is None:
            return await sample_one(recipe, teacher, problem, index, price, request)
        size = prompt_bytes(request)
        held = budget.worst_case(size, request.max_tokens)
        if not await budget.admit(held):
            return None
        record = None
        try:
            record = await sample_one(recipe, teacher, problem, index, price, request)
            return record
        finally:
            spent_usd = (record.cost_usd or 0.0) if record else held.usd  # cancelled: assume the worst
            tokens = record.prompt_tokens + record.completion_tokens if record else held.tokens
            await budget.settle(held, spent_usd, tokens, size, record.prompt_tokens if record else 0)

    async def work() -> None:
        nonlocal stopping
        while (item := await queue.get()) is not None:
            if stopping:
                continue  # drain, so the producer sees the flag and ends
            try:
                record = await one(*item)
            except TeacherFailure as failure:
                fatal.append(failure)
                raise
            if record is None:
                stopping = True
                continue
            writer.add(record)
            tally.add(record)
            progress.advance(record.status == "ok", record.completion_tokens, cost=record.cost_usd)
            if fail_fast.add(record):
                raise _Unreachable

    # Modules and the engine loaded so far live for the whole run: freezing them keeps the cyclic
    # collector from rescanning them every few thousand requests (~5-10% of CPU at high rates).
    gc.collect()
    gc.freeze()
    tally.started = time.monotonic()
    tasks = [asyncio.create_task(produce())] + [asyncio.create_task(work()) for _ in range(workers)]
    try:
        await asyncio.gather(*tasks)
    except (TeacherFailure, _Unreachable):
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if fatal:
        raise fatal_error(recipe, fatal[0])
    if fail_fast.tripped():
        raise fail_fast.error(recipe, teacher)
    summary = tally.summary()
    if budget is not None and budget.exhausted:
        summary["stopped"] = budget.stop_line()
    return summary


def fatal_error(recipe: Recipe, failure: TeacherFailure) -> UserError:
    return UserError(f"teacher {recipe.teacher.spec} refused the request, stopping: {failure.detail}")
