"""Scores from one correctness matrix: problems × samples, each sample right or wrong.

Every figure `rfactory eval` prints comes from the same matrix, so no two can disagree (a
published eval once printed a pass@1 "over 64 samples" computed from 8):
- avg@n: the mean over problems of each problem's share of right samples (what model cards call
  pass@1), with its standard error across problems and a 95% interval (Student's t);
- pass@k: the unbiased estimator of Chen et al. (2021), `1 - C(n-c, k) / C(n, k)` in its stable
  product form, for every k up to the smallest n;
- maj@k: whether the answer most of the first k samples share is right, ties split evenly;
- a paired difference between two models on the same problems, with its interval.
Shared by `eval`, `compare` and anything else that scores samples (RL data keeps pass rates too).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import mpmath
from pydantic import BaseModel


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k samples drawn from n, c of them right, is right."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c})")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def t_quantile(df: int, p: float = 0.975) -> float:
    """Student's t quantile, by bisection on its CDF (mpmath's incomplete beta); no scipy needed."""
    if df <= 0:
        return float("nan")

    def cdf(t: float) -> float:
        x = df / (df + t * t)
        tail = 0.5 * float(mpmath.betainc(df / 2, 0.5, 0, x, regularized=True))
        return 1 - tail if t >= 0 else tail

    lo, hi = 0.0, 1000.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
    return (lo + hi) / 2


class Estimate(BaseModel):
    """A mean over problems, with its standard error and 95% interval."""

    mean: float
    stderr: float
    low: float
    high: float
    problems: int


def estimate(values: Sequence[float], bounds: tuple[float, float] = (-math.inf, math.inf)) -> Estimate:
    """The mean of `values` (one per problem); its interval is cut to `bounds`, where the
    quantity cannot go (a pass rate stays within 0 and 1)."""
    n = len(values)
    if n == 0:
        return Estimate(mean=0.0, stderr=0.0, low=0.0, high=0.0, problems=0)
    mean = sum(values) / n
    if n == 1:
        return Estimate(mean=mean, stderr=0.0, low=mean, high=mean, problems=1)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    se = sd / math.sqrt(n)
    half = t_quantile(n - 1) * se
    return Estimate(mean=mean, stderr=se, low=max(bounds[0], mean - half), high=min(bounds[1], mean + half), problems=n)


class Scores(BaseModel):
    problems: int
    samples_min: int  # samples per problem: every figure is over at least this many
    samples_max: int
    avg_at_n: Estimate
    pass_at: dict[int, float]  # k → mean pass@k
    maj_at: dict[int, float]  # k → mean maj@k (when answers were grouped)
    rates: dict[str, float]  # problem → share of its samples that are right


def score(correct: Mapping[str, Sequence[bool]], groups: Mapping[str, Sequence[str | None]] | None = None) -> Scores:
    """`correct[problem]`: each sample right or wrong, in sample order; `groups[problem]`: each
    sample's answer group (equal answers share one; None for no answer), for maj@k."""
    rows = {p: list(v) for p, v in correct.items() if len(v)}
    if not rows:
        raise ValueError("no problem has a sample to score")
    sizes = [len(v) for v in rows.values()]
    rates = {p: sum(v) / len(v) for p, v in rows.items()}
    n = min(sizes)
    pass_at = {k: sum(pass_at_k(len(v), sum(v), k) for v in rows.values()) / len(rows) for k in range(1, n + 1)}
    maj_at: dict[int, float] = {}
    if groups is not None:
        maj_at = {k: sum(majority_right(groups[p][:k], rows[p][:k]) for p in rows) / len(rows) for k in range(1, n + 1)}
    return Scores(problems=len(rows), samples_min=n, samples_max=max(sizes), avg_at_n=estimate(list(rates.values()), (0.0, 1.0)),
                  pass_at=pass_at, maj_at=maj_at, rates=rates)


def majority_right(groups: Sequence[str | None], correct: Sequence[bool]) -> float:
    """Whether the answer most samples share is right: 1, 0, or the share of right answers among
    the groups tied for most votes. Samples without an answer cast no vote."""
    votes = Counter(g for g in groups if g is not None)
    if not votes:
        return 0.0
    top = max(votes.values())
    tied = [g for g, count in votes.items() if count == top]
    right = {g for g, ok in zip(groups, correct) if g is not None and ok}
    return sum(g in right for g in tied) / len(tied)


class Difference(BaseModel):
    """A's pass rate minus B's, paired problem by problem."""

    mean: float
    stderr: float
    low: float
    high: float
    problems: int
    significant: bool  # the 95% interval leaves out zero


def paired_difference(a: Mapping[str, float], b: Mapping[str, float]) -> Difference:
    """On the problems both have; raises ValueError when they share none."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError("the two have no problem in common")
    e = estimate([a[p] - b[p] for p in shared], (-1.0, 1.0))
    return Difference(mean=e.mean, stderr=e.stderr, low=e.low, high=e.high, problems=e.problems,
                      significant=e.low > 0 or e.high < 0)
