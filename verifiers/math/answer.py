"""An extracted answer string → a typed value: a number or expression, an equation, a list, tuple
or set, intervals, a matrix, words, or a multiple-choice letter (after `surface.clean`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy

from . import budget
from .budget import TooCostly
from .latex import Chain, NotMath, ParseError, parse_formula
from .surface import Cleaned, clean


@dataclass(frozen=True)
class Scalar:
    expr: sympy.Expr
    places: int | None = None  # written decimal places when the answer is one decimal number
    var: str | None = None  # `x` of `x = 3`
    percent: bool = False
    degrees: bool = False
    unit: str | None = None  # a unit of measure that was written after it
    base: int | None = None  # the digits were written in this base (10201_3)


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

_NAMED_TUPLE = re.compile(r"^\(\s*([a-zA-Z](?:\s*,\s*[a-zA-Z])+)\s*\)\s*=\s*(.+)$", re.S)
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL = re.compile(r"[-+]?(\d*)\.(\d+)")
_SCIENTIFIC = re.compile(r"[-+]?\d+(?:\.(\d+))?\s*(?:[eE]|\s*(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*)\{?([-+]?\d+)\}?")
# (C), C), C., C: 12, (c); a bare letter takes option text only after one of ) . :  ("A = 13" is no option)
_CHOICE = re.compile(r"(?:\(([A-Ea-e])\)|([A-E])(?=[.:)]|$))(?:[.:)]?\s*(?![=<>+\-*/^])(.+)|[.:)])?")
_HEDGE = re.compile(r"^(?:or|and|/|,|;)\b|\b(?:or|and)\b\s*\(?[A-E]\)?(?![a-zA-Z])|\(([A-E])\)|^\(?[A-E]\)?$", re.I)
_OPTION_WORD = re.compile(r"^(?:option|choice|answer)\s+(?=\(?[A-E]\b)", re.I)
# a named answer: x = 3, f(x) = …, f^{-1}(x) = …, f(2) = 5, AB = 5, Area = 12, \angle ABC = 30
_ASSIGNMENT = re.compile(
    r"^((?:\\angle\s*)?[a-zA-Z]+(?:_\{?\w+\}?)?(?:\^\{?-1\}?)?(?:\s*\([\w, ]*\))?|\\[a-zA-Z]+)\s*=(?!=)\s*(.+)$", re.S
)
_MATRIX = re.compile(r"\\begin\{([pbBvV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}\s*([)\]]?)$", re.S)
_SEPARATOR = re.compile(r"\s*(?:,|;|\\text\{\s*(?:and|or)\s*\}|\b(?:and|or)\b)\s*")
_MEMBERSHIP = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*\\in\s*")
_REALS = re.compile(r"^(?:\\mathbb\{R\}|\\R|\(-\\infty,\s*\\infty\)|all real numbers|every real number)$", re.I)
_EMPTY = re.compile(
    r"^(?:\\emptyset|\\varnothing|\\\{\s*\\\}|\{\s*\}|(?:there (?:is|are) )?no (?:real )?solutions?|none)$", re.I
)
_REALS_EXCEPT = re.compile(r"^(?:\\mathbb\{R\}|\\R)\s*(?:\\setminus|\\backslash|-|\\smallsetminus)\s*\\\{(.+)\\\}$")
_PLUS_MINUS = re.compile(r"\\pm(?![a-zA-Z])|\\mp(?![a-zA-Z])|\+-|\+/-")


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
    elif (m := _SCIENTIFIC.fullmatch(text)) and m.group(1):  # 1.5 x 10^4 is rounded, 15 x 10^3 is exact
        mantissa, places = m.group(0), len(m.group(1)) - int(m.group(2))
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
    if m := _NAMED_TUPLE.match(s):  # (a, b) = (3, 4): a = 3, b = 4
        names = [n.strip() for n in m.group(1).split(",")]
        values = _structure(m.group(2))
        if isinstance(values, Items) and len(values.items) == len(names) and all(isinstance(v, Scalar) for v in values.items):
            return Items("tuple", tuple(Scalar(v.expr, v.places, n) for n, v in zip(names, values.items)))
        raise ParseError("names and values of a tuple do not pair up")
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
    """Case, spacing, braces and end punctuation fold away; signs and operators stay (min = -3 ≠ min = 3)."""
    s = re.sub(r"[{}\\]", " ", s.lower())
    s = re.sub(r"\s*([^\w\s])\s*", r"\1", re.sub(r"\s+", " ", s)).strip(" .,;:!")
    return re.sub(r"^(?:the|a|an) ", "", s)


def _choice(s: str) -> Choice | None:
    s = _OPTION_WORD.sub("", s)
    m = _CHOICE.fullmatch(s)
    if not m or (m.group(3) and _HEDGE.search(m.group(3))):
        return None  # "A or B", "(C) 12 or (D) 15" are two answers, not one option
    rest = None
    if m.group(3):
        try:
            rest = _structure(m.group(3))
        except (ParseError, TooCostly):
            rest = Text(_text(m.group(3)))
    return Choice((m.group(1) or m.group(2)).upper(), rest)


def _with_flags(value: Value, cleaned: Cleaned) -> Value:
    if isinstance(value, Scalar) and (cleaned.percent or cleaned.degrees or cleaned.unit or cleaned.base):
        return Scalar(value.expr, value.places, value.var, cleaned.percent, cleaned.degrees, cleaned.unit, cleaned.base)
    return value


def parse_answer(raw: str) -> tuple[str, Value]:
    """(normalised text, value); raises ParseError (or TooCostly) when the answer cannot be read."""
    cleaned = clean(raw)
    if not cleaned.text:
        raise ParseError("empty answer")
    shown = cleaned.shown()
    if choice := _choice(cleaned.text):
        return shown, choice
    return shown, _with_flags(_structure(cleaned.text), cleaned)
