"""An extracted answer string → a typed value: a number or expression, an equation, a list, tuple
or set, intervals, a matrix, words, or a multiple-choice letter (after `surface.clean`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy

from . import budget, matrices
from .budget import TooCostly
from .latex import Chain, NotMath, ParseError, parse_formula
from .surface import Cleaned, clean, decimal_comma


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
_SUBSCRIPT = r"(?:_(?:\{\w+\}|\w))?"
_NAME = (
    rf"(?:m\s*)?(?:\\angle\s*)?[a-zA-Z]+{_SUBSCRIPT}'{{0,3}}(?:\^\{{?-1\}}?)?(?:\s*(?:\([\w, .+-]*\)|\[[\w, ]*\]))?"
    r"|[a-zA-Z](?:\s*[-+]\s*[a-zA-Z]){1,3}"  # AIME's m + n = 17: the sum is the answer
    rf"|\\(?!sum\b|prod\b)[a-zA-Z]+{_SUBSCRIPT}"
    r"|(?:\\left)?\|\s*(?:\\overline\{)?[A-Z]{1,3}\}?\s*(?:\\right)?\|"  # |AB|
    r"|\\overline\{[A-Z]{1,3}\}"
    r"|\[[A-Z]{2,5}\]"  # [ABC], an area
)
# a named ratio: S_{MBCN}:S = 7:32, AB:BC = 2:1
_RATIO_NAME = rf"[A-Za-z]{{1,3}}{_SUBSCRIPT}\s*:\s*[A-Za-z]{{1,3}}{_SUBSCRIPT}"
_ASSIGNMENT = re.compile(rf"^({_RATIO_NAME}|{_NAME})\s*=(?!=)\s*(.+)$", re.S)
_RATIO = re.compile(r"^([^:=<>]+?)\s*:\s*([^:=<>]+)$")  # 7:32, one colon between two values
_MATRIX_NAME = re.compile(r"[A-Za-z](?:_\{?\w+\}?)?(?:\^\{?(?:-1|T|\\top)\}?)?")  # the A^{-1} of A^{-1} = …
_SEMICOLON = re.compile(r"\s*;\s*")  # between groups of answers: p=5, q=2; p=7, q=2
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


def _name(written: str) -> str:
    """How a named answer's name compares: |AB|, \\overline{AB} and AB are one length."""
    name = re.sub(r"\s+|\\left|\\right|\||\\overline\{|\}$", "", written)
    return name.replace("{", "").replace("}", "")


def _ratio(text: str) -> sympy.Expr | None:
    """7:32 as the fraction it is; None when the text is not one ratio of two values."""
    if not (m := _RATIO.match(text)):
        return None
    a, b = parse_formula(m.group(1)), parse_formula(m.group(2))
    if isinstance(a, Chain) or isinstance(b, Chain) or b == 0:
        raise ParseError("a ratio of relations")
    return a / b


def _scalar_or_relation(text: str) -> Value:
    var = None
    if m := _ASSIGNMENT.match(text):
        var, text = _name(m.group(1)), m.group(2).strip()
        if "=" in text and not re.search(r"[<>]=|!=", text):
            text = text.rsplit("=", 1)[1].strip()  # x = 4/2 = 2: the last value is the answer
    if (ratio := _ratio(text)) is not None:
        return Scalar(ratio, var=var)
    parsed = parse_formula(text)
    if isinstance(parsed, Chain):
        if (value := _computed_value(parsed, text)) is not None:
            return Scalar(value.expr, value.places, var)
        return _relation(parsed, var)
    return Scalar(parsed, places=_places(text.replace(" ", "")), var=var)


def _computed_value(chain: Chain, text: str) -> Scalar | None:
    """`\\sqrt{4} = 2`, `\\binom{5}{2} = 10`: a computation and its result, every side a number that
    agrees with the others, is the result; so is `\\prod_{k=1}^{n} (1 + 1/k) = n + 1`, a sum or
    product stated in closed form. Any other side with a variable makes it an equation."""
    if any(op != "=" for op in chain.ops):
        return None
    if all(p.has(sympy.Sum, sympy.Product) for p in chain.parts[:-1]):
        return Scalar(chain.parts[-1])
    if any(p.free_symbols for p in chain.parts):
        return None
    last = chain.parts[-1]
    if not all(_agree(p, last) for p in chain.parts[:-1]):
        return None
    return Scalar(last, places=_places(_split_top(text, re.compile(r"="))[-1].replace(" ", "")))


