"""Inference-time scaling: what a best-of-n strategy would score with the first k samples of each
problem, for every k up to n, from the same verdicts as every other figure.

- `majority`: the answer most of the k samples share (maj@k);
- `verifier`: an oracle that knows which samples are right, the upper bound any selector can
  reach (pass@k, the unbiased estimator);
- `tests` (code): S*-style selection. Each candidate runs on the problem's public tests, the
  ones a contestant sees; the one passing the most of them (the earliest of those tied) is
  submitted and scored by its verdict on every test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

from ..benchmarks import LoadedBenchmark
from ..errors import UserError
from ..recipe import Recipe
from ..runstore import Run, write_json_atomic
from ..scoring import Scores

def _public_passes(run: Run, bench: LoadedBenchmark, recipe: Recipe) -> dict[str, dict[str, int]]:
    """problem → sample index → how many of its public tests the sample passes. Each sample is
    judged once and kept in the run folder: rescoring runs nothing, more samples run only theirs."""
    from rfactory.verifiers.code import verify_many

    cache = run.root / "public_tests.json"
    out: dict[str, dict[str, int]] = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    public = {p.id: p.public_tests for p in bench.problems if p.public_tests}
    rows = [(r["problem_id"], str(r["sample_index"]), r["solution"] or "") for r in run.iter_latest_samples(
        ["problem_id", "sample_index", "status", "solution"])
        if r["status"] == "ok" and r["problem_id"] in public and str(r["sample_index"]) not in out.get(r["problem_id"], {})]
    if not rows:
        return out
    options = recipe.verifier.code.model_dump() | {"stop_on_first_failure": False}  # a count, not a pass
    tasks = ((n, solution, public[pid]) for n, (pid, _, solution) in enumerate(rows))
    for n, verdict in verify_many(tasks, timeout_s=recipe.verifier.timeout_s,
                                  workers=recipe.verifier.workers or os.cpu_count() or 1, **options):
        tests = json.loads(verdict.detail) if verdict.detail else []
        out.setdefault(rows[n][0], {})[rows[n][1]] = sum(t["status"] == "passed" for t in tests)
    write_json_atomic(cache, out)
    return out


def by_public_tests(candidates: Sequence[tuple[bool, int]], k: int) -> bool:
    """Whether the candidate chosen among the first k, each (right, public tests passed), is right:
    the most public tests passed, the earliest of those tied."""
    best = max(range(k), key=lambda i: (candidates[i][1], -i))
    return candidates[best][0]


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
            rows = [[(ok, public.get(p, {}).get(str(i), 0)) for i, ok in v] for p, v in samples.items()]
            out[strategy] = {k: sum(by_public_tests(r, k) for r in rows) / len(rows)
                             for k in range(1, scores.samples_min + 1)}
    return out


def check(strategies: Sequence[str], bench: LoadedBenchmark) -> None:
    """One line, before any work, for a strategy the benchmark cannot have."""
    d = bench.definition
    if "majority" in strategies and d.kind == "code":
        raise UserError(f"--select majority: {d.name} is a code benchmark, whose answers do not vote; use --select tests")
    if "tests" in strategies and (d.kind != "code" or not any(p.public_tests for p in bench.problems)):
        raise UserError(f"--select tests: {d.name} has no public tests to select by")


def selection_curves(strategies: Sequence[str], run: Run, bench: LoadedBenchmark, recipe: Recipe, scores: Scores,
                     samples: Mapping[str, Sequence[tuple[int, bool]]]) -> dict[str, dict[int, float]]:
    public = _public_passes(run, bench, recipe) if "tests" in strategies else None
    return curves(strategies, scores, samples, public)
