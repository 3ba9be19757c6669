"""A verified eval run → its correctness matrix → every figure of `results.json`.

Right or wrong is the verifier's verdict; why a sample is wrong is counted apart (ran out of
tokens, gave no answer, an answer that did not parse, a timeout, a different answer), so "the
model is worse" and "the model ran out of tokens" are different lines. A pair whose generation
failed is not a wrong answer: it is missing, the run is incomplete, and the result says so.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

from pydantic import BaseModel

from .. import __version__
from ..benchmarks import LoadedBenchmark
from ..recipe import Recipe
from ..runstore import Run
from ..scoring import Difference, Scores, paired_difference, score
from ..verify import judged_samples
from .selection import selection_curves

# Sampling noise (between seeds) of avg@n above this many points earns a warning with the n
# that would bring it under: AIME at n = 1 moves by about 8 points from one seed to the next.
NOISE_WARNING = 0.02


class Outcomes(BaseModel):
    """Every generated sample, by what became of it."""

    right: int
    wrong_answer: int
    no_answer: int
    unparsed: int  # the answer (or the reference) could not be read
    timeout: int
    crashed: int = 0  # code that raised, ran out of memory or printed without end
    truncated: int  # stopped at max_tokens (counted within the others too)
    missing: int  # generation failed: not scored, and the run is incomplete
    sandbox_error: int = 0  # the sandbox failed, not the program: not scored either


class BenchmarkResult(BaseModel):
    benchmark: str
    kind: str = "math"  # math, choice or code: the verifier that judged it
    repo: str
    revision: str | None
    content_hash: str
    problems: int
    samples: int  # per problem (the smallest, where they differ)
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    scores: Scores
    seed_noise: float  # the standard deviation of avg@n between seeds, from the observed rates
    outcomes: Outcomes
    selection: dict[str, dict[int, float]] = {}  # best-of-n strategy → k → accuracy (`--select`)
    choice_seeds: dict[str, int] | None = None  # choice: each problem's option-shuffle seed
    warnings: list[str]


_STATUSES = {"right": ("correct", "passed"), "wrong_answer": ("mismatch", "wrong_answer"),
             "no_answer": ("no_answer", "no_code"), "unparsed": ("parse_error", "gold_unparseable"),
             "timeout": ("timeout",), "crashed": ("runtime_error", "memory_limit", "output_limit")}
_UNSCORED = ("generation_failed", "sandbox_error")  # no verdict on the model: missing, not wrong


class Judged(NamedTuple):
    """A benchmark's verdicts: each problem's scored samples in sample order, and every status counted."""

    samples: dict[str, list[tuple[int, bool, str | None]]]  # (sample index, right, answer group)
    counts: Counter[str]

    def right(self) -> dict[str, list[tuple[int, bool]]]:
        """Each problem's (sample index, right), the candidates a best-of-n strategy picks from."""
        return {p: [(i, ok) for i, ok, _ in v] for p, v in self.samples.items()}


def judged(run: Run, bench: LoadedBenchmark, groups: dict[str, dict[str, str]] | None) -> Judged:
    """`groups`: each problem's distinct answers → their group (`verifiers.math.groups`), for maj@k;
    None: an answer is its own group (a choice letter), or, for code, there is no vote."""
    code = bench.definition.kind == "code"
    correct: dict[str, list[tuple[int, bool, str | None]]] = {}
    counts: Counter[str] = Counter()
    for row, verdict in judged_samples(run, ["status", "finish_reason", "truncated"]):
        if verdict["status"] in _UNSCORED:
            counts[verdict["status"]] += 1
            continue
        counts[verdict["status"]] += 1
        counts["truncated"] += bool(row["truncated"])
        answer = verdict["extracted"]
        if not answer or code:
            group = None
        elif groups is None:
            group = answer
        else:
            group = groups.get(row["problem_id"], {}).get(" ".join(answer.split()))
        correct.setdefault(row["problem_id"], []).append((row["sample_index"], bool(verdict["passed"]), group))
    return Judged({pid: sorted(v) for pid, v in correct.items()}, counts)


