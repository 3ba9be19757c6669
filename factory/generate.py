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

from .errors import UserError
from .problems import Problem, iter_problems
from .progress import Progress
from .recipe import Recipe
from .records import SampleRecord
from .runstore import PartWriter, pair_key
from .teachers import ChatRequest, Teacher, TeacherFailure
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


async def sample_one(recipe: Recipe, teacher: Teacher, problem: Problem, index: int) -> SampleRecord:
    seed = sample_seed(recipe.sampling.seed, problem.id, index)
    request = ChatRequest(
        messages=build_messages(recipe, problem),
        temperature=recipe.sampling.temperature,
        top_p=recipe.sampling.top_p,
        max_tokens=recipe.sampling.max_tokens,
        seed=seed,
        stop=recipe.sampling.stop,
    )
    common: dict[str, Any] = dict(
        problem_id=problem.id,
        sample_index=index,
        problem=problem.problem,
        reference_answer=problem.answer,
        starter_code=problem.starter_code,
        source=problem.source,
        teacher=recipe.teacher.spec,
        seed=seed,
    )
    started = time.monotonic()
    try:
        completion = await teacher.generate(request)
    except TeacherFailure as failure:
        if failure.fatal:
            raise
        return SampleRecord(
            **common,
            status="failed",
            error_reason=failure.reason,
            error_detail=failure.detail,
            attempts=failure.attempts,
            latency_s=time.monotonic() - started,
            finished_at=datetime.now(timezone.utc),
        )
    trace = split_trace(completion.content, completion.reasoning_content)
    return SampleRecord(
        **common,
        status="ok",
        model=completion.model,
        finish_reason=completion.finish_reason,
        # Truncated answers are kept and flagged: retrying with the same max_tokens rarely helps.
        truncated=completion.finish_reason == "length",
        content=completion.content,
        reasoning_content=completion.reasoning_content,
        thought=trace.thought,
        solution=trace.solution,
        split_method=trace.method,
        split_problem=trace.problem,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        reasoning_tokens=completion.reasoning_tokens,
        attempts=completion.attempts,
        latency_s=time.monotonic() - started,
        finished_at=datetime.now(timezone.utc),
    )


class Tally:
    """The run summary's counts, from the pairs handed out and the records as they land."""

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.started = time.monotonic()

    def add(self, record: SampleRecord) -> None:
        if record.status == "ok":
            self.stats["samples"] += 1
            self.stats["truncated"] += record.truncated
            self.stats["unsplit"] += record.split_problem is not None
        else:
            self.failures[record.error_reason or "unknown"] += 1
        self.stats["prompt_tokens"] += record.prompt_tokens
        self.stats["completion_tokens"] += record.completion_tokens

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
            "completion_tokens": stats["completion_tokens"],
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


async def generate(
    recipe: Recipe, teacher: Teacher, writer: PartWriter, done: set[int], progress: Progress
) -> dict[str, Any]:
    """Run every pending pair; returns counts for the summary. Raises UserError on a fatal teacher error."""
    workers = worker_count(recipe, teacher)
    queue: asyncio.Queue[tuple[Problem, int] | None] = asyncio.Queue(maxsize=workers * 4)
    tally = Tally()
    fatal: list[TeacherFailure] = []

    async def produce() -> None:
        try:
            for pair in pending_pairs(recipe, done, tally):
                await queue.put(pair)
        finally:
            for _ in range(workers):
                await queue.put(None)

    async def work() -> None:
        while (item := await queue.get()) is not None:
            problem, index = item
            try:
                record = await sample_one(recipe, teacher, problem, index)
            except TeacherFailure as failure:
                fatal.append(failure)
                raise
            writer.add(record)
            tally.add(record)
            progress.advance(record.status == "ok", record.completion_tokens)

    # Modules and the engine loaded so far live for the whole run: freezing them keeps the cyclic
    # collector from rescanning them every few thousand requests (~5-10% of CPU at high rates).
    gc.collect()
    gc.freeze()
    tally.started = time.monotonic()
    tasks = [asyncio.create_task(produce())] + [asyncio.create_task(work()) for _ in range(workers)]
    try:
        await asyncio.gather(*tasks)
    except TeacherFailure:
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if fatal:
        raise fatal_error(recipe, fatal[0])
    return tally.summary()


def fatal_error(recipe: Recipe, failure: TeacherFailure) -> UserError:
    return UserError(f"teacher {recipe.teacher.spec} refused the request, stopping: {failure.detail}")