def _agree(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Two numbers the same to 20 digits (the sides of a computation someone wrote down)."""
    if a == b:
        return True
    diff = sympy.N(a - b, 30)
    return bool(diff.is_number and abs(diff) <= sympy.Float(10) ** -20 * max(1, abs(sympy.N(b, 15))))


def _relation(chain: Chain, var: str | None) -> Value:
    if var is not None:
        raise ParseError("an assignment with a relation in its value")
    parts, ops = chain.parts, chain.ops
    if intervals := _inequality_interval(parts, ops) or _all_but(parts, ops):
        return intervals
    if len(ops) != 1:
        raise ParseError("a chain of relations")
    lhs, rhs = parts
    op = ops[0]
    if op in (">", ">="):
        lhs, rhs, op = rhs, lhs, op.replace(">", "<")
    return Relation(lhs - rhs, op)


def _linear(e: sympy.Expr, x: sympy.Symbol) -> tuple[sympy.Expr, sympy.Expr] | None:
    """(a, b) with e = a·x + b, a a non-zero number; None when e is not linear in x."""
    a = sympy.diff(e, x)
    if a.free_symbols or a == 0:
        return None
    return a, sympy.expand(e - a * x)


def _inequality_interval(parts: tuple, ops: tuple) -> Intervals | None:
    """`x > 3`, `-x > -1`, `-1 <= 2x + 1 < 5`: linear in one variable → intervals; anything
    else is a general relation."""
    if any(op not in ("<", "<=", ">", ">=") for op in ops):
        return None
    if len(ops) == 2 and (ops[0][0] != ops[1][0]):
        return None
    free = set().union(*(p.free_symbols for p in parts))
    if len(free) != 1:
        return None
    (x,) = free
    if ops[0][0] == ">":
        parts, ops = parts[::-1], tuple(o.replace(">", "<") for o in ops[::-1])
    if len(parts) == 2:  # lhs < rhs: move everything to one side, a·x + b < 0
        parts = (parts[0] - parts[1], sympy.S.Zero) if parts[0].free_symbols else (sympy.S.Zero, parts[1] - parts[0])
    at = next(i for i, p in enumerate(parts) if p.free_symbols)
    if any(p.free_symbols for i, p in enumerate(parts) if i != at) or (line := _linear(parts[at], x)) is None:
        return None
    a, b = line
    ends = [(p - b) / a for i, p in enumerate(parts) if i != at]
    closed = [op == "<=" for op in ops]
    lo, lo_closed = (ends[0], closed[0]) if at == 1 else (sympy.S.NegativeInfinity, False)
    hi, hi_closed = (ends[-1], closed[at]) if at + 1 < len(parts) else (sympy.S.Infinity, False)
    if a.is_negative:  # dividing by a negative number turns the relation around
        lo, hi, lo_closed, hi_closed = -hi if hi.is_infinite else hi, -lo if lo.is_infinite else lo, hi_closed, lo_closed
    return Intervals(((lo, hi, lo_closed, hi_closed),))


def _all_but(parts: tuple, ops: tuple) -> Intervals | None:
    """`x \\neq 3`: every real number but one, as the two open intervals around it."""
    if ops != ("!=",) or len([p for p in parts if p.is_Symbol]) != 1:
        return None
    point = next(p for p in parts if not p.is_Symbol)
    if point.free_symbols or not point.is_real:
        return None
    return Intervals(((sympy.S.NegativeInfinity, point, False, False), (point, sympy.S.Infinity, False, False)))


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


def _cell(text: str) -> sympy.Expr:
    value = _scalar_or_relation(text)
    if not isinstance(value, Scalar):
        raise ParseError("a matrix entry is not a number or expression")
    return value.expr


def _as_value(v: matrices.Value) -> Value:
    if isinstance(v, sympy.MatrixBase):
        return Matrix(tuple(tuple(Scalar(v[i, j]) for j in range(v.cols)) for i in range(v.rows)))
    return Scalar(v)


def _matrix_answer(s: str) -> Value:
    """A matrix, an expression of matrices (`A B`, `M^{-1}`, `2M + I`), or a chain ending in
    one: `A^{-1} = \\begin{pmatrix}…`, where the name goes, or `\\begin{vmatrix}…\\end{vmatrix}
    = 6 - 5 = 1`, whose sides must agree."""
    parts = _split_top(s, re.compile(r"(?<![<>!])=(?!=)"))
    if len(parts) > 1 and not matrices.ENV.search(parts[0]) and _MATRIX_NAME.fullmatch(parts[0]):
        parts = parts[1:]
    if len(parts) == 1 and (cells := matrices.rows(parts[0])) is not None:
        scalars = [tuple(_scalar_or_relation(c) for c in r) for r in cells]
        if not scalars or sum(len(r) for r in scalars) > budget.MAX_ITEMS or len({len(r) for r in scalars}) != 1:
            raise ParseError("a ragged or oversized matrix")
        if any(not isinstance(c, Scalar) for r in scalars for c in r):
            raise ParseError("a matrix entry is not a number or expression")
        return Matrix(tuple(scalars))
    values = [matrices.evaluate(p, _cell) for p in parts]
    last = values[-1]
    for v in values[:-1]:
        matrix_v, matrix_last = isinstance(v, sympy.MatrixBase), isinstance(last, sympy.MatrixBase)
        if matrix_v != matrix_last or (matrix_v and v.shape != last.shape) or not all(
            _agree(a, b) for a, b in zip(v if matrix_v else [v], last if matrix_last else [last])
        ):
            raise ParseError("a chain whose sides differ")
    return _as_value(last)


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
    if matrices.ENV.search(s):
        return _matrix_answer(s)
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
    groups = _split_top(s, _SEMICOLON)
    if len(groups) > 1 and any(len(_split_top(g, _SEPARATOR)) > 1 for g in groups):
        return Items("list", tuple(_group(g) for g in groups))
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


def _group(text: str) -> Value:
    """One group of `p=5, q=2; p=7, q=2`: a tuple (whose names, where it has them, order it when
    compared: `q=2, p=5` is the point (5, 2))."""
    value = _structure(text)
    if not isinstance(value, Items) or value.kind != "list" or len(value.items) < 2:
        return value
    return Items("tuple", value.items)


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


def other_reading(raw: str) -> Value | None:
    """The second value a text allows, where it allows one: `2,74` reads as 2 and 74, or as 2.74
    with a decimal comma. None for a text with a single reading."""
    cleaned = clean(raw)
    text = decimal_comma(cleaned.text, quantity=cleaned.unit is not None)
    return None if text is None else _with_flags(_structure(text), cleaned)