def benchmark_result(run: Run, bench: LoadedBenchmark, recipe: Recipe, verdicts: Judged,
                     select: Sequence[str] = ()) -> BenchmarkResult:
    code = bench.definition.kind == "code"
    correct, counts = verdicts
    matrix = {pid: [ok for _, ok, _ in v] for pid, v in correct.items()}
    answer_groups = {pid: [g for _, _, g in v] for pid, v in correct.items()}
    scores = score(matrix, None if code else answer_groups)
    n = scores.samples_min
    spread = sum(r * (1 - r) for r in scores.rates.values())
    noise = math.sqrt(spread / n) / scores.problems if scores.problems else 0.0
    warnings = []
    unanswered = len(bench.problems) - len(matrix)
    if counts["generation_failed"] or unanswered:
        warnings.append(f"{counts['generation_failed']} samples failed to generate ({unanswered} problems have none): "
                        "run the same command again to finish the run")
    if counts["sandbox_error"]:
        warnings.append(f"{counts['sandbox_error']} samples were not judged: the sandbox failed (not the programs); "
                        f"see `rfactory inspect {run.root}`")
    if noise > NOISE_WARNING:
        needed = math.ceil(spread / (NOISE_WARNING * scores.problems) ** 2)
        warnings.append(f"n = {n} is too few for {scores.problems} problems: avg@{n} moves by about "
                        f"±{100 * noise:.1f} points between seeds; n >= {needed} brings that under "
                        f"{100 * NOISE_WARNING:.0f}")
    s = recipe.sampling
    d = bench.definition
    return BenchmarkResult(
        benchmark=d.name, kind=d.kind, repo=d.repo, revision=bench.revision, content_hash=bench.content_hash,
        problems=len(bench.problems), samples=n, temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens,
        seed=s.seed, scores=scores, seed_noise=noise,
        outcomes=Outcomes(**{field: sum(counts[k] for k in ks) for field, ks in _STATUSES.items()},
                          truncated=counts["truncated"], missing=counts["generation_failed"],
                          sandbox_error=counts["sandbox_error"]),
        selection=selection_curves(select, run, bench, recipe, scores, verdicts.right()) if select else {},
        choice_seeds={p.id: p.choice_seed for p in bench.problems} if d.kind == "choice" else None,
        warnings=warnings,
    )


def answers_by_problem(run: Run) -> dict[str, Counter[str]]:
    """Each problem's distinct final answers as the verifier read them, with their counts."""
    answers: dict[str, Counter[str]] = {}
    for row, verdict in judged_samples(run, []):
        if verdict["extracted"]:
            answers.setdefault(row["problem_id"], Counter())[" ".join(verdict["extracted"].split())] += 1
    return answers


class ModelInfo(BaseModel):
    spec: str
    identity: dict[str, Any]
    engine: str  # the engine and its version: scores move with them
    options: dict[str, Any]  # as run: dtype, tensor parallel size, context, …


class EvalResults(BaseModel):
    rfactory_version: str
    created_at: datetime
    model: ModelInfo
    benchmarks: list[BenchmarkResult]


def results(model: ModelInfo, benchmarks: list[BenchmarkResult]) -> EvalResults:
    return EvalResults(rfactory_version=__version__, created_at=datetime.now(timezone.utc), model=model,
                       benchmarks=benchmarks)


class Comparison(BaseModel):
    benchmark: str
    a: float
    b: float
    difference: Difference
    same_problems: bool  # the two scored the same problem set (equal content hashes)


def compare(a: EvalResults, b: EvalResults) -> list[Comparison]:
    """Benchmark by benchmark, A minus B, paired on the problems both scored."""
    theirs = {r.benchmark: r for r in b.benchmarks}
    out = []
    for mine in a.benchmarks:
        if (other := theirs.get(mine.benchmark)) is None:
            continue
        out.append(Comparison(benchmark=mine.benchmark, a=mine.scores.avg_at_n.mean, b=other.scores.avg_at_n.mean,
                              difference=paired_difference(mine.scores.rates, other.scores.rates),
                              same_problems=mine.content_hash == other.content_hash))
    return out
