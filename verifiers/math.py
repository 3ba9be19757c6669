"""Math answers: the last balanced \\boxed{} of the solution, compared with the reference through sympy.

A first version: exact and normalised-string paths first, sympy only when needed, work bounded
before sympy sees it. The hard deadline lives in `pool.py`, around this function.
"""

from __future__ import annotations

import re
from fractions import Fraction

from pydantic import BaseModel

BOX_COMMANDS = ("\\boxed", "\\fbox")
MAX_ANSWER_CHARS = 400
SOLUTION_BEGIN, SOLUTION_END = "<|begin_of_solution|>", "<|end_of_solution|>"
THOUGHT_BEGIN = "<|begin_of_thought|>"


class Verdict(BaseModel):
    passed: bool
    status: str
    reason: str
    extracted: str | None = None
    expected: str | None = None


def _balanced_group(text: str, open_at: int) -> str | None:
    """The text inside the {…} that starts at `open_at`, or None if it never closes."""
    depth = 0
    for i in range(open_at, len(text)):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{…}/\\fbox{…}; None when absent or unbalanced (truncated)."""
    best = -1
    for cmd in BOX_COMMANDS:
        best = max(best, text.rfind(cmd + "{"))
    if best < 0:
        return None
    return _balanced_group(text, text.index("{", best))


def solution_section(text: str) -> str:
    start = text.rfind(SOLUTION_BEGIN)
    if start < 0:
        # A trace that never left its thought section has only drafts: no answer.
        return "" if THOUGHT_BEGIN in text else text
    body = text[start + len(SOLUTION_BEGIN) :]
    return body.split(SOLUTION_END, 1)[0]


_TEXT_CMD = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
_DROP = [
    "\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\ ", "$", "\\displaystyle",
    "^\\circ", "^{\\circ}", "\\circ", "\\%", "%", "\\$",
]


def normalise(answer: str) -> str:
    s = answer.strip()
    s = _TEXT_CMD.sub(r"\1", s)
    for d in _DROP:
        s = s.replace(d, "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"^[a-zA-Z]=(?!=)", "", s)  # "x=3" answers "3"
    s = s.rstrip(".")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s):  # a thousands separator, not a pair
        s = s.replace(",", "")
    return s


def _latex_to_sympy_text(s: str) -> str:
    """Enough LaTeX for answers; deeper coverage is the next verifier's job."""
    for _ in range(20):
        new = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", s)
        new = re.sub(r"\\frac(\d)(\d)", r"((\1)/(\2))", new)
        new = re.sub(r"\\sqrt\[([^\[\]{}]*)\]\{([^{}]*)\}", r"((\2)**(1/(\1)))", new)
        new = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", new)
        new = re.sub(r"\\sqrt(\d)", r"sqrt(\1)", new)
        if new == s:
            break
        s = new
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\pi", "pi").replace("\\infty", "oo")
    s = s.replace("^", "**").replace("{", "(").replace("}", ")")
    if "\\" in s:
        raise ValueError(f"unsupported LaTeX command in {s[:40]!r}")
    return s


def _too_costly(s: str) -> str | None:
    if len(s) > MAX_ANSWER_CHARS:
        return f"answer longer than {MAX_ANSWER_CHARS} characters"
    if re.search(r"\*\*\(?\d{4,}|\d{4,}!|!\s*!", s) or s.count("**") > 8:
        return "answer too costly to evaluate (huge power or factorial)"
    return None


def _to_sympy(s: str):
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    text = _latex_to_sympy_text(s)
    costly = _too_costly(text)
    if costly:
        raise ValueError(costly)
    return parse_expr(
        text, transformations=standard_transformations + (implicit_multiplication_application, convert_xor), evaluate=True
    )


def _decimal_tolerance(*texts: str) -> float | None:
    """Half a unit in the last written place of whichever side is a decimal."""
    places = [len(m.group(1)) for t in texts if (m := re.fullmatch(r"-?\d*\.(\d+)", t))]
    return 0.5 * 10 ** -min(places) if places else None


