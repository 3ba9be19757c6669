"""Which step prefixes to roll out, and the labels their rollouts give.

A prefix (the first k steps of a trace) is right when some continuation from it reaches the
reference answer (Math-Shepherd's hard estimate); its soft label is the share of its rollouts
that do. The trace's own remainder is such a continuation, so every prefix of a trace that
reached the answer is right without a rollout, and the whole of a trace that did not is wrong.

- `linear` (Math-Shepherd): every prefix but the whole trace gets `rollouts` continuations.
- `binary` (OmegaPRM's observation): a wrong trace has a first wrong step, after which no prefix
  recovers; binary search over prefix lengths finds it in about log2(M) probes. A probed prefix is
  rolled out `chunk` at a time and stops at its first success: its label is then settled. Steps
  before the first wrong one are labelled right, it and the ones after wrong. A right trace needs
  no rollout at all.

Everything here is a pure function of the rollouts seen so far, so a resumed run replays the
search from its stored rollouts and asks only for what is still missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel

Search = Literal["binary", "linear"]
Outcomes = Mapping[int, Sequence[bool]]  # prefix length → each rollout's result, in sample order


class Labels(BaseModel):
    hard: list[bool]  # one per step: right after that step
    soft: list[float | None]  # the share of rollouts from that prefix that reached the answer; None: none made
    rollouts: list[int]  # rollouts made from each prefix
    first_error: int | None  # 0-based index of the first wrong step; None when every step is right


def needed(steps: int, correct: bool, outcomes: Outcomes, search: Search, rollouts: int, chunk: int) -> dict[int, int]:
    """prefix length → how many rollouts it should have after the next round; empty once settled."""
    if search == "linear":
        return {k: rollouts for k in range(1, steps) if len(outcomes.get(k, ())) < rollouts}
    if correct:
        return {}
    lo, hi = 0, steps
    while hi - lo > 1:
        mid = (lo + hi) // 2
        seen = outcomes.get(mid, ())
        if any(seen):
            lo = mid
        elif len(seen) >= rollouts:
            hi = mid
        else:
            return {mid: min(rollouts, len(seen) + chunk)}
    return {}


def _first_wrong_by_search(steps: int, outcomes: Outcomes) -> int:
    """The prefix length the binary search settles on as the first wrong one (the search is done)."""
    lo, hi = 0, steps
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if any(outcomes.get(mid, ())):
            lo = mid
        else:
            hi = mid
    return hi


def labels(steps: int, correct: bool, outcomes: Outcomes, search: Search) -> Labels:
    made = [len(outcomes.get(k, ())) for k in range(1, steps + 1)]
    soft: list[float | None] = [sum(outcomes[k]) / len(outcomes[k]) if outcomes.get(k) else None
                                for k in range(1, steps + 1)]
    soft[-1] = 1.0 if correct else 0.0  # the whole trace: its own verdict
    if search == "linear" or correct:
        hard = [correct or any(outcomes.get(k, ())) for k in range(1, steps)] + [correct]
    else:
        wrong_from = _first_wrong_by_search(steps, outcomes)
        hard = [k < wrong_from for k in range(1, steps + 1)]
    first = next((i for i, ok in enumerate(hard) if not ok), None)
    return Labels(hard=hard, soft=soft, rollouts=made, first_error=first)


def monotone(hard: Sequence[bool]) -> bool:
    """Right steps, then wrong ones, never right again: the labels have one first error."""
    return all(a or not b for a, b in zip(hard, hard[1:]))
