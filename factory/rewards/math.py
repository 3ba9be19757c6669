"""`math_reward`: 1.0 when the completion's final answer is equivalent to the row's `solution`.

The answer is read from the part after the reasoning (after `</think>`, or the Sky-T1 solution
section), as the math verifier always reads it; a completion whose thought never closed has no
answer (0.0, status no_answer). None, never 0, where the completion cannot be judged: the row has
no `solution` (no_gold), our verifier cannot read the gold (gold_unparseable), the verdict ran
out of time (timeout: the verifier failed, not the model; a stuck worker is killed at twice
`timeout_s` + 1 s), or the worker died or raised (verifier_error). A policy that learned to write answers the verifier cannot judge in time
would dodge its penalties this way: `math_reward/none_rate` rising during training shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..verifiers.math import DEFAULT_TIMEOUT_S, VERIFIER_FAILED, Reference, judge_many, read_reference
from .base import VerifierReward, checked, column, default_workers, read_golds
from .diagnostics import Scored

# statuses that say nothing about the completion; every other failure is the model's
_NOT_JUDGED = ("timeout", "gold_unparseable")


class MathOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0)  # per completion
    workers: int | None = Field(None, ge=1)  # default: every core, shared among local trainer processes


def _read(gold: str, timeout_s: float) -> tuple[Reference | None, str | None]:
    ref = read_reference(gold, timeout_s)
    return (ref, None) if ref.value is not None else (None, ref.problem)


def score_math(texts: Sequence[str], golds: Sequence[Any], options: MathOptions = MathOptions()) -> list[Scored]:
    """One Scored per completion: each distinct gold read once, here, the completions judged in
    this process's persistent pool of verifier workers."""
    scored, tasks = read_golds(texts, golds, lambda gold: _read(gold, options.timeout_s), "solution")
    judged = judge_many(((i, text, ref) for i, text, _, ref in tasks), options.timeout_s,
                        options.workers or default_workers(), persistent=True)
    for i, v in judged:
        if v.reason.startswith(VERIFIER_FAILED):  # a worker that died or raised: infrastructure, not the model
            scored[i] = Scored(None, "verifier_error", v.reason, v.extracted)
        else:
            scored[i] = Scored(None if v.status in _NOT_JUDGED else float(v.passed), v.status, v.reason, v.extracted)
    return scored  # type: ignore[return-value]


class MathReward(VerifierReward):
    prefix, no_answer, gold_columns = "math", "no_answer", ("solution",)

    def __init__(self, options: MathOptions):
        self.options = options
        self.__name__ = "math_reward"

    def golds(self, columns: dict[str, Any], n: int) -> list[Any]:
        golds = column(columns, "solution", n)
        return self.missing(columns, n) if golds is None else golds

    def score(self, texts: Sequence[str], golds: Sequence[Any]) -> list[Scored]:
        return score_math(texts, golds, self.options)


def make_math_reward(timeout_s: float = DEFAULT_TIMEOUT_S, workers: int | None = None) -> MathReward:
    """A math reward with its own deadline per completion and pool size."""
    return MathReward(checked(MathOptions, timeout_s=timeout_s, workers=workers))
