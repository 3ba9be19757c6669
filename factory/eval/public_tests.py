"""S*'s first stage: how many of a problem's public tests (the ones a contestant sees) each sample
passes, judged once and kept in the run folder."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..benchmarks import LoadedBenchmark
from ..recipe import Recipe
from ..runstore import Run, write_json_atomic


def public_passes(run: Run, bench: LoadedBenchmark, recipe: Recipe) -> dict[str, dict[str, int]]:
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


class Candidate(NamedTuple):
    index: int  # the sample's index
    right: bool  # its verdict on every test
    public: int  # public tests it passes


def ranked(samples: Sequence[tuple[int, bool]], public: Mapping[str, int]) -> list[Candidate]:
    return [Candidate(i, ok, public.get(str(i), 0)) for i, ok in samples]


def tied(candidates: Sequence[Candidate], k: int) -> list[Candidate]:
    """Among the first k, those passing the most public tests (S*'s first stage)."""
    best = max(c.public for c in candidates[:k])
    return [c for c in candidates[:k] if c.public == best]