_CHOICE = re.compile(r"^\(?([A-E])\)?(?![a-zA-Z])")
_PM = re.compile(r"^(.*?)\\pm(.+)$")


def _expand(s: str) -> tuple[list[str], bool]:
    """(items, ordered): `a\\pm b` and bare or braced lists are unordered; (…) tuples are ordered."""
    s = re.sub(r"\\(?:text\{)?(?:and|or)\}?|(?<![a-z])(?:and|or)(?![a-z])", ",", s)
    if s.startswith("\\{") and s.endswith("\\}"):
        s = s[2:-2]
    if (m := _PM.match(s)) and "," not in s:
        head, tail = m.group(1), m.group(2)
        return [f"{head}+{tail}" if head else tail, f"{head}-{tail}" if head else f"-{tail}"], False
    ordered = s.startswith("(") and s.endswith(")") and s.count(",") >= 1
    if ordered:
        s = s[1:-1]
    return [p for p in s.split(",") if p], ordered


def _equal(pred: str, gold: str) -> bool:
    if pred == gold:
        return True
    gold_choice, pred_choice = _CHOICE.match(gold), _CHOICE.match(pred)
    if gold_choice and gold_choice.end() == len(gold):  # a multiple-choice letter
        hedged = pred_choice and re.search(r"[,;]\(?[A-E]\)?(?![a-zA-Z])", pred[pred_choice.end():])
        return bool(pred_choice) and not hedged and pred_choice.group(1) == gold_choice.group(1)
    if re.fullmatch(r"[A-Za-z]{2,}", gold) and re.fullmatch(r"[A-Za-z]{2,}", pred):
        return pred.lower() == gold.lower()  # a word answer; sympy would read it as a product
    pred_items, pred_ordered = _expand(pred)
    gold_items, gold_ordered = _expand(gold)
    if len(gold_items) > 1 or len(pred_items) > 1:
        if len(pred_items) != len(gold_items) or pred_ordered != gold_ordered:
            return False
        if gold_ordered:
            return all(_equal(p, g) for p, g in zip(pred_items, gold_items))
        unmatched = list(gold_items)
        for p in pred_items:
            hit = next((g for g in unmatched if _equal(p, g)), None)
            if hit is None:
                return False
            unmatched.remove(hit)
        return True
    try:
        return Fraction(pred) == Fraction(gold)
    except (ValueError, ZeroDivisionError):
        pass
    import sympy

    a, b = _to_sympy(pred), _to_sympy(gold)
    tolerance = _decimal_tolerance(pred, gold)
    if tolerance is not None and a.is_number and b.is_number:
        return abs(float(a) - float(b)) <= tolerance
    return sympy.simplify(a - b) == 0


def verify(solution: str, gold: str) -> Verdict:
    """Compare the final boxed answer of `solution` with `gold` (a bare, $-wrapped or boxed answer)."""
    gold_box = last_boxed(gold)
    expected = normalise(gold_box if gold_box is not None else gold)
    if not expected:
        return Verdict(passed=False, status="gold_unparseable", reason="reference answer is empty")
    found = last_boxed(solution_section(solution))
    if found is None:
        return Verdict(passed=False, status="no_answer", reason="no complete \\boxed{} in the solution", expected=expected)
    predicted = normalise(found)
    if not predicted:
        return Verdict(passed=False, status="no_answer", reason="the final \\boxed{} is empty", expected=expected)
    try:
        same = _equal(predicted, expected)
    except Exception as e:  # sympy raises a zoo of types on odd input; each is a parse error
        return Verdict(
            passed=False, status="parse_error", reason=f"{type(e).__name__}: {e}".splitlines()[0][:200],
            extracted=predicted, expected=expected,
        )
    if same:
        return Verdict(passed=True, status="correct", reason="equivalent", extracted=predicted, expected=expected)
    return Verdict(passed=False, status="mismatch", reason="not equivalent", extracted=predicted, expected=expected)
