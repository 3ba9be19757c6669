"""Math answers: is the final answer of a solution equivalent to the reference answer?

`verify(solution, gold)` for one pair; `verify_many(tasks)` for a run: each distinct reference is
parsed once, and the pairs are judged in worker processes under a hard deadline.
The pieces, top to bottom: `extract` finds the answer, `surface` settles its conventions (with
`units`), `answer` reads it into a typed value (through `latex`, our own parser), `equal` compares
values, `budget` bounds all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..pool import run_tasks
from ..verdict import Verdict
from . import budget, domain
from .answer import Items, Value, other_reading, parse_answer
from .equal import equal
from .extract import answer_text, last_boxes, reference_text, solution_section
from .surface import clean

DEFAULT_TIMEOUT_S = 2.0
VERIFIER_FAILED = "verifier failed: "  # begins the reason of a verdict the worker could not give (it died, or raised)


@dataclass(frozen=True)
class Reading:
    normalised: str | None
    value: Value | None
    problem: str | None = None  # why there is no value
    other: Value | None = None  # a second value the text allows (2,74 with a decimal comma)

    def values(self) -> list[Value]:
        return [v for v in (self.value, self.other) if v is not None]


@dataclass(frozen=True)
class Reference:
    text: str | None  # the answer found in the gold
    reading: Reading
    problem: str | None = None  # why it could not be read
    gold: str = ""  # the reference as given: a worked one may state its variables' domain

    @property
    def normalised(self) -> str | None:
        return self.reading.normalised

    @property
    def value(self) -> Value | None:
        return self.reading.value


def _one_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


def _verbatim(text: str) -> str:
    return " ".join(text.split())


def _read(text: str) -> Reading:
    """What one answer string says: its normalised text, its value(s), or why it has none."""
    if len(text) > budget.MAX_ANSWER_CHARS:  # compared verbatim, never parsed
        return Reading(_verbatim(text), None, f"longer than {budget.MAX_ANSWER_CHARS} characters")
    try:
        normalised, value = parse_answer(text)
        return Reading(normalised, value, None, other_reading(text))
    except budget.Timeout:
        raise
    except Exception as e:  # ParseError, TooCostly, RecursionError, or whatever sympy raises on odd input
        problem = _one_line(e)
    try:
        return Reading(clean(text).text, None, problem)
    except budget.Timeout:
        raise
    except Exception:
        return Reading(None, None, problem)


@lru_cache(maxsize=4096)
def parse_reference(gold: str) -> Reference:
    text = reference_text(gold)
    if text is None:
        return Reference(None, Reading(None, None), "no answer found in the reference", gold)
    reading = _read(text)
    return Reference(text, reading, reading.problem and f"reference not readable: {reading.problem}", gold)


def judge(solution: str, ref: Reference) -> Verdict:
    """The verdict for one solution against an already parsed reference."""
    if ref.text is None:
        return Verdict(passed=False, status="gold_unparseable", reason=ref.problem or "no reference answer")
    found, where = answer_text(solution)
    seen = {"extracted": found, "expected": ref.text, "expected_normalised": ref.normalised}
    if found is None:
        return Verdict(passed=False, status="no_answer", reason=where, **seen)
    answer = _read(found)
    seen["normalised"] = normalised = answer.normalised
    if normalised is not None and ref.normalised is not None and _verbatim(normalised) == _verbatim(ref.normalised):
        return Verdict(passed=True, status="correct", reason=f"same answer text ({where})", **seen)
    if ref.value is None:
        return Verdict(passed=False, status="gold_unparseable", reason=ref.problem or "reference not readable", **seen)
    if answer.value is None:
        return Verdict(passed=False, status="parse_error", reason=answer.problem or "answer not readable", **seen)
    try:
        with domain.stated_in(solution_section(solution), ref.gold):
            same = any(equal(a, b) for a in answer.values() for b in ref.reading.values())
        if not same and isinstance(ref.value, Items) and len(ref.value.items) > 1 and where == "boxed":
            if parts := _parts_matching(solution, ref.value):
                same, where = True, "one box per part"
                seen["extracted"] = seen["normalised"] = parts
    except budget.Timeout:
        raise
    except Exception as e:  # sympy raises a zoo of types on odd input; each is this answer's parse error
        return Verdict(passed=False, status="parse_error", reason=f"comparison failed: {_one_line(e)}", **seen)
    if same:
        return Verdict(passed=True, status="correct", reason=f"equivalent ({where})", **seen)
    return Verdict(passed=False, status="mismatch", reason=f"not equivalent ({where})", **seen)


def _parts_matching(solution: str, ref: Items) -> str | None:
    """A multi-part reference ("4, 9") answered one box per part ("(a) … \\boxed{4} (b) … \\boxed{9}"):
    the parts, if they match."""
    boxes = last_boxes(solution, len(ref.items))
    if boxes is None:
        return None
    parts = ", ".join(boxes)
    value = _read(parts).value
    return parts if value is not None and equal(value, ref) else None


def _within(timeout_s: float, fn, *args) -> Verdict:
    with budget.deadline(timeout_s):
        try:
            return fn(*args)
        except budget.Timeout:
            return Verdict(passed=False, status="timeout", reason=f"no verdict within {timeout_s:g}s")


def verify(solution: str, gold: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Verdict:
    """Compare the final answer of `solution` with `gold` (bare, delimited, boxed or a worked solution).

    Safe from any thread; the deadline here is cooperative (see `budget`), `verify_many` adds a hard one.
    """
    return _within(timeout_s, lambda: judge(solution, parse_reference(gold)))


def _judge_task(solution: str, ref: Reference, timeout_s: float) -> Verdict:
    return _within(timeout_s, judge, solution, ref)


def read_reference(gold: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Reference:
    """`parse_reference` under a deadline; a gold not read in time has no answer (and is not cached)."""
    with budget.deadline(timeout_s):
        try:
            return parse_reference(gold)
        except budget.Timeout:
            return Reference(None, Reading(None, None), f"reference not read within {timeout_s:g}s", gold)


def judge_many(
    tasks: Iterable[tuple[Any, str, Reference]], timeout_s: float = DEFAULT_TIMEOUT_S, workers: int = 1,
    persistent: bool = False,
) -> Iterator[tuple[Any, Verdict]]:
    """(key, Verdict) for each (key, solution, parsed reference), in completion order.

    A worker stuck past twice the deadline is killed and replaced, and its pair gets a `timeout`
    verdict. The workers are this call's own, gone when it ends, or with `persistent` this
    process's shared pool, kept for the next call (a reward called every training step).
    """
    jobs = ((key, (solution, ref, timeout_s)) for key, solution, ref in tasks)
    hard = 2 * timeout_s + 1
    for key, status, payload in run_tasks(_judge_task, jobs, hard, workers, persistent=persistent):
        if status == "ok":
            yield key, Verdict(**payload)
        elif status == "timeout":
            yield key, Verdict(passed=False, status="timeout", reason=payload)
        else:
            yield key, Verdict(passed=False, status="parse_error", reason=VERIFIER_FAILED + payload)


def verify_many(
    tasks: Iterable[tuple[Any, str, str]], timeout_s: float = DEFAULT_TIMEOUT_S, workers: int = 1
) -> Iterator[tuple[Any, Verdict]]:
    """(key, Verdict) for each (key, solution, gold), in completion order, as `judge_many` gives them.

    Each distinct gold is parsed once, here; workers get it parsed. No worker outlives this.
    """
    return judge_many(((key, solution, read_reference(gold, timeout_s)) for key, solution, gold in tasks),
                      timeout_s, workers)


__all__ = ["VERIFIER_FAILED", "Reference", "Verdict", "judge_many", "parse_reference", "read_reference", "verify", "verify_many"]
