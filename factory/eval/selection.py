"""Inference-time scaling: what a best-of-n strategy would score with the first k samples of each
problem, for every k up to n, from the same verdicts as every other figure.

- `majority`: the answer most of the k samples share (maj@k);
- `verifier`: an oracle that knows which samples are right, the upper bound any selector can
  reach (pass@k, the unbiased estimator);
- `tests` (code): S*'s first stage. Each candidate runs on the problem's public tests, the
  ones a contestant sees; the one passing the most of them (the earliest of those tied) is
  submitted and scored by its verdict on every test;
- `distinguish` (code): S* whole. Ties on the public tests are broken on inputs the model writes
  to tell the candidates apart, the model judging whose output is right (`distinguish.py`);
- `prm:PATH` (`prm-prod:PATH`): the sample a process reward model (`rfactory train-prm`) scores
  highest, a solution's score being its lowest step score (their product), the earliest of those
  tied. Each sample's step scores are computed once and kept in the run folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..benchmarks import LoadedBenchmark
from ..errors import UserError
from ..recipe import Recipe
from ..runstore import Run, write_json_atomic
from ..scoring import Scores
from ..stepwise import SEPARATOR, PRMScorer, PRMScores, StepRule
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


PRM = ("prm:", "prm-prod:")


def _prm_folder(strategy: str) -> Path:
    return Path(strategy.partition(":")[2]).expanduser()


def _prm_step_scores(run: Run, folder: Path) -> dict[str, dict[str, list[float]]]:
    """problem → sample index → the PRM's score after each step of the sample's solution, cut at
    blank lines (label-steps' default rule); kept per PRM in the run folder."""
    cache = run.root / "prm-scores.json"
    every: dict[str, dict[str, dict[str, list[float]]]] = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    key = str(folder.resolve())
    scores = every.setdefault(key, {})
    rows = [r for r in run.iter_latest_samples(["problem_id", "sample_index", "status", "problem", "solution"])
            if r["status"] == "ok" and str(r["sample_index"]) not in scores.get(r["problem_id"], {})]
    if rows:
        settings = folder / "prm.json"
        train = json.loads(settings.read_text(encoding="utf-8"))["recipe"]["train"] if settings.is_file() else {}
        scorer = PRMScorer(str(folder), train.get("separator", SEPARATOR), train.get("max_length", 4096))
        rule = StepRule()
        for r in rows:
            steps = rule.cut(r["solution"] or "")
            scores.setdefault(r["problem_id"], {})[str(r["sample_index"])] = scorer.score(r["problem"], steps).steps
        write_json_atomic(cache, every)
    return scores


def prm_curve(strategy: str, run: Run, samples: Mapping[str, Sequence[tuple[int, bool]]], n: int) -> dict[int, float]:
    how = "prod" if strategy.startswith("prm-prod:") else "min"
    steps = _prm_step_scores(run, _prm_folder(strategy))
    rows = [[(ok, PRMScores(steps=steps.get(pid, {}).get(str(i), [])).aggregate(how)) for i, ok in v]
            for pid, v in samples.items()]
    return {k: sum(r[max(range(min(k, len(r))), key=lambda i: (r[i][1], -i))][0] for r in rows) / len(rows)
            for k in range(1, n + 1)}


def check(strategies: Sequence[str], bench: LoadedBenchmark) -> None:
    """One line, before any work, for a strategy the benchmark cannot have."""
    for strategy in strategies:
        if strategy.startswith(PRM) and not (_prm_folder(strategy) / "config.json").is_file():
            raise UserError(f"--select {strategy}: no model folder there (train one with `rfactory train-prm`)")
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
    for strategy in strategies:
        if strategy.startswith(PRM):
            out[strategy] = prm_curve(strategy, run, samples, scores.samples_min)
    return out
