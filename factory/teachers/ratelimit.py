"""Requests-per-minute and tokens-per-minute limits as async token buckets.

Hand-written because the libraries for this are either sync-only or tied to one web framework,
and the bucket has to take back tokens once the real usage of a request is known.
"""

from __future__ import annotations

import asyncio
import time


BURST_SECONDS = 2.0


class TokenBucket:
    """Refilled at `per_minute`/60 a second, holding at most BURST_SECONDS of it; callers wait in
    arrival order. A small burst matters: providers enforce per-minute limits over sub-minute
    windows, so a full minute's worth sent at once is refused just the same."""

    def __init__(self, per_minute: float):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * BURST_SECONDS)
        self.level = self.capacity
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    async def take(self, amount: float) -> None:
        # A request larger than the whole bucket waits for a full bucket instead of forever.
        need = min(amount, self.capacity)
        async with self.lock:
            self._refill()
            while self.level < need:
                await asyncio.sleep((need - self.level) / self.rate)
                self._refill()
            self.level -= amount

    def give_back(self, amount: float) -> None:
        """Return an over-estimate (or charge an under-estimate, with a negative amount)."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)
