"""A hard cap on what a run spends (`--max-cost`, `--max-tokens-total`), over the whole run folder:
what earlier invocations spent counts, so rerunning with a higher cap continues where it stopped.

A request is admitted only if what is spent, plus the worst case of every request in flight, plus
its own worst case (its prompt and `max_tokens` of output) stays under the cap. When it does not
fit, it waits for requests in flight to settle (each gives back the unused part of its
reservation); once nothing is in flight and it still does not fit, the run stops. So the cap is
never passed, and a run stops less than one request's worst case short of it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .cost import Price


@dataclass(frozen=True)
class Reservation:
    usd: float
    tokens: int


class Budget:
    def __init__(self, max_usd: float | None, max_tokens: int | None, price: Price | None,
                 spent_usd: float, spent_tokens: int):
        self.max_usd = max_usd
        self.max_tokens = max_tokens
        self.price = price
        self.spent_usd = spent_usd
        self.spent_tokens = spent_tokens
        self._held = Reservation(0.0, 0)
        self._in_flight = 0
        self._changed = asyncio.Condition()
        # The most prompt tokens per UTF-8 byte seen in usage; before any, 1 (no tokenizer we know
        # makes more than one token of a byte).
        self._most_per_byte = 0.0
        self.exhausted = False

    def worst_case(self, prompt_bytes: int, max_tokens: int, batch: bool = False) -> Reservation:
        per_byte = min(1.0, self._most_per_byte * 1.1) if self._most_per_byte else 1.0
        prompt = int(prompt_bytes * per_byte) + 16  # the chat template's own tokens
        usd = self.price.cost(prompt, 0, max_tokens, batch) if self.price else 0.0
        return Reservation(usd, prompt + max_tokens)

    def fits(self, r: Reservation) -> bool:
        if self.max_usd is not None and self.spent_usd + self._held.usd + r.usd > self.max_usd:
            return False
        return self.max_tokens is None or self.spent_tokens + self._held.tokens + r.tokens <= self.max_tokens

    def reserve(self, r: Reservation) -> None:
        """Hold `r` whether it fits or not: a batch already sent (by an earlier run, say)."""
        self._held = Reservation(self._held.usd + r.usd, self._held.tokens + r.tokens)
        self._in_flight += 1

    def hold(self, r: Reservation) -> bool:
        """Reserve `r` if it fits now."""
        if not self.fits(r):
            return False
        self.reserve(r)
        return True

    def release(self, r: Reservation, usd: float, tokens: int, prompt_bytes: int = 0, prompt_tokens: int = 0) -> None:
        """`r` is answered: what it cost replaces what was held for it."""
        self._held = Reservation(self._held.usd - r.usd, self._held.tokens - r.tokens)
        self._in_flight -= 1
        self.spent_usd += usd
        self.spent_tokens += tokens
        if prompt_bytes and prompt_tokens:
            self._most_per_byte = max(self._most_per_byte, prompt_tokens / prompt_bytes)

    async def admit(self, r: Reservation) -> bool:
        """True once `r` fits; False when it cannot (nothing in flight will free enough)."""
        async with self._changed:
            while not self.hold(r):
                if self._in_flight == 0 or self.exhausted:
                    self.exhausted = True
                    return False
                await self._changed.wait()
            return True

    async def settle(self, r: Reservation, usd: float, tokens: int, prompt_bytes: int, prompt_tokens: int) -> None:
        async with self._changed:
            self.release(r, usd, tokens, prompt_bytes, prompt_tokens)
            self._changed.notify_all()

    def stop_line(self) -> str:
        spent = []
        if self.max_usd is not None:
            spent.append(f"${self.spent_usd:,.4f} of --max-cost ${self.max_usd:,.2f}")
        if self.max_tokens is not None:
            spent.append(f"{self.spent_tokens:,} of --max-tokens-total {self.max_tokens:,} tokens")
        return (f"stopped at the budget: {' and '.join(spent)} spent by this run; the next request could pass it. "
                "Rerun with a higher cap to continue where it stopped.")
