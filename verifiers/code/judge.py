"""Judging on plain data, in the trusted parent: what a program printed or returned, against
what the test expects.

No set-of-tokens or set-of-lines fallbacks (they accept reordered or deduplicated output), no
`zip()` over lines (it ignores missing or extra ones): the line counts must agree, and then
every token, exactly or, where both are numbers and the expected one is written with a fraction
or an exponent, within a float tolerance.
"""

from __future__ import annotations

import math
from typing import Any

REL_TOL = 1e-6
ABS_TOL = 1e-6


def _lines(text: str) -> list[list[str]]:
    lines = [line.split() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()  # trailing blank lines are not output
    return lines


def _float(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _token_matches(got: str, want: str) -> bool:
    if got == want:
        return True
    g, w = _float(got), _float(want)
    if g is None or w is None:
        return False
    if not any(c in want for c in ".eE"):
        return False  # an integer answer is exact: 10 is not 11, 007 is not 7, 123456900.0 is not 123456789
    return math.isclose(g, w, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def stdout_matches(got: str, want: str) -> bool:
    """Whitespace-normalised, line by line; a float tolerance where a token is a decimal."""
    got_lines, want_lines = _lines(got), _lines(want)
    if len(got_lines) != len(want_lines):
        return False
    return all(
        len(g) == len(w) and all(_token_matches(a, b) for a, b in zip(g, w)) for g, w in zip(got_lines, want_lines)
    )


def value_matches(got: Any, want: Any) -> bool:
    """A call's result against the expected value: JSON-able built-ins only, compared structurally.

    Tuples and lists are the same (JSON cannot tell them apart); a float matches within the
    tolerance; a bool is not an int (True is not 1); anything else must be equal.
    """
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    if isinstance(got, (int, float)) and isinstance(want, (int, float)):
        if isinstance(want, int):
            return got == want  # an integer answer is exact
        return math.isclose(got, want, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(value_matches(g, w) for g, w in zip(got, want))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(value_matches(got[k], want[k]) for k in got)
    return type(got) is type(want) and got == want


def call_matches(got: Any, want: Any) -> bool:
    """A call-based test's result. TACO and APPS store the expected value wrapped in a
    one-element list ("outputs": [[3], [7]]), so the wrapped value is accepted as well."""
    if value_matches(got, want):
        return True
    return isinstance(want, list) and len(want) == 1 and value_matches(got, want[0])
