"""Inference-time scaling: what a best-of-n strategy would score with the first k samples of each
problem, for every k up to n, from the same verdicts as every other figure.

- `majority`: the answer most of the k samples share (maj@k);
- `verifier`: an oracle that knows which samples are right, the upper bound any selector can
  reach (pass@k, the unbiased estimator);
- `tests` (code): S*'s first stage. Each candidate runs on the problem's public tests, the
  ones a contestant sees; the one passing the most of them (the earliest of those tied) is
  submitted and scored by its verdict on every test;
- `distinguish` (code): S* whole. Ties on the public tests are broken on inputs the model writes
  to tell the candidates apart, the model judging whose output is right (`distinguish.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..benchmarks import LoadedBenchmark
from ..errors import UserError
from ..recipe import Recipe
from ..runstore import Run
from ..scoring import Scores
from . import distinguish
from .public_tests import public_passes, ranked, tied


def curves(strategies: Sequence[str], scores: Scores, samples: Mapping[str, Sequence[tuple[int, bool]]],
           public: Mapping[str, Mapping[str, int]] | None) -> dict[str, dict[int, float]]:
    """strategy → k → accuracy over problems; `samples`: each problem's (sample index, right)."""
    out: dict[str, dict[int, float]] = {}
    for strategy in strategies:
        if strategy == "verifier":
            out[strategy] = dict(scores.pass_at)
        elif strategy == "majority":
            out[strategy] = dict(scores.maj_at)
        elif strategy == "tests" and public is not None:
            rows = [ranked(v, public.get(p, {})) for p, v in samples.items()]
            out[strategy] = {k: sum(tied(r, k)[0].right for r in rows) / len(rows)
                             for k in range(1, scores.samples_min + 1)}
    return out


def check(strategies: Sequence[str], bench: LoadedBenchmark) -> None:
    """One line, before any work, for a strategy the benchmark cannot have."""
    d = bench.definition
    if "majority" in strategies and d.kind == "code":
        raise UserError(f"--select majority: {d.name} is a code benchmark, whose answers do not vote; use --select tests")
    for strategy in ("tests", "distinguish"):
        if strategy in strategies and (d.kind != "code" or not any(p.public_tests for p in bench.problems)):
            raise UserError(f"--select {strategy}: {d.name} has no public tests to select by")


def selection_curves(strategies: Sequence[str], run: Run, bench: LoadedBenchmark, recipe: Recipe, scores: Scores,
                     samples: Mapping[str, Sequence[tuple[int, bool]]]) -> dict[str, dict[int, float]]:
    public = public_passes(run, bench, recipe) if "tests" in strategies else None
    out = curves(strategies, scores, samples, public)
    if "distinguish" in strategies:
        out["distinguish"] = distinguish.curve(bench, run, recipe, samples, scores.samples_min)
    return out
