"""MinHash LSH whose memory is 12 bytes per band per item.

Written here because the libraries keep a heap-allocated key and bucket per band per item
(rensa's index takes ~1.6 KB per problem, 1.6 GB at a million; datasketch's Python dicts more).
Here every band's hash is one uint64 in a single sorted array, beside the uint32 slot it came
from; inserts collect in a small dict and are merged in sorted batches.
"""

from __future__ import annotations

import numpy as np

_MIX = np.random.default_rng(20241127).integers(1, 2**63, size=1024, dtype=np.uint64) | np.uint64(1)
_BAND = np.uint64(0x9E3779B97F4A7C15)


class BandIndex:
    def __init__(self, num_perm: int, bands: int, batch: int = 1 << 14):
        if num_perm % bands:
            raise ValueError(f"{bands} bands do not divide {num_perm} permutations")
        self.bands, self.rows = bands, num_perm // bands
        self._mix = _MIX[:num_perm].reshape(bands, self.rows)
        self._band_ids = np.arange(bands, dtype=np.uint64) * _BAND
        self.keys = np.empty(0, np.uint64)  # sorted
        self.slots = np.empty(0, np.uint32)
        self.pending: dict[int, list[int]] = {}
        self.pending_items = 0
        self.batch = batch

    def band_hashes(self, digest: list[int]) -> np.ndarray:
        """One uint64 per band (arithmetic wraps mod 2**64, which is the point)."""
        values = np.asarray(digest, dtype=np.uint64).reshape(self.bands, self.rows)
        return (values * self._mix).sum(axis=1, dtype=np.uint64) ^ self._band_ids

    def query(self, hashes: np.ndarray) -> set[int]:
        """Slots of the items that share at least one band with these hashes."""
        found: set[int] = set()
        for h in hashes.tolist():
            found.update(self.pending.get(h, ()))
        n = len(self.keys)
        if n:
            pos = np.searchsorted(self.keys, hashes)
            hit = self.keys[np.minimum(pos, n - 1)] == hashes
            for p in pos[hit].tolist():
                h = self.keys[p]
                while p < n and self.keys[p] == h:
                    found.add(int(self.slots[p]))
                    p += 1
        return found

    def insert(self, hashes: np.ndarray, slot: int) -> None:
        for h in hashes.tolist():
            self.pending.setdefault(h, []).append(slot)
        self.pending_items += 1
        if self.pending_items >= self.batch:
            self._merge()

    def _merge(self) -> None:
        keys = np.fromiter((h for h, slots in self.pending.items() for _ in slots), np.uint64)
        slots = np.fromiter((s for ss in self.pending.values() for s in ss), np.uint32)
        order = np.argsort(keys, kind="stable")
        keys, slots = keys[order], slots[order]
        at = np.searchsorted(self.keys, keys, side="right")
        self.keys = np.insert(self.keys, at, keys)
        self.slots = np.insert(self.slots, at, slots)
        self.pending.clear()
        self.pending_items = 0
