"""Bounds on the work one verdict may do: sizes refused before sympy sees them, and a deadline.

The deadline is cooperative (checked between parser tokens, comparisons and sample points) and
per thread (a ContextVar), so it works in any thread, unlike `signal.alarm`. It is a second line:
the size limits already keep every sympy call small, and `verify_many`'s worker pool adds the
hard kill for anything that still gets stuck inside one call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MAX_ANSWER_CHARS = 20_000  # parsed in linear time; longer is compared verbatim, never parsed
MAX_NESTING = 150  # parentheses, braces, signs, exponents and nested commands
MAX_INTEGER_BITS = 100_000  # any one exact number, product or sum: 2^65536 fits, and builds in microseconds
MAX_LITERAL_DIGITS = 20_000  # 1e20000 is fine, 1e999999 is a million-digit integer
MAX_SYMBOLIC_EXPONENT = 10_000  # x^10000 is an answer; x^(10^6) is an attack
MAX_FACTORIAL = 2000
MAX_ITEMS = 64  # answers in one list, tuple, set or matrix
MAX_BOXES = 1000  # \boxed{} commands scanned in one solution

_deadline: ContextVar[float] = ContextVar("rfactory_math_deadline", default=float("inf"))


class Timeout(Exception):
    """The verdict ran past its deadline."""


class TooCostly(ValueError):
    """The input would take unbounded work (a huge power, factorial, nesting or length)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def check() -> None:
    if time.monotonic() > _deadline.get():
        raise Timeout
