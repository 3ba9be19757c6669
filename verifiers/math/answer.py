"""An extracted answer string → a typed value: a number or expression, an equation, a list, tuple
or set, intervals, a matrix, words, or a multiple-choice letter.

Surface conventions are settled here, once, for both sides: math delimiters, spacing commands,
`\\text{}` wrappers, units, degrees, percent, currency and thousands separators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy

from . import budget
from .budget import TooCostly
from .latex import Chain, NotMath, ParseError, parse_formula


@dataclass(frozen=True)
class Scalar:
    expr: sympy.Expr
    places: int | None = None  # written decimal places when the answer is one decimal number
    var: str | None = None  # `x` of `x = 3`
    percent: bool = False
    degrees: bool = False
    unit: str | None = None  # a unit of measure that was written after it


@dataclass(frozen=True)
class Relation:
    expr: sympy.Expr  # lhs - rhs
    op: str  # "=", "<", "<=" or "!=" (">" forms are flipped)


@dataclass(frozen=True)
class Items:
    kind: str  # "tuple" (ordered), "set" or "list" (unordered)
    items: tuple
    brackets: str | None = None  # "()", "[]", "(]", "[)": a 2-tuple may be an interval


@dataclass(frozen=True)
class Intervals:
    pieces: tuple  # ((lo, hi, lo_closed, hi_closed), …) with sympy endpoints


@dataclass(frozen=True)
class Matrix:
    rows: tuple  # tuple of tuples of Scalar


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Choice:
    letter: str
    rest: object = field(default=None)  # the option's text after the letter, parsed


Value = Scalar | Relation | Items | Intervals | Matrix | Text | Choice

_UNICODE = {
    "−": "-", "–": "-", "×": "\\times ", "÷": "\\div ", "·": "\\cdot ", "π": "\\pi ", "∞": "\\infty ",
    "√": "\\sqrt", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "±": "\\pm ", "∓": "\\mp ", "°": "^\\circ",
    "²": "^2", "³": "^3", "½": "(1/2)", "⅓": "(1/3)", "¼": "(1/4)", "¾": "(3/4)", "∪": "\\cup ", "∩": "\\cap ", "∈": "\\in ", "∅": "\\emptyset ", "\u00a0": " ", "，": ",",
}
_SPACING = re.compile(
    r"(?<!\\)\\(?:[,;:! ]|quad|qquad|displaystyle|textstyle|hfill|noindent|phantom\{[^{}]*\})|~"
    r"|\\(?:left|right)\.|\\(?:left|right|[bB]ig[lr]?)(?![a-zA-Z])"
)
_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mathsf|mbox|operatorname|boldsymbol|bm|emph)\s*\{")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\s*\bdegrees?\b|\s*\bdeg\b")
_PERCENT = re.compile(r"\\%|%|\s*\bpercent\b")
_CURRENCY = {
    "dollar": re.compile(r"\\\$|\bUSD\b|\bdollars?\b"),
    "euro": re.compile(r"€|\\euro\b|\bEUR\b|\beuros?\b"),
    "gbp": re.compile(r"£|\\pounds\b|\bGBP\b"),
}
_UNITS = (
    r"(?P<unit>(?:square|sq\.?|cubic)?\s*(?:cm|mm|km|m|meters?|metres?|centimeters?|millimeters?|kilometers?|inch(?:es)?|in|"
    r"ft|feet|foot|yards?|yd|miles?|mi|mph|kph|km/h|m/s|units?|kg|g|grams?|mg|lbs?|pounds?|oz|ounces?|tons?|"
    r"s|sec|seconds?|min|minutes?|h|hrs?|hours?|days?|weeks?|months?|years?|cents?|liters?|litres?|L|mL|ml|"
    r"gallons?|cups?|people|students|ways|dollars?|points?|cookies|apples|marbles|balls|coins|books|"
    r"edges|vertices|faces|triangles|squares|numbers|integers|digits|times|percent|degrees?|radians?|rad)"
    r"(?:\s*\^\s*\{?[23]\}?|\^?[23²³])?)"
)
# Units that measure: 5 cm and 5 m differ, 500 cm and 5 m do not. Counted nouns (apples, ways)
# are not compared. Each spelling → (unit, dimension, size in the dimension's base unit).
_R = sympy.Rational
_MEASURES: dict[str, tuple[str, str, sympy.Rational]] = {
    spelling: (names[0], dimension, _R(size))
    for names, dimension, size in [
        (("mm", "millimeter", "millimetre"), "length", _R(1, 1000)),
        (("cm", "centimeter", "centimetre"), "length", _R(1, 100)),
        (("m", "meter", "metre"), "length", 1),
        (("km", "kilometer", "kilometre"), "length", 1000),
        (("in", "inch", "inche"), "length", _R(254, 10_000)),
        (("ft", "foot", "feet"), "length", _R(3048, 10_000)),
        (("yd", "yard"), "length", _R(9144, 10_000)),
        (("mi", "mile"), "length", _R(1_609_344, 1000)),
        (("mg", "milligram"), "mass", _R(1, 1000)),
        (("g", "gram"), "mass", 1),
        (("kg", "kilogram"), "mass", 1000),
        (("lb", "pound"), "mass", _R(45_359_237, 100_000)),
        (("oz", "ounce"), "mass", _R(28_349_523_125, 10**9)),
        (("s", "sec", "second"), "time", 1),
        (("min", "minute"), "time", 60),
        (("h", "hr", "hour"), "time", 3600),
        (("day",), "time", 86_400),
        (("week",), "time", 604_800),
        (("ml", "milliliter", "millilitre"), "volume", _R(1, 1000)),
        (("l", "liter", "litre"), "volume", 1),
        (("gal", "gallon"), "volume", _R(3_785_411_784, 10**9)),
        (("m/s",), "speed", 1),
        (("km/h", "kph"), "speed", _R(1000, 3600)),
        (("mph",), "speed", _R(1_609_344, 3_600_000)),
        (("dollar", "usd"), "usd", 1),
        (("cent",), "usd", _R(1, 100)),
        (("euro",), "eur", 1),
        (("gbp",), "gbp", 1),
        (("rad", "radian"), "angle", 1),
        (("month",), "month", 1),
        (("year",), "year", 1),
        (("cup",), "cup", 1),
    ]
    for spelling in names
}
_UNIT_NAMES = {unit: (dimension, size) for unit, dimension, size in _MEASURES.values()}


def unit_size(unit: str) -> tuple[str, sympy.Rational]:
    """("length2", 1/10000) for "cm2": the dimension and size of a unit from `_measure`."""
    power = int(unit[-1]) if unit[-1] in "23" else 1
    dimension, size = _UNIT_NAMES[unit.rstrip("23")]
    return dimension + (str(power) if power > 1 else ""), size**power
_UNIT_WRAPPED = re.compile(r"(?<=\S)\s*\\(?:text|mathrm|mbox|textnormal|,)?\s*\{\s*" + _UNITS + r"\s*\}\s*$")
_UNIT_TRAILING = re.compile(r"(?<=[\d}).])\s*" + _UNITS + r"\.?\s*$")
# 5 \text{ red balls}, 5 red balls: a count and its noun
_NOUN_AFTER_NUMBER = re.compile(
    r"(?<=[\d}])\s*\\(?:text|mbox|mathrm|textnormal)\{\s*[a-zA-Z][a-zA-Z .]*\}\s*$"
    r"|(?<=\d)\s+(?!(?:and|or|to|times)\b)[a-zA-Z]{3,}(?:\s+[a-zA-Z]+)*\.?\s*$"
)
_SPACED_THOUSANDS = re.compile(r"\d{1,3}(?: \d{3})+(?:\.\d+)?")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL = re.compile(r"[-+]?(\d*)\.(\d+)")
_SCIENTIFIC = re.compile(r"[-+]?\d+(?:\.(\d+))?\s*(?:[eE]|\s*(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*)\{?([-+]?\d+)\}?")
_CHOICE = re.compile(r"(?:\(?([A-E])\)?|\(([a-e])\))(?:[.:)]?\s+(.+)|[.:)])?")
_HEDGE = re.compile(r"(?:or|and|/|,|;|\\text\{\s*(?:or|and))\b|\(?[A-E]\)?$", re.I)
_OPTION_WORD = re.compile(r"^(?:option|choice|answer)\s+(?=\(?[A-E]\b)", re.I)
_ASSIGNMENT = re.compile(
    r"^([a-zA-Z](?:_\{?\w+\}?)?(?:\^\{?-1\}?)?(?:\s*\([a-zA-Z, ]*\))?|\\[a-zA-Z]+)\s*=(?!=)\s*(.+)$", re.S
)
_MATRIX = re.compile(r"\\begin\{([pbBvV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}\s*([)\]]?)$", re.S)
_SEPARATOR = re.compile(r"\s*(?:,|;|\\text\{\s*(?:and|or)\s*\}|\b(?:and|or)\b)\s*")
_MEMBERSHIP = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*\\in\s*")
_REALS = re.compile(r"^(?:\\mathbb\{R\}|\\R|\(-\\infty,\s*\\infty\)|all real numbers|every real number)$", re.I)
_EMPTY = re.compile(
    r"^(?:\\emptyset|\\varnothing|\\\{\s*\\\}|\{\s*\}|(?:there (?:is|are) )?no (?:real )?solutions?|none)$", re.I
)
_REALS_EXCEPT = re.compile(r"^(?:\\mathbb\{R\}|\\R)\s*(?:\\setminus|\\backslash|-|\\smallsetminus)\s*\\\{(.+)\\\}$")
_REPEATING = re.compile(r"(?<![\d.])(\d*)\.(\d*)\\overline\{(\d{1,12})\}")
_NAMED_TUPLE = re.compile(r"^\(\s*[a-zA-Z](?:\s*,\s*[a-zA-Z])+\s*\)\s*=\s*(.+)$", re.S)
_OVER = re.compile(r"\{([^{}]*)\\over([^{}]*)\}")
# an aside after the answer: 5 \text{ (not 6)}, 7 \text{, since } 3 + 4 = 7, \pi \approx 3.14
_ASIDE = re.compile(
    r"(?<=\S)\s*(?:\\text\{\s*\([^{}]*\)\s*\}|\\text\{\s*,?\s*(?:since|because|as|where|which)\b.*"
    r"|,\s*(?:since|because|where|which)\b.*|\s(?:\\approx|≈)\s*[-+]?[\d.]+\s*)$",
    re.S,
)
_WORD_NUMBERS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
     "hundred": "100", "thousand": "1000", "one half": "1/2", "a half": "1/2", "one third": "1/3", "a third": "1/3",
     "one quarter": "1/4", "a quarter": "1/4", "two thirds": "2/3", "three quarters": "3/4"}
_WORD_NUMBER = re.compile(r"^(" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")\b", re.I)
_INFINITELY_MANY = re.compile(r"infinitely many(?: \w+)*|infinity|infinite", re.I)
_ANSWER_PHRASE = re.compile(
    r"^(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is\b|:)\s*)?(?:\\approx|approximately|approx\.?|about|roughly)?\s*", re.I
)
_BASE_NUMBER = re.compile(r"^([0-9A-F]+)_\{?(\d{1,2})\}?$")
_PLUS_MINUS = re.compile(r"\\pm|\\mp|\+-|\+/-")


@dataclass(frozen=True)
class Cleaned:
    text: str
    percent: bool
    degrees: bool
    unit: str | None = None


def _measure(unit_text: str) -> str | None:
    t = re.sub(r"[\s{}^.]", "", unit_text.lower()).replace("²", "2").replace("³", "3")
    power = t[-1] if t[-1:] in ("2", "3") else ""
    t = t.rstrip("23")
    for prefix, p in (("square", "2"), ("sq", "2"), ("cubic", "3")):
        if t.startswith(prefix):
            t, power = t[len(prefix) :], p
    found = _MEASURES.get(t) or (_MEASURES.get(t[:-1]) if t.endswith("s") else None)
    return found[0] + power if found else None


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
    s = strip_delimiters(raw)
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("{,}", "").replace(",\\!", ",")
    s = re.sub(r"(\d)\\[,!]\s?(?=\d{3}\b)", r"\1", s)  # 1\,000 is a thousand
    s = _OVER.sub(r"\\frac{\1}{\2}", s)  # {5 \over 8}
    units: list[str] = []
    for currency, pattern in _CURRENCY.items():
        s, found = pattern.subn("", s)
        units += [currency] * bool(found)
    s = s.replace("$", "")
    s = _ASIDE.sub("", s)
    s, degrees = _DEGREES.subn("", s)
    s, percent = _PERCENT.subn("", s)
    s = _SPACING.sub(" ", s)

    def drop_unit(m: re.Match[str]) -> str:
        units.append(m.group("unit"))
        return ""

    s = _UNIT_WRAPPED.sub(drop_unit, s)
    s = _UNIT_TRAILING.sub(drop_unit, s)
    s = _NOUN_AFTER_NUMBER.sub("", s)
    s = _REPEATING.sub(_repeating_fraction, s)
    s = _unwrap(s)
    s = _UNIT_TRAILING.sub(drop_unit, s)
    s = _NOUN_AFTER_NUMBER.sub("", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".;,").strip()
    s = _WORD_NUMBER.sub(lambda m: _WORD_NUMBERS[m.group(1).lower()], s)  # twelve eggs → 12 eggs
    s = _NOUN_AFTER_NUMBER.sub("", s)
    s = _strip_redundant(_ANSWER_PHRASE.sub("", s))
    s = _BASE_NUMBER.sub(r"\1", s)  # 10201_3 and 10201_{3}: compared by their digits
    if _INFINITELY_MANY.fullmatch(s):
        s = "\\infty"
    if _SPACED_THOUSANDS.fullmatch(s):  # 1 000 000
        s = s.replace(" ", "")
    s = re.sub(r"^(?:is|=)\s+", "", s)
    unit = _measure(units[-1]) if units else None
    return Cleaned(s, percent=bool(percent), degrees=bool(degrees), unit=unit)


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


def _split_top(s: str, separator: re.Pattern[str]) -> list[str]:
    """Split on `separator` outside (), [], {} (and \\{ \\})."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        c = s[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            m = separator.match(s, i)
            if m and m.end() > i:
                parts.append(s[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(s[start:])
    if len(parts) > budget.MAX_ITEMS:
        raise TooCostly(f"more than {budget.MAX_ITEMS} answers")
    return [p.strip() for p in parts]


def _matching_close(s: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(s)):
        if s[i] in "([{":
            depth += 1
        elif s[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _places(text: str) -> int | None:
    """Decimal places written, when the answer is one decimal number with at least two significant
    digits: 0.33 vouches for 1/3 to two places, a lone 0.3 vouches for nothing."""
    if m := _DECIMAL.fullmatch(text):
        mantissa, places = m.group(1) + m.group(2), len(m.group(2))
    elif m := _SCIENTIFIC.fullmatch(text):
        mantissa, places = m.group(0), len(m.group(1) or "") - int(m.group(2))
        mantissa = re.split(r"[eE\\*x]", mantissa)[0]
    else:
        return None
    return places if len(re.sub(r"\D", "", mantissa).lstrip("0")) >= 2 else None


def _scalar_or_relation(text: str) -> Value:
    var = None
    if m := _ASSIGNMENT.match(text):
        var, text = re.sub(r"\s+", "", m.group(1)), m.group(2).strip()
        if "=" in text and not re.search(r"[<>]=|!=", text):
            text = text.rsplit("=", 1)[1].strip()  # x = 4/2 = 2: the last value is the answer
    parsed = parse_formula(text)
    if isinstance(parsed, Chain):
        return _relation(parsed, var)
    return Scalar(parsed, places=_places(text.replace(" ", "")), var=var)


def _relation(chain: Chain, var: str | None) -> Value:
    if var is not None:
        raise ParseError("an assignment with a relation in its value")
    parts, ops = chain.parts, chain.ops
    if intervals := _inequality_interval(parts, ops):
        return intervals
    if len(ops) != 1:
        raise ParseError("a chain of relations")
    lhs, rhs = parts
    op = ops[0]
    if op in (">", ">="):
        lhs, rhs, op = rhs, lhs, op.replace(">", "<")
    return Relation(lhs - rhs, op)


def _inequality_interval(parts: tuple, ops: tuple) -> Intervals | None:
    """`x > 3`, `-1 <= x < 2` → intervals; anything else is a general relation."""
    if any(op not in ("<", "<=", ">", ">=") for op in ops):
        return None
    if len(ops) == 2 and (ops[0][0] != ops[1][0]):
        return None
    symbols = [p for p in parts if p.is_Symbol]
    if len(symbols) != 1 or any(p.free_symbols for p in parts if not p.is_Symbol):
        return None
    if ops[0][0] == ">":
        parts, ops = parts[::-1], tuple(o.replace(">", "<") for o in ops[::-1])
    at = parts.index(symbols[0])
    lo, lo_closed = (parts[0], ops[0] == "<=") if at == 1 else (sympy.S.NegativeInfinity, False)
    hi, hi_closed = (parts[at + 1], ops[at] == "<=") if at + 1 < len(parts) else (sympy.S.Infinity, False)
    return Intervals(((lo, hi, lo_closed, hi_closed),))


def _interval(text: str) -> tuple | None:
    if len(text) < 5 or text[0] not in "([" or text[-1] not in ")]" or _matching_close(text, 0) != len(text) - 1:
        return None
    ends = _split_top(text[1:-1], re.compile(r","))
    if len(ends) != 2:
        return None
    lo, hi = (parse_formula(e) for e in ends)
    if isinstance(lo, Chain) or isinstance(hi, Chain):
        return None
    return (lo, hi, text[0] == "[", text[-1] == "]")


def _reals_except(texts: list[str]) -> Intervals:
    """ℝ \\ {a, b} as the open intervals between the points."""
    points = [parse_formula(t) for t in texts]
    if any(isinstance(p, Chain) or not p.is_number or not p.is_real for p in points):
        raise ParseError("removed points must be real numbers")
    ends = [sympy.S.NegativeInfinity, *sorted(set(points), key=lambda p: float(p.evalf(20))), sympy.S.Infinity]
    return Intervals(tuple((lo, hi, False, False) for lo, hi in zip(ends, ends[1:])))


def _matrix(kind: str, body: str, factor_text: str) -> Value:
    rows = [r for r in re.split(r"\\\\(?:\[[^\]]*\])?", body) if r.strip() and not r.strip().startswith("\\hline")]
    cells = [tuple(_scalar_or_relation(c.strip()) for c in r.split("&")) for r in rows]
    if not cells or sum(len(r) for r in cells) > budget.MAX_ITEMS or len({len(r) for r in cells}) != 1:
        raise ParseError("a ragged or oversized matrix")
    if any(not isinstance(c, Scalar) for r in cells for c in r):
        raise ParseError("a matrix entry is not a number or expression")
    factor = sympy.S.One
    if factor_text:  # 2\begin{pmatrix}…\end{pmatrix}
        factor = parse_formula(factor_text)
        if isinstance(factor, Chain):
            raise ParseError("a relation before a matrix")
    if kind == "vmatrix":  # |…| is a determinant
        if len(cells) != len(cells[0]) or len(cells) > 4:
            raise ParseError("a determinant of a non-square or larger than 4x4 matrix")
        return Scalar(factor * sympy.Matrix([[c.expr for c in r] for r in cells]).det())
    return Matrix(tuple(tuple(Scalar(factor * c.expr) if factor != 1 else c for c in r) for r in cells))


def _items(kind: str, texts: list[str], brackets: str | None = None) -> Items:
    items: list[Value] = []
    for t in texts:
        if not t:
            continue
        v = _structure(t)
        if kind != "tuple" and isinstance(v, Items) and v.kind == "list":
            items.extend(v.items)  # 0, ±3 is three answers
        else:
            items.append(v)
    return Items(kind, tuple(items), brackets)


def _structure(s: str) -> Value:
    budget.check()
    s = s.strip()
    if not s:
        raise ParseError("empty answer")
    if m := _MATRIX.search(s):
        prefix = s[: m.start()].strip()
        if m.group(3):  # \left( \begin{array}…\end{array} \right)
            if not prefix.endswith(("(", "[")):
                raise ParseError("a bracket closes a matrix it did not open")
            prefix = prefix[:-1].strip()
        return _matrix(m.group(1), m.group(2), prefix)
    s = _MEMBERSHIP.sub("", s)
    if m := _NAMED_TUPLE.match(s):  # (a, b) = (3, 4)
        s = m.group(1).strip()
    if _REALS.match(s):
        return Intervals(((sympy.S.NegativeInfinity, sympy.S.Infinity, False, False),))
    if _EMPTY.match(s):
        return Items("set", ())
    if m := _REALS_EXCEPT.match(s):
        return _reals_except(_split_top(m.group(1), _SEPARATOR))
    unions = _split_top(s, re.compile(r"\s*(?:\\cup|\bU\b)\s*"))
    if len(unions) > 1:
        pieces = [_interval(u) for u in unions]
        if all(pieces):
            return Intervals(tuple(pieces))
        raise ParseError("a union of things that are not intervals")
    if s.startswith("\\lbrace") or s.startswith("\\{"):
        s = s.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}")
        if s.endswith("\\}") and s.count("\\{") == 1:
            return _items("set", _split_top(s[2:-2], _SEPARATOR))
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if s[0] in "([" and s[-1] in ")]" and _matching_close(s, 0) == len(s) - 1:
        inner = _split_top(s[1:-1], re.compile(r"\s*,\s*"))
        if len(inner) > 1:
            brackets = s[0] + s[-1]
            if len(inner) == 2 and (brackets in ("(]", "[)") or "infty" in s or "oo" in s):
                return Intervals((_interval(s),))
            return _items("tuple", inner, brackets)
    parts = _split_top(s, _SEPARATOR)
    if len(parts) > 1:
        items = _items("list", parts)
        if items.items and all(isinstance(i, Intervals) for i in items.items):
            return Intervals(tuple(p for i in items.items for p in i.pieces))
        return items
    if _PLUS_MINUS.search(s):
        plus = _PLUS_MINUS.sub(lambda m: "-" if m.group(0) == "\\mp" else "+", s)
        minus = _PLUS_MINUS.sub(lambda m: "+" if m.group(0) == "\\mp" else "-", s)
        return _items("list", [plus, minus])
    try:
        return _scalar_or_relation(s)
    except NotMath:
        return Text(_text(s))


def _text(s: str) -> str:
    s = re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()
    return re.sub(r"^(?:the|a|an) ", "", s)


def _choice(s: str) -> Choice | None:
    s = _OPTION_WORD.sub("", s)
    m = _CHOICE.fullmatch(s)
    if not m or (m.group(3) and _HEDGE.match(m.group(3))):
        return None  # "A or B" is two answers, not option A
    rest = None
    if m.group(3):
        try:
            rest = _structure(m.group(3))
        except (ParseError, TooCostly):
            rest = Text(_text(m.group(3)))
    return Choice((m.group(1) or m.group(2)).upper(), rest)


def _with_flags(value: Value, cleaned: Cleaned) -> Value:
    if isinstance(value, Scalar) and (cleaned.percent or cleaned.degrees or cleaned.unit):
        return Scalar(value.expr, value.places, value.var, cleaned.percent, cleaned.degrees, cleaned.unit)
    return value


def parse_answer(raw: str) -> tuple[str, Value]:
    """(normalised text, value); raises ParseError (or TooCostly) when the answer cannot be read."""
    cleaned = clean(raw)
    if not cleaned.text:
        raise ParseError("empty answer")
    shown = f"{cleaned.text} [{cleaned.unit}]" if cleaned.unit else cleaned.text
    if choice := _choice(cleaned.text):
        return shown, choice
    return shown, _with_flags(_structure(cleaned.text), cleaned)
