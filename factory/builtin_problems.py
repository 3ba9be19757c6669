"""The built-in problem set: procedurally generated arithmetic with exact reference answers.

Written here rather than taken from a public set so the default run needs no download and every
reference answer is computed, not transcribed. The stream is deterministic: problem n is always
the same problem, so runs over it resume and compare.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from fractions import Fraction

from .builtin_code import humaneval_problems, own_code_problems, reference_solutions

BUILTIN_SIZE = 1_000_000

Maker = Callable[[random.Random], tuple[str, str]]


def _frac(f: Fraction) -> str:
    if f.denominator == 1:
        return str(f.numerator)
    sign = "-" if f < 0 else ""
    return f"{sign}\\frac{{{abs(f.numerator)}}}{{{f.denominator}}}"


def _add(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 99), r.randint(2, 99)
    return f"What is {a} + {b}?", str(a + b)


def _multiply(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 19), r.randint(2, 19)
    return f"What is {a} times {b}?", str(a * b)


def _subtract(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(10, 200), r.randint(10, 200)
    return f"Compute {a} - {b}.", str(a - b)


def _fraction_sum(r: random.Random) -> tuple[str, str]:
    p, q, s, t = r.randint(1, 9), r.randint(2, 9), r.randint(1, 9), r.randint(2, 9)
    return (
        f"What is $\\frac{{{p}}}{{{q}}} + \\frac{{{s}}}{{{t}}}$? Express your answer as a fraction in lowest terms.",
        _frac(Fraction(p, q) + Fraction(s, t)),
    )


def _linear(r: random.Random) -> tuple[str, str]:
    a, x, b = r.randint(2, 9), r.randint(-12, 12), r.randint(-20, 20)
    c = a * x + b
    sign = "+" if b >= 0 else "-"
    return f"Solve for $x$: ${a}x {sign} {abs(b)} = {c}$.", str(x)


def _gcd(r: random.Random) -> tuple[str, str]:
    g = r.randint(2, 12)
    a, b = g * r.randint(2, 15), g * r.randint(2, 15)
    return f"What is the greatest common divisor of {a} and {b}?", str(math.gcd(a, b))


def _percent(r: random.Random) -> tuple[str, str]:
    p, base = r.choice([10, 20, 25, 50, 75]), r.randint(1, 40) * 4
    return f"What is {p}% of {base}?", _frac(Fraction(p * base, 100))


def _remainder(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(20, 500), r.randint(3, 12)
    return f"What is the remainder when {a} is divided by {b}?", str(a % b)


def _power(r: random.Random) -> tuple[str, str]:
    base, k = r.randint(2, 5), r.randint(2, 6)
    return f"Evaluate ${base}^{{{k}}}$.", str(base**k)


def _square_root(r: random.Random) -> tuple[str, str]:
    k, m = r.randint(2, 9), r.choice([2, 3, 5, 6, 7])
    return f"Simplify $\\sqrt{{{k * k * m}}}$.", f"{k}\\sqrt{{{m}}}"


MAKERS: tuple[Maker, ...] = (
    _add, _multiply, _subtract, _fraction_sum, _linear, _gcd, _percent, _remainder, _power, _square_root,
)


def arithmetic(seed: int = 0) -> Iterator[dict[str, str]]:
    """Yield {id, problem, answer} rows; each row depends only on (seed, its index)."""
    for n in range(BUILTIN_SIZE):
        r = random.Random(seed * BUILTIN_SIZE + n)
        problem, answer = MAKERS[n % len(MAKERS)](r)
        yield {"id": f"arithmetic-{n:07d}", "problem": problem, "answer": answer}


BUILTIN_SETS: dict[str, Callable[[], Iterator[dict[str, str | None]]]] = {
    "arithmetic": arithmetic,
    "code": own_code_problems,
    "humaneval": humaneval_problems,
}
BUILTIN_SIZES = {"arithmetic": BUILTIN_SIZE, "code": len(reference_solutions()), "humaneval": 164}
