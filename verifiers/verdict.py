"""The verdict every verifier returns: pass or not, a status, a reason, and what it compared."""

from __future__ import annotations

from pydantic import BaseModel


class Verdict(BaseModel):
    passed: bool
    status: str
    reason: str
    extracted: str | None = None  # the answer as found in the solution
    normalised: str | None = None  # …after surface clean-up, as compared
    expected: str | None = None  # the reference answer as found in the gold
    expected_normalised: str | None = None
    detail: str | None = None  # JSON: per-test status, seconds and memory, for code
