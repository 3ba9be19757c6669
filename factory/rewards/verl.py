"""rfactory's verifiers as verl's custom reward function.

verl loads the file named in its config on its own, outside any package, so point it at a
one-line file, `from rfactory.rewards.verl import compute_score, compute_score_batch`:

    custom_reward_function:
      path: rfactory_reward.py       # that line
      name: compute_score            # verl's naive and prime reward managers: one sample a call
      # name: compute_score_batch    # verl's batch reward manager: a whole batch, judged in parallel

A sample is code when its ground truth is a test suite our suite reader accepts, or its
data_source names a code set; else math. verl needs a number for every sample, so where our
rewards give None (no gold, a gold we cannot read, a verifier timeout, a sandbox failure) the
score here is 0.0 and `status` says which (gold_unparseable, timeout, sandbox_error, no_gold):
filter on it rather than read those zeros as wrong answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..verifiers.code.suite import SuiteError, parse_suite
from .code import CodeReward, score_code
from .diagnostics import Scored, publish
from .math import MathReward, score_math

_CODE_SOURCES = ("code", "taco", "apps", "codeforces", "leetcode", "livecodebench", "humaneval", "mbpp")


def _is_code(data_source: str, ground_truth: Any) -> bool:
    if isinstance(ground_truth, dict) or any(s in str(data_source).lower() for s in _CODE_SOURCES):
        return True
    if not isinstance(ground_truth, str) or not ground_truth.lstrip().startswith("{"):
        return False
    try:
        parse_suite(ground_truth)
    except SuiteError:  # "{1, 2}" is a math answer
        return False
    return True


def _result(s: Scored) -> dict[str, Any]:
    return {"score": 0.0 if s.score is None else s.score, "status": s.status, "answer": s.answer or ""}


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """{"score", "status", "answer"} for each sample, math and code judged in parallel in this
    process's verifier pools. `extra_infos` is taken because verl passes it; nothing in it is read."""
    code = [_is_code(d, g) for d, g in zip(data_sources, ground_truths, strict=True)]
    results: list[dict[str, Any]] = [{}] * len(code)
    for reward, score in ((MathReward, score_math), (CodeReward, score_code)):
        where = [i for i, c in enumerate(code) if c == (reward is CodeReward)]
        if not where:
            continue
        scored = score([solution_strs[i] for i in where], [ground_truths[i] for i in where])
        publish(reward.prefix, f"verl_{reward.prefix}", reward.no_answer, scored, None, None)
        for i, s in zip(where, scored):
            results[i] = _result(s)
    return results


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None) -> dict[str, Any]:
    """verl's per-sample reward: {"score": 1.0 or 0.0, "status", "answer"}; 0.0 with status
    gold_unparseable (or no_gold, timeout, sandbox_error) where the sample cannot be judged."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info])[0]
