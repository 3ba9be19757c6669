"""`code_reward`: 1.0 when the completion's program passes every test of its row, run in the
code verifier's sandbox (one per worker process, started once and kept); or, with `partial`, the
fraction of the tests it passes (every test is run).

The tests come from the row's `tests` column (JSON text or a dict in any format
`verifiers/code/suite.py` reads: TACO/APPS, CodeContests, HumanEval, our own) or else open-r1's
`verification_info` ({"language": "python", "test_cases": [{"input", "output", "type":
"stdin_stdout"}]}). The program is the last Python block after the reasoning; none is no_code,
0.0. None, never 0, where the completion cannot be judged: no tests in the row, tests that cannot
be read (gold_unparseable), or a sandbox that failed (sandbox_error: infrastructure, not the
model). Where no isolation works on this machine the reward raises SandboxUnavailable rather than
run untrusted code unsandboxed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..verifiers.code import MEMORY_MB, TIMEOUT_S, verify_many
from ..verifiers.code.suite import SuiteError, TestSuite, parse_suite
from ..verifiers.verdict import Verdict
from .base import VerifierReward, checked, column, default_workers, gold_text, read_golds
from .diagnostics import Scored

_NOT_JUDGED = ("sandbox_error", "gold_unparseable")


class CodeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    partial: bool = False  # the fraction of tests passed, instead of all or nothing
    timeout_s: float = Field(TIMEOUT_S, gt=0)  # per test
    memory_mb: int = Field(MEMORY_MB, ge=32)
    workers: int | None = Field(None, ge=1)  # default: two per core, shared among local trainer processes


# A code worker is latency-bound: it waits on its sandbox, which waits on each test's forks and
# pipes, one test at a time. Two per core keep the cores busy (on 2 cores: 66-81 completions/s
# with one per core, 98-100 with two; the subprocess baseline gains nothing from more threads).
WORKERS_PER_CORE = 2


def _read(gold: str) -> tuple[TestSuite | None, str | None]:
    try:
        return parse_suite(gold), None
    except SuiteError as e:
        return None, str(e)[:200]


def _fraction(v: Verdict, suite: TestSuite) -> float:
    outcomes = json.loads(v.detail) if v.detail else []
    return sum(o["status"] == "passed" for o in outcomes) / suite.size()


def score_code(texts: Sequence[str], tests: Sequence[Any], options: CodeOptions = CodeOptions()) -> list[Scored]:
    """One Scored per completion: each distinct suite read once, here, the programs run in this
    process's persistent pool of sandboxed workers."""
    scored, tasks = read_golds(texts, tests, _read, "tests")
    suites = {i: suite for i, _, _, suite in tasks}
    workers = options.workers or default_workers(WORKERS_PER_CORE)
    for i, v in verify_many(((i, text, gold) for i, text, gold, _ in tasks), options.timeout_s, workers,
                            options.memory_mb, stop_on_first_failure=not options.partial, persistent=True):
        if v.status in _NOT_JUDGED:
            score = None
        else:
            score = _fraction(v, suites[i]) if options.partial else float(v.passed)
        scored[i] = Scored(score, v.status, v.reason, v.extracted)
    return scored  # type: ignore[return-value]


class CodeReward(VerifierReward):
    prefix, no_answer, gold_columns = "code", "no_code", ("tests", "verification_info")

    def __init__(self, options: CodeOptions):
        self.options = options
        self.__name__ = "code_reward_partial" if options.partial else "code_reward"

    def golds(self, columns: dict[str, Any], n: int) -> list[Any]:
        """Each row's `tests`, or its `verification_info` where it has no tests."""
        tests, info = column(columns, "tests", n), column(columns, "verification_info", n)
        if tests is None and info is None:
            return self.missing(columns, n)
        tests, info = tests or [None] * n, info or [None] * n
        return [t if gold_text(t) is not None else v for t, v in zip(tests, info)]

    def score(self, texts: Sequence[str], golds: Sequence[Any]) -> list[Scored]:
        return score_code(texts, golds, self.options)


def make_code_reward(partial: bool = False, timeout_s: float = TIMEOUT_S, memory_mb: int = MEMORY_MB,
                     workers: int | None = None) -> CodeReward:
    """A code reward: all or nothing, or with `partial` the fraction of tests passed."""
    return CodeReward(checked(CodeOptions, partial=partial, timeout_s=timeout_s, memory_mb=memory_mb, workers=workers))
