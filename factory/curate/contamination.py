"""Benchmark contamination: which problems repeat a benchmark problem, and which row they repeat.

Two checks, as the published recipes make them:
- word 8-grams after lowercasing and whitespace folding (open-r1, s1). A single shared 8-gram is
  not enough here: "let x be a real number such that" opens thousands of unrelated problems, so
  the shared 8-grams must cover `min_overlap` of either text's 8-grams (a copy embedded in a
  longer problem, or a long benchmark problem quoted in part, both qualify);
- a fuzzy ratio (OpenThoughts) for what 8-grams miss: problems under 8 words and light edits.
  rapidfuzz's ratio (and its word-sorted form, for reordered copies) runs only on the benchmark
  rows that a MinHash LSH on character 5-grams proposes, not on all of them: all pairs cost
  ~1.4 ms per problem against 2k rows, 23 minutes at a million problems.

The index holds the benchmarks (a few thousand rows); the problems stream past it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from rapidfuzz import fuzz

from ..runstore import write_json_atomic
from .dedup import NUM_PERM, minhash
from .lsh import BandIndex
from .text import words

NGRAM = 8
STOCK_MIN_ROWS = 20
CONTAMINATION = "contamination.json"


class BenchmarkInfo(BaseModel):
    name: str
    source: str  # file or Hub repo
    column: str
    rows: int


class Flag(BaseModel):
    problem_id: str
    benchmark: str
    benchmark_row: int
    method: Literal["ngram", "fuzzy"]
    score: float  # 8-gram coverage (0-1) or fuzzy ratio (0-100)
    problem: str
    benchmark_problem: str


class ContaminationReport(BaseModel):
    benchmarks: list[BenchmarkInfo] = []
    ngram: int = NGRAM
    min_overlap: float = 0.5
    fuzzy: float = 95.0
    flagged: list[Flag] = []


def read_contamination(run_root: Path) -> ContaminationReport:
    path = run_root / CONTAMINATION
    return ContaminationReport.model_validate_json(path.read_bytes()) if path.is_file() else ContaminationReport()


def write_contamination(run_root: Path, report: ContaminationReport) -> None:
    write_json_atomic(run_root / CONTAMINATION, report.model_dump(mode="json"))


def _grams(tokens: list[str], n: int) -> set[int]:
    return {hash(" ".join(tokens[i:i + n])) for i in range(len(tokens) - n + 1)}


class Match(BaseModel):
    benchmark: str
    row: int
    method: Literal["ngram", "fuzzy"]
    score: float
    text: str


class BenchmarkIndex:
    def __init__(self, benchmarks: Iterable[tuple[str, list[str]]], ngram: int = NGRAM, min_overlap: float = 0.5,
                 fuzzy: float = 95.0):
        self.ngram, self.min_overlap, self.fuzzy = ngram, min_overlap, fuzzy
        self.entries: list[tuple[str, int, str, str]] = []  # (benchmark, row, original, normalized)
        self.postings: dict[int, list[int]] = {}
        # 32 bands of 4 (Jaccard 0.5 → a candidate 87% of the time): a candidate costs one ratio, a miss
        # costs a contaminated row.
        self.lsh = BandIndex(NUM_PERM, bands=32)
        entry_grams: list[set[int]] = []
        for name, texts in benchmarks:
            for row, text in enumerate(texts):
                e = len(self.entries)
                tokens = words(text)
                self.entries.append((name, row, text, " ".join(tokens)))
                entry_grams.append(_grams(tokens, ngram))
                for g in entry_grams[-1]:
                    self.postings.setdefault(g, []).append(e)
                self.lsh.insert(self.lsh.band_hashes(minhash(tokens).digest()), e)
        # An 8-gram in many benchmark rows is stock phrasing ("express your answer as a common
        # fraction."), evidence of nothing; it counts on neither side of the coverage.
        limit = max(STOCK_MIN_ROWS, len(self.entries) // 100)
        self.stock = {g for g, rows in self.postings.items() if len(rows) > limit}
        for g in self.stock:
            del self.postings[g]
        self.gram_count = [len(grams - self.stock) for grams in entry_grams]

    def match(self, text: str) -> Match | None:
        tokens = words(text)
        grams = _grams(tokens, self.ngram) - self.stock
        shared: Counter[int] = Counter()
        for g in grams:
            for e in self.postings.get(g, ()):
                shared[e] += 1
        best: tuple[float, int] | None = None
        for e, n in shared.items():
            coverage = max(n / len(grams), n / self.gram_count[e])
            if coverage >= self.min_overlap and (best is None or (coverage, -e) > (best[0], -best[1])):
                best = coverage, e
        if best is not None:
            return self._match(best[1], "ngram", round(best[0], 3))
        normalized = " ".join(tokens)
        for e in sorted(self.lsh.query(self.lsh.band_hashes(minhash(tokens).digest()))):
            other = self.entries[e][3]
            score = max(fuzz.ratio(normalized, other, score_cutoff=self.fuzzy),
                        fuzz.token_sort_ratio(normalized, other, score_cutoff=self.fuzzy))
            if score >= self.fuzzy and (best is None or score > best[0]):
                best = score, e
        return self._match(best[1], "fuzzy", round(best[0], 1)) if best else None

    def _match(self, e: int, method: Literal["ngram", "fuzzy"], score: float) -> Match:
        name, row, original, _ = self.entries[e]
        return Match(benchmark=name, row=row, method=method, score=score, text=original)

