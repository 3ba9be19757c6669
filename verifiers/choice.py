"""Multiple-choice answers (GPQA): the letter a solution chose, against the right letter.

The benchmark's prompt asks for a last line `Answer: LETTER`; models also box the letter, bold
it, or write `Answer: (B)` or `Answer: B) the text of option B`. The last such statement
counts, so a model that weighs options aloud and settles on one at the end is read as settled.
A solution that names no letter has no answer: it is never read as the first letter it mentions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from .verdict import Verdict

_LETTER = r"[\(\[\{\*\$\s]*(?:\\(?:text|textbf|mathrm)\{)?([A-J])(?![A-Za-z])"
_STATED = [
    re.compile(r"(?:final\s+)?answer\s*(?:is|:)?\s*(?:option|choice)?\s*:?\s*\**\s*" + _LETTER, re.IGNORECASE),
    re.compile(r"\\boxed\{\s*(?:\\text\{)?\s*\(?([A-J])\)?"),
]
_ALONE = re.compile(r"^[\s*(\[]*([A-J])[)\].:*\s]*$")  # a last line that is only a letter


def chosen_letter(solution: str) -> str | None:
    """The letter the solution settles on, or None."""
    found: list[tuple[int, str]] = []
    for pattern in _STATED:
        found += [(m.start(), m.group(1).upper()) for m in pattern.finditer(solution)]
    if found:
        return max(found)[1]
    lines = [line for line in solution.strip().splitlines() if line.strip()]
    if lines and (m := _ALONE.match(lines[-1])):
        return m.group(1)
    return None


def verify(solution: str, gold: str) -> Verdict:
    want = gold.strip().strip("()").upper()
    if not re.fullmatch(r"[A-J]", want):
        return Verdict(passed=False, status="gold_unparseable", reason=f"reference {gold!r} is not a choice letter")
    got = chosen_letter(solution)
    if got is None:
        return Verdict(passed=False, status="no_answer", reason="no choice letter stated", expected=want)
    ok = got == want
    return Verdict(passed=ok, status="correct" if ok else "mismatch",
                   reason=f"chose {got}" + ("" if ok else f", the answer is {want}"), extracted=got, normalised=got,
                   expected=want, expected_normalised=want)


def verify_many(tasks: Iterable[tuple[Any, str, str]], timeout_s: float = 5.0, workers: int = 1
                ) -> Iterator[tuple[Any, Verdict]]:
    """The same batch contract as the other verifiers; a regex over one text needs no pool."""
    for key, solution, gold in tasks:
        yield key, verify(solution, gold)
