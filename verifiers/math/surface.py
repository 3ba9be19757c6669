"""Surface conventions settled once, for both sides, before an answer is read: math delimiters,
unicode, spacing commands, `\\text{}` wrappers, units, degrees, percent, currency, thousands
separators, number words, asides and redundant brackets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import budget
from .budget import TooCostly
from .latex import ParseError
from .units import LONG_UNITS, UNITS, measure

_UNICODE = {
    "−": "-", "–": "-", "×": "\\times ", "÷": "\\div ", "·": "\\cdot ", "π": "\\pi ", "∞": "\\infty ",
    "√": "\\sqrt", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "±": "\\pm ", "∓": "\\mp ", "°": "^\\circ",
    "²": "^2", "³": "^3", "½": "(1/2)", "⅓": "(1/3)", "¼": "(1/4)", "¾": "(3/4)", "∪": "\\cup ", "∩": "\\cap ",
    "∈": "\\in ", "∅": "\\emptyset ", "\u00a0": " ", "，": ",", "\\langle": "(", "\\rangle": ")",
}
_SPACING = re.compile(
    r"(?<!\\)\\(?:[,;:! ]|quad|qquad|displaystyle|textstyle|hfill|noindent|[hv]space\*?\{[^{}]*\}|phantom\{[^{}]*\})|~"
    r"|\\(?:left|right)\.|\\(?:left|right|[bB]ig[lr]?)(?![a-zA-Z])"
)
_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mathsf|mbox|operatorname|boldsymbol|bm|emph)\s*\{")
# \circ alone is a degree only after a number; f \circ g is a composition
_DEGREES = re.compile(r"(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ)(?:\s?(?:\\text\{\s*)?[CF]\b\}?)?|(?<=[\d}])\s?\\circ|\\degree|\s?\bdegrees?\b|\s?\bdeg\b")
_PERCENT = re.compile(r"\\%|%|\s?\bpercent\b")
_CURRENCY = {
    "dollar": re.compile(r"\\\$|\bUSD\b|\bdollars?\b"),
    "euro": re.compile(r"€|\\euro\b|\bEUR\b|\beuros?\b"),
    "gbp": re.compile(r"£|\\pounds\b|\bGBP\b"),
}
_POWER = r"(?P<power>\s*\^\s*\{?[23]\}?)?"  # \text{m}^2
_UNIT_WRAPPED = re.compile(r"(?<=\S)\s*\\(?:text|mathrm|mbox|textnormal|,)?\s*\{\s*" + UNITS + r"\s*\}" + _POWER + r"\s*$")
_UNIT_TRAILING = re.compile(r"(?<=\d)\s?" + LONG_UNITS + r"\.?\s*$")
_UNIT_SHORT = re.compile(r"^([-+]?\d[\d.,]*)\s(?P<unit>m|s|h|g|L)" + _POWER + "$")  # "5 m", never "\pi r^2 h"
# Words that change the number they follow: never dropped as a noun
_QUALIFIERS = (
    r"(?!.*\b(?:and|or|to|times|more|less|fewer|greater|smaller|larger|than|at|least|most|only|not|if|when|"
    r"unless|otherwise|squared|cubed|plus|minus|over|under|million|billion|thousand|hundred|trillion|am|pm)\b)"
)
# 5 \text{ red balls}, 5 red balls: a count and its noun
_NOUN_AFTER_NUMBER = re.compile(
    r"(?<=[\d}])\s*\\(?:text|mbox|mathrm|textnormal)\{" + _QUALIFIERS + r"\s*[a-zA-Z][a-zA-Z .]*\}\s*$"
    r"|(?<=\d)\s" + _QUALIFIERS + r"[a-zA-Z]{3,}(?:\s[a-zA-Z]+)*\.?\s*$",
    re.I,
)
_SCALE_WORD = re.compile(r"(?<=\d)\s?(?:\\text\{\s*)?(thousand|million|billion|trillion)\b\s*\}?", re.I)
_SCALES = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}
_MIXED_NUMBER = re.compile(r"^([-+]?\d+)\s(\d+)/(\d+)$")  # 2 1/2
_CHOOSE = re.compile(r"\{([^{}]*)\\choose([^{}]*)\}")
_SPACED_THOUSANDS = re.compile(r"\d{1,3}(?: \d{3})+(?:\.\d+)?")
_REPEATING = re.compile(r"(?<![\d.])(\d*)\.(\d*)\\overline\{(\d{1,12})\}")
_OVER = re.compile(r"\{([^{}]*)\\over([^{}]*)\}")
# an aside after the answer: 7 \text{, since } 3 + 4 = 7; \pi \approx 3.14 (only after an exact form)
_ASIDE = re.compile(
    r"(?<=\S)\s*(?:\\text\{\s*\((?!\s*or\b)[^{}]*\)\s*\}|\\text\{\s*,?\s*(?:since|because)\b.*|,\s*(?:since|because)\b.*)$", re.S
)
_APPROXIMATION = re.compile(r"\s*(?:\\approx|≈)\s*[-+]?[\d.]+\s*$")
_WORD_NUMBERS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
     "hundred": "100", "thousand": "1000", "one half": "1/2", "a half": "1/2", "one third": "1/3", "a third": "1/3",
     "one quarter": "1/4", "a quarter": "1/4", "two thirds": "2/3", "three quarters": "3/4"}
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD_NUMBERS |= {f"{t}-{u}": str(10 * (2 + i) + n) for i, t in enumerate(_TENS) for n, u in enumerate(
    "one two three four five six seven eight nine".split(), 1)}
_WORD_NUMBER = re.compile(
    r"^(" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")\b(?![-\s]+(?:hundred|thousand|million|billion))",
    re.I,
)
_INFINITELY_MANY = re.compile(r"infinitely many(?: \w+)*|infinity|infinite", re.I)
_ANSWER_PHRASE = re.compile(
    r"^(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is\b|:)\s*)?(?:\\approx|approximately|approx\.?|about|roughly)?\s*", re.I
)
_BASE_NUMBER = re.compile(r"^(?=[A-F]*\d)([0-9A-F]+)_\{?(\d{1,2})\}?$")
_THOUSANDS_BRACE = re.compile(r"\{,\}(?=\d{3}(?!\d))")  # 1{,}000
_DECIMAL_BRACE = re.compile(r"(?<=\d)\{,\}(?=\d)")  # 2{,}5: LaTeX's decimal comma, with no space after it
# a lone $ beside a number is the currency (2,74 $), not half of a pair of math delimiters
_LONE_DOLLAR = re.compile(r"^[^$]*(?:\d\s?\$|\$\s?\d)[^$]*$")
_THOUSANDS_SPACING = re.compile(r"(?<=\d),\\!\s?(?=\d{3}(?!\d))")
_TRAILING_BREAK = re.compile(r"(?:\s*(?:\\\\|\\(?![a-zA-Z{}()\[\]|,;:!% $#&_^])))+\s*$")
# x \approx 3.14 names its value as x = 3.14 would
_NAMED_APPROXIMATION = re.compile(r"^([a-zA-Z](?:_\{?\w+\}?)?)\s*(?:\\approx|≈)\s*(?=[-+]?[\d.]+\s*$)")
# 2,74 or 1000,99: a decimal comma, which a thousands separator (1,000) never reads as
_DECIMAL_COMMA = re.compile(r"([-+]?\d+),(\d+)")


def decimal_comma(text: str, quantity: bool) -> str | None:
    """`1000,99`, `0,75` or `2,74 €` as `1000.99`, `0.75` and `2.74`: the other reading of a number
    with one comma, where it is not a list (`1,5` may be 1 and 5) nor a thousands separator
    (`1,000`): the whole part is 0 or has more digits than a thousands group can, or a unit or
    currency makes it one `quantity`. None for any other text."""
    m = _DECIMAL_COMMA.fullmatch(text)
    if not m:
        return None
    whole, fraction = m.group(1).lstrip("+-"), m.group(2)
    # 0,75: no list starts so, no thousands group is 0
    if whole == "0" or len(whole) >= 4 or (quantity and not (len(fraction) == 3 and len(whole) <= 3)):
        return f"{m.group(1)}.{fraction}"
    return None


@dataclass(frozen=True)
class Cleaned:
    text: str
    percent: bool
    degrees: bool
    unit: str | None = None
    base: int | None = None  # 10201_3

    def shown(self) -> str:
        """The text as compared, with what was taken off it: two answers show the same only if they are."""
        marks = [f"[{self.unit}]" if self.unit else "", "%" if self.percent else "", "°" if self.degrees else ""]
        return self.text + (f"_{self.base}" if self.base else "") + "".join(f" {m}" for m in marks if m)


def _unwrap(s: str) -> str:
    """`\\text{abc}` → `abc` for every wrapper, with balanced braces."""
    for _ in range(budget.MAX_NESTING):
        m = _WRAPPERS.search(s)
        if not m:
            return s
        depth, i = 1, m.end()
        while i < len(s) and depth:
            depth += (s[i] == "{") - (s[i] == "}")
            i += 1
        if depth:
            raise ParseError("unbalanced braces")
        s = s[: m.start()] + s[m.end() : i - 1] + s[i:]
    raise TooCostly("wrappers nested too deeply")


def strip_delimiters(s: str) -> str:
    s = s.strip()
    for _ in range(4):
        for open_, close in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if s.startswith(open_) and s.endswith(close) and len(s) >= len(open_) + len(close):
                s = s[len(open_) : len(s) - len(close)].strip()
                break
        else:
            return s
    return s


def clean(raw: str) -> Cleaned:
    if len(raw) > budget.MAX_ANSWER_CHARS:
        raise TooCostly(f"answer longer than {budget.MAX_ANSWER_CHARS} characters")
    s = re.sub(r"\s+", " ", strip_delimiters(raw))  # first: runs of spaces make later patterns slow
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _THOUSANDS_SPACING.sub(",", s)  # 10,\!000 and 11,\! 111
    s = _TRAILING_BREAK.sub("", s)  # 12 \\ at the end of a display line
    s = _DECIMAL_BRACE.sub(".", _THOUSANDS_BRACE.sub("", s))
    s = re.sub(r"(\d)\\[,!]\s?(?=\d{3}\b)", r"\1", s)  # 1\,000 is a thousand
    s = _OVER.sub(r"\\frac{\1}{\2}", s)  # {5 \over 8}
    s = _CHOOSE.sub(r"\\binom{\1}{\2}", s)
    units: list[str] = ["dollar"] if _LONE_DOLLAR.match(s) else []
    for currency, pattern in _CURRENCY.items():
        s, found = pattern.subn("", s)
        units += [currency] * bool(found)
    s = s.replace("$", "")
    s = _ASIDE.sub("", s)
    s = _NAMED_APPROXIMATION.sub(r"\1 = ", s)
    if (m := _APPROXIMATION.search(s)) and re.search(r"[^\d.\s+-]", s[: m.start()]):
        s = s[: m.start()]  # \pi \approx 3.14 is π; 5 \approx 6 is left alone
    s, degrees = _DEGREES.subn("", s)
    s, percent = _PERCENT.subn("", s)
    s = _SPACING.sub(" ", s)

    def drop_unit(m: re.Match[str]) -> str:
        units.append(m.group("unit") + ((m.groupdict().get("power") or "").strip()))
        return m.group(1) if m.re is _UNIT_SHORT else ""

    s = _UNIT_WRAPPED.sub(drop_unit, s)
    s = _UNIT_TRAILING.sub(drop_unit, s)
    s = _SCALE_WORD.sub(lambda m: f"\\times 10^{{{_SCALES[m.group(1).lower()]}}}", s)  # 5 million
    s = _drop_noun(s)
    s = _REPEATING.sub(_repeating_fraction, s)
    s = _unwrap(s)
    s = _UNIT_TRAILING.sub(drop_unit, s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".;,").strip()
    s = _WORD_NUMBER.sub(lambda m: _WORD_NUMBERS[m.group(1).lower()], s)  # twelve eggs → 12 eggs
    s = _drop_noun(s)
    s = _UNIT_SHORT.sub(drop_unit, s)
    s = _strip_redundant(_ANSWER_PHRASE.sub("", s))
    s = _MIXED_NUMBER.sub(r"\1\\frac{\2}{\3}", s)
    base = None
    if m := _BASE_NUMBER.fullmatch(s):  # 10201_3 and 10201_{3}: the digits, in base 3
        s, base = m.group(1), int(m.group(2))
    if _INFINITELY_MANY.fullmatch(s):
        s = "\\infty"
    if _SPACED_THOUSANDS.fullmatch(s):  # 1 000 000
        s = s.replace(" ", "")
    s = re.sub(r"^(?:is|=)\s+", "", s)
    unit = measure(units[-1]) if units else None
    return Cleaned(s, percent=bool(percent), degrees=bool(degrees), unit=unit, base=base)


def _drop_noun(s: str) -> str:
    # the noun is at the end: searching only the tail keeps a 20k-character answer linear
    m = _NOUN_AFTER_NUMBER.search(s, max(0, len(s) - 200))
    return s[: m.start()] if m else s


def _repeating_fraction(m: re.Match[str]) -> str:
    """0.1\\overline{6} → \\frac{15}{90}."""
    whole, fixed, repeat = m.group(1) or "0", m.group(2), m.group(3)
    num = int(whole + fixed + repeat) - int(whole + fixed)
    return f"\\frac{{{num}}}{{{10 ** len(fixed) * (10 ** len(repeat) - 1)}}}"


def _strip_redundant(s: str) -> str:
    """`{{{5}}}` → `5` and `((5))` → `(5)`, in one pass: the parser then needs no deep nesting."""
    s = re.sub(r"([({\[])\s+", r"\1", s)
    s = re.sub(r"\s+([)}\]])", r"\1", s)
    match: dict[int, int] = {}
    stack: list[int] = []
    for i, c in enumerate(s):
        if c in "({[":
            stack.append(i)
        elif c in ")}]" and stack:
            match[stack.pop()] = i
    i, j = 0, len(s) - 1
    while i < j and match.get(i) == j and (s[i] == "{" or (s[i + 1] == "(" and match.get(i + 1) == j - 1)):
        i, j = i + 1, j - 1
    return s[i : j + 1]
