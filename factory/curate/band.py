"""A pass-rate band: which problems are hard enough to learn from and easy enough to be solved
sometimes. `LO:HI` keeps both ends; the named presets are the published recipes' bands."""

from __future__ import annotations

from typing import NamedTuple

from ..errors import UserError


class Band(NamedTuple):
    lo: float
    hi: float
    closed: bool = True  # both ends kept; open-r1's band keeps neither

    def contains(self, rate: float) -> bool:
        return self.lo <= rate <= self.hi if self.closed else self.lo < rate < self.hi

    def describe(self) -> str:
        return f"[{self.lo:g}, {self.hi:g}]" if self.closed else f"({self.lo:g}, {self.hi:g})"


PRESETS = {
    "prime": Band(0.2, 0.8),  # PRIME / Sky-T1-7B: policy accuracy in [0.2, 0.8]
    "open-r1": Band(0.1, 0.6, closed=False),  # open-r1's RL filter: pass rate in (0.1, 0.6)
}


def parse_band(text: str, flag: str = "--keep-pass-rate") -> Band:
    if text in PRESETS:
        return PRESETS[text]
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        raise UserError(f"{flag} {text}: expected LO:HI, e.g. 0.1:0.9, or one of {', '.join(PRESETS)}") from None
    if not 0 <= lo <= hi <= 1:
        raise UserError(f"{flag} {text}: need 0 <= LO <= HI <= 1")
    return Band(lo, hi)
