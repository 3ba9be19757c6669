"""Problem deduplication, streamed: exact after normalization, then near-duplicates by MinHash LSH.

Two problems whose numbers differ are never near-duplicates, however alike their words: in
math, changing one number makes a new problem. Each problem is compared only with the problems
kept before it, so the first of a group of
near-duplicates is kept and every later one records which kept problem it matched and how
closely. MinHash is rensa's (Rust): at a million problems a pure-Python MinHash is the
bottleneck. The LSH index (`lsh.py`) and the kept signatures hold fixed-size numbers, never text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .lsh import BandIndex
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


def minhash(tokens: list[str]):  # noqa: ANN201
    """MinHash of the character 5-grams of the joined word tokens."""
    from rensa import RMinHash

    m = RMinHash(num_perm=NUM_PERM, seed=42)
    joined = " ".join(tokens)
    m.update([joined[i:i + SHINGLE] for i in range(max(len(joined) - SHINGLE + 1, 1))])
    return m


class _Signatures:
    """The kept problems' MinHash signatures, 128 bytes each: the low byte of every value (b-bit
    MinHash, Li & König 2010). A million kept problems cost 128 MB here, against ~600 MB as rensa
    objects, and the Jaccard estimate stays within a few hundredths at the thresholds used."""

    CHUNK = 1 << 16

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.numbers: list[np.ndarray] = []  # a hash of each kept problem's numbers
        self.rows: list[np.ndarray] = []  # its row in the input
        self.count = 0

    @staticmethod
    def low_bytes(digest: list[int]) -> np.ndarray:
        return (np.asarray(digest, dtype=np.uint32) & 0xFF).astype(np.uint8)

    def add(self, sig: np.ndarray, numbers: int, row: int) -> int:
        if self.count % self.CHUNK == 0:
            self.chunks.append(np.empty((self.CHUNK, NUM_PERM), np.uint8))
            self.numbers.append(np.empty(self.CHUNK, np.int64))
            self.rows.append(np.empty(self.CHUNK, np.int64))
        i, j = divmod(self.count, self.CHUNK)
        self.chunks[i][j] = sig
        self.numbers[i][j] = numbers
        self.rows[i][j] = row
        self.count += 1
        return self.count - 1

    def row(self, slot: int) -> int:
        return int(self.rows[slot // self.CHUNK][slot % self.CHUNK])

    def similarity(self, slot: int, sig: np.ndarray, numbers: int) -> float:
        """Estimated Jaccard; 0 when the numbers differ ("CA = 7" and "CA = 8" are different problems)."""
        i, j = divmod(slot, self.CHUNK)
        if self.numbers[i][j] != numbers:
            return 0.0
        agree = np.count_nonzero(self.chunks[i][j] == sig) / NUM_PERM
        return max(0.0, (agree - 1 / 256) / (1 - 1 / 256))  # unequal values share a low byte 1 time in 256


def dedup(texts: Iterable[str], threshold: float = 0.8, near: bool = True) -> Iterator[Decision]:
    seen: dict[bytes, int] = {}
    # 16 bands of 8: a pair at Jaccard 0.8 shares a band 95% of the time, at 0.85 99%, at 0.5 6%
    lsh = BandIndex(NUM_PERM, bands=16) if near else None
    kept = _Signatures()
    for row, text in enumerate(texts):
        tokens = words(text)
        key = exact_key(tokens)
        first = seen.get(key)
        if first is not None:
            yield Decision(row, False, "exact", first, 1.0)
            continue
        seen[key] = row
        if lsh is None:
            yield Decision(row, True)
            continue
        digest = minhash(tokens).digest()
        bands, sig = lsh.band_hashes(digest), kept.low_bytes(digest)
        numbers = hash(tuple(t for t in tokens if t.isdigit())) & (2**63 - 1)
        best, best_sim = None, 0.0
        for slot in lsh.query(bands):
            sim = kept.similarity(slot, sig, numbers)
            if sim > best_sim:
                best, best_sim = slot, sim
        if best is not None and best_sim >= threshold:
            yield Decision(row, False, "near", kept.row(best), round(best_sim, 3))
            continue
        lsh.insert(bands, kept.add(sig, numbers, row))
        yield Decision(row, True)
