"""The domain a solution states for its variables, so that answers equal there are equal:
`\\sqrt{x^2}` and `x` when the solution says `x > 0` or calls x a length, `\\sqrt{a}\\sqrt{b}` and
`\\sqrt{ab}` "for positive a and b".

Read from what the solution and the reference write about a variable (the problem's conditions,
restated), never from the answer itself. A variable stated positive is sampled at positive
points only (`equal`), one stated an integer at whole numbers only (`\\cos(n\\pi)` is `(-1)^n`
there); every other variable keeps points of both signs, so `|x|` against `x` stays a mismatch
where nothing says x is positive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_VAR = r"\$?(?<![A-Za-z\\])([a-zA-Z](?:_\{?\w+\}?)?)(?![A-Za-z])\$?"  # one letter, not one inside a word
_MORE = r"((?:\s*(?:,|and|&)\s*\$?(?<![A-Za-z\\])[a-zA-Z](?:_\{?\w+\}?)?(?![A-Za-z])\$?){0,4})"
_STATEMENTS = [
    # x > 0, a, b > 0, x \geq 0, 0 < x
    re.compile(_VAR + _MORE + r"\s*(?:>|\\gt\b|\\geq?\b|\\geqslant\b|≥)\s*0(?![\d.])"),
    re.compile(r"(?<![\d.])0\s*(?:<|\\lt\b|\\leq?\b|≤)\s*" + _VAR + _MORE + r"(?!\s*(?:<|\\le|≤)\s*[-\d])"),
    # positive a and b, a positive integer n, positive concentrations $a, b$
    re.compile(r"\bpositive\s+(?:[a-z]+\s+){0,2}" + _VAR + _MORE, re.I),
    # a, b \in (0, 1), x \in [1, \infty), n \in \mathbb{N}, x \in \mathbb{R}^+
    re.compile(_VAR + _MORE + r"\s*\\in\s*(?:[(\[]\s*(?:0|[1-9][\d.]*)\s*,|\\mathbb\{N\}|\\mathbb\{[ZR]\}\^\{?\+\}?)"),
    # $n$ a positive integer, $x$ is positive, $a$ and $b$ are positive (delimited: not the article "a")
    re.compile(r"\$([a-zA-Z](?:_\{?\w+\}?)?)\$" + _MORE + r"\s*(?:is|are|be)?\s*(?:an?\s+)?(?:positive|a\s+length|lengths)\b", re.I),
    # the side length x, a radius r, the height h: lengths are positive
    re.compile(r"\b(?:side\s+)?(?:length|radius|height|width|distance|side)\s+(?:of\s+\w+\s+)?(?:is\s+)?" + _VAR + r"(?!\s*[=+\-*/^(])", re.I),
]
# $n$ an integer, every positive integer $n$, natural numbers m, n, k \in \mathbb{Z}: sampled at whole numbers
_INTEGER_STATEMENTS = [
    re.compile(r"\b(?:positive\s+|non-?negative\s+|natural\s+)?(?:integers?|natural\s+numbers?)\s+" + _VAR + _MORE, re.I),
    re.compile(r"\$([a-zA-Z](?:_\{?\w+\}?)?)\$" + _MORE + r"\s*(?:is|are|be)?\s*(?:an?\s+)?(?:positive\s+|non-?negative\s+)?(?:integers?|natural\s+numbers?)\b", re.I),
    re.compile(_VAR + _MORE + r"\s*\\in\s*\\mathbb\{(?:N|Z)\}"),
]
_NAME = re.compile(r"(?<![A-Za-z\\])[a-zA-Z](?:_\{?\w+\}?)?(?![A-Za-z])")

_texts: ContextVar[tuple[str, ...]] = ContextVar("rfactory_math_domain_texts", default=())
_found: ContextVar[tuple[frozenset[str], frozenset[str]] | None] = ContextVar("rfactory_math_domain", default=None)


def _named(patterns: list[re.Pattern[str]], texts: tuple[str, ...]) -> frozenset[str]:
    found: set[str] = set()
    for text in texts:
        for pattern in patterns:
            for m in pattern.finditer(text):
                found.add(m.group(1))
                if m.lastindex and m.lastindex >= 2 and m.group(2):
                    found.update(_NAME.findall(m.group(2)))
    return frozenset(n.replace("{", "").replace("}", "") for n in found)


def stated_positive(*texts: str) -> frozenset[str]:
    """The variables the texts say are positive (or lengths, or positive integers)."""
    return _named(_STATEMENTS, texts)


def stated_integer(*texts: str) -> frozenset[str]:
    """The variables the texts say are integers (or natural numbers)."""
    return _named(_INTEGER_STATEMENTS, texts)


@contextmanager
def stated_in(*texts: str) -> Iterator[None]:
    """Comparisons inside see the domain these texts state; read only if a comparison asks."""
    tokens = _texts.set(texts), _found.set(None)
    try:
        yield
    finally:
        _found.reset(tokens[1])
        _texts.reset(tokens[0])


def _domain() -> tuple[frozenset[str], frozenset[str]]:
    found = _found.get()
    if found is None:
        texts = _texts.get()
        found = (stated_positive(*texts), stated_integer(*texts))
        _found.set(found)
    return found


def is_positive(name: str) -> bool:
    return name in _domain()[0]


def is_integer(name: str) -> bool:
    return name in _domain()[1]
