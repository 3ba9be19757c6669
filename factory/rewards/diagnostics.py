"""Why each completion scored what it did, told where a trainer's user looks.

"The accuracy reward is stuck at 0" has a handful of causes (answers never found, golds that do
not parse, a sandbox that fails, a verifier that times out); each call says which through three
channels: TRL's completions table (`log_extra`: the extracted answer, status and reason of every
completion), TRL's metrics (`log_metric`: the share of None and of completions with no answer),
and the `rfactory.rewards` logger (one INFO line per call, one DEBUG line per completion).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple

logger = logging.getLogger("rfactory.rewards")


class Scored(NamedTuple):
    score: float | None  # None: the completion cannot be judged (no gold, a verifier failure)
    status: str  # the verifier's status, or no_gold
    reason: str
    answer: str | None = None  # what was judged: the extracted answer, or the program


def publish(prefix: str, name: str, no_answer: str, scored: Sequence[Scored],
            log_extra: Callable[[str, list], None] | None, log_metric: Callable[[str, float], None] | None) -> None:
    """`prefix` names the columns (math_answer, math_status, math_reason), `name` the metrics
    (math_reward/none_rate); `no_answer` is the status of a completion with nothing to judge."""
    n = len(scored)
    if n == 0:
        return
    scores = [s.score for s in scored if s.score is not None]
    none_rate = 1 - len(scores) / n
    no_answer_rate = sum(s.status == no_answer for s in scored) / n
    if log_extra is not None:
        log_extra(f"{prefix}_answer", [s.answer for s in scored])
        log_extra(f"{prefix}_status", [s.status for s in scored])
        log_extra(f"{prefix}_reason", [s.reason for s in scored])
    if log_metric is not None:
        log_metric(f"{name}/none_rate", none_rate)
        log_metric(f"{name}/no_answer_rate", no_answer_rate)
    mean = f"{sum(scores) / len(scores):.3f}" if scores else "-"
    statuses = ", ".join(f"{k} {v}" for k, v in Counter(s.status for s in scored).most_common())
    logger.info("%s: n=%d mean=%s none=%.1f%% %s=%.1f%% [%s]", name, n, mean, 100 * none_rate, no_answer,
                100 * no_answer_rate, statuses)
    if logger.isEnabledFor(logging.DEBUG):
        for i, s in enumerate(scored):
            logger.debug("%s[%d]: %s %s (%s) answer=%r", name, i, s.score, s.status, s.reason, (s.answer or "")[:200])
