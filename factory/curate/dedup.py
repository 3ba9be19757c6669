"""Problem deduplication, streamed: exact after normalization, then near-duplicates by MinHash LSH.

Two problems whose numbers differ are never near-duplicates, however alike their words: in
math, changing one number makes a new problem. Each problem is compared only with the problems
kept before it, so the first of a group of
near-duplicates is kept and every later one records which kept problem it matched and how
closely. MinHash and the LSH index are rensa's (Rust): at a million problems a pure-Python
MinHash is the bottleneck, and the index holds band hashes, not text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .text import exact_key, words

NUM_PERM = 128
SHINGLE = 5  # character 5-grams: problems are short, and one changed word among 20 would cost
# a word-3-gram Jaccard of ~0.74, while it costs ~0.85 here; a changed number still costs plenty


@dataclass
class Decision:
    row: int
    kept: bool
    reason: str | None = None  # "exact" or "near" when dropped
    duplicate_of: int | None = None  # row of the kept problem it matched
    similarity: float | None = None


def _minhash(text: str):  # noqa: ANN202
    from rensa import RMinHash

    m = RMinHash(num_perm=NUM_PERM, seed=42)
    joined = " ".join(words(text))
    m.update([joined[i:i + SHINGLE] for i in range(max(len(joined) - SHINGLE + 1, 1))])
    return m


def dedup(texts: Iterable[str], threshold: float = 0.8, near: bool = True) -> Iterator[Decision]:
    from rensa import RMinHashLSH

    seen: dict[bytes, int] = {}
    lsh = RMinHashLSH(threshold=threshold, num_perm=NUM_PERM, num_bands=16) if near else None
    kept_hashes: dict[int, object] = {}
    kept_numbers: dict[int, int] = {}
    for row, text in enumerate(texts):
        key = exact_key(text)
        first = seen.get(key)
        if first is not None:
            yield Decision(row, False, "exact", first, 1.0)
            continue
        seen[key] = row
        if lsh is None:
            yield Decision(row, True)
            continue
        m = _minhash(text)
        numbers = hash(tuple(t for t in words(text) if t.isdigit()))
        best, best_sim = None, 0.0
        for candidate in lsh.query(m):
            if kept_numbers[candidate] != numbers:  # "CA = 7" and "CA = 8" are different problems
                continue
            sim = m.jaccard(kept_hashes[candidate])
            if sim > best_sim:
                best, best_sim = candidate, sim
        if best is not None and best_sim >= threshold:
            yield Decision(row, False, "near", best, round(best_sim, 3))
            continue
        lsh.insert(row, m)
        kept_hashes[row] = m
        kept_numbers[row] = numbers
        yield Decision(row, True)
