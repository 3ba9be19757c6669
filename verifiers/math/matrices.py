"""Matrices in an answer: the environments LaTeX writes them in (`pmatrix`, `bmatrix`, `Bmatrix`,
`smallmatrix`, `array` in brackets; `vmatrix` is a determinant), and the expressions built from
them (`A + B`, `AB`, `2M`, `M^T`, `M^{-1}`, `M^2`), evaluated to one matrix before comparing.

Exact arithmetic on at most `budget.MAX_ITEMS` entries, inverses only of 4×4 and smaller, powers
of at most 10: bounded work, whatever the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy

from . import budget
from .latex import ParseError

ENV = re.compile(r"\\begin\{([pbBvV]?matrix|smallmatrix|array)\}(?:\{[^{}]*\})?")
_ROW_BREAK = re.compile(r"\\\\(?:\[[^\]]*\])?")
# between and around matrices: operators, brackets and postfix marks; anything else is a scalar
_TOKEN = re.compile(
    r"\s*(?:(?P<post>\^\s*(?:\{\s*(?:T|\\top|\\intercal|t|-1|\d)\s*\}|T\b|\\top|\\intercal|\d))"
    r"|(?P<op>[-+*()\[\]]|\\cdot|\\times))"
)
_MAX_POWER = 10
_MAX_INVERSE = 4
Value = sympy.MatrixBase | sympy.Expr


def _matrix(kind: str, body: str, cell: Callable[[str], sympy.Expr]) -> Value:
    rows = [r for r in _ROW_BREAK.split(body) if r.strip() and not r.strip().startswith("\\hline")]
    cells = [[cell(c.strip()) for c in r.split("&")] for r in rows]
    if not cells or sum(len(r) for r in cells) > budget.MAX_ITEMS or len({len(r) for r in cells}) != 1:
        raise ParseError("a ragged or oversized matrix")
    m = sympy.ImmutableMatrix(cells)
    if kind == "vmatrix":  # |…| is a determinant
        if not m.is_square or m.rows > _MAX_INVERSE:
            raise ParseError("a determinant of a non-square or larger than 4x4 matrix")
        return m.det()
    return m


def _pieces(text: str, cell: Callable[[str], sympy.Expr]) -> list[Value | str]:
    """The text as literal matrices and the text between them."""
    pieces: list[Value | str] = []
    pos = 0
    for m in ENV.finditer(text):
        if m.start() < pos:
            continue
        end = text.find(f"\\end{{{m.group(1)}}}", m.end())
        if end < 0:
            raise ParseError(f"\\begin{{{m.group(1)}}} without its \\end")
        pieces += [text[pos : m.start()], _matrix(m.group(1), text[m.end() : end], cell)]
        pos = end + len(f"\\end{{{m.group(1)}}}")
    return [*pieces, text[pos:]]


def _tokens(text: str, cell: Callable[[str], sympy.Expr]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for piece in _pieces(text, cell):
        if not isinstance(piece, str):
            out.append(("value", piece))
            continue
        pos = 0
        while pos < len(piece.rstrip()):
            if m := _TOKEN.match(piece, pos):
                kind = m.lastgroup or "op"
                out.append((kind, re.sub(r"[\s{}^]", "", m.group(kind))))
                pos = m.end()
                continue
            # a scalar factor: up to the next operator outside braces
            depth, end = 0, pos
            while end < len(piece) and (depth or piece[end] not in "+-*()[]^" and not piece.startswith(("\\cdot", "\\times"), end)):
                depth += (piece[end] == "{") - (piece[end] == "}")
                end += 1
            if end == pos or not piece[pos:end].strip():
                raise ParseError(f"unexpected {piece[pos:pos + 1]!r} in a matrix expression")
            scalar = cell(piece[pos:end].strip())
            out.append(("value", scalar))
            pos = end
    return out


class _Reader:
    def __init__(self, tokens: list[tuple[str, object]]):
        self.tokens, self.i = tokens, 0

    def peek(self) -> tuple[str, object]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "")

    def expr(self) -> Value:
        sign = 1
        if self.peek() == ("op", "-"):
            self._take()
            sign = -1
        total = sign * self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            sign = 1 if self._take()[1] == "+" else -1
            total = _add(total, sign * self.term())
        return total

    def term(self) -> Value:
        out = self.factor()
        while (tok := self.peek())[0] == "value" or tok in (("op", "*"), ("op", "\\cdot"), ("op", "\\times"), ("op", "("), ("op", "[")):
            if tok[0] == "op" and tok[1] in ("*", "\\cdot", "\\times"):
                self._take()
            out = _multiply(out, self.factor())
        return out

    def factor(self) -> Value:
        kind, value = self._take()
        if (kind, value) in (("op", "("), ("op", "[")):
            out = self.expr()
            if self._take() not in (("op", ")"), ("op", "]")):
                raise ParseError("unbalanced brackets in a matrix expression")
        elif kind == "value":
            out = value  # type: ignore[assignment]
        else:
            raise ParseError(f"unexpected {value!r} in a matrix expression")
        while self.peek()[0] == "post":
            out = _postfix(out, str(self._take()[1]))
        return out

    def _take(self) -> tuple[str, object]:
        budget.check()
        tok = self.peek()
        if tok[0] == "end":
            raise ParseError("a matrix expression ends too early")
        self.i += 1
        return tok


def _is_matrix(v: Value) -> bool:
    return isinstance(v, sympy.MatrixBase)


def _add(a: Value, b: Value) -> Value:
    if _is_matrix(a) != _is_matrix(b) or (_is_matrix(a) and a.shape != b.shape):
        raise ParseError("adding a matrix to something of another shape")
    return a + b


def _multiply(a: Value, b: Value) -> Value:
    if _is_matrix(a) and _is_matrix(b) and a.shape[1] != b.shape[0]:
        raise ParseError("multiplying matrices of shapes that do not fit")
    return a * b


def _postfix(m: Value, mark: str) -> Value:
    if not _is_matrix(m):
        raise ParseError("a transpose or inverse of a number")
    if mark in ("T", "t", "\\top", "\\intercal"):
        return m.T
    if not m.is_square or m.rows > _MAX_INVERSE:
        raise ParseError("a power or inverse of a non-square or large matrix")
    if mark == "-1":
        if m.det() == 0:
            raise ParseError("the inverse of a singular matrix")
        return m.inv()
    if int(mark) > _MAX_POWER:
        raise ParseError("a matrix power too large")
    return m ** int(mark)


def rows(text: str) -> list[list[str]] | None:
    """The cells of a text that is one matrix and nothing else (a bracket around it aside), as
    written, so that each keeps what its digits vouch for (`1.414`); None otherwise."""
    inner = text.strip()
    while inner[:1] in "([" and inner[-1:] in ")]":
        inner = inner[1:-1].strip()
    m = ENV.match(inner)
    if not m or m.group(1) == "vmatrix" or not inner.endswith(end := f"\\end{{{m.group(1)}}}"):
        return None
    body = inner[m.end() : len(inner) - len(end)]
    if "\\begin" in body:
        return None
    return [[c.strip() for c in r.split("&")] for r in _ROW_BREAK.split(body) if r.strip() and not r.strip().startswith("\\hline")]


def evaluate(text: str, cell: Callable[[str], sympy.Expr]) -> Value:
    """The matrix (or, for a determinant, the number) an expression of matrices stands for."""
    reader = _Reader(_tokens(text, cell))
    out = reader.expr()
    if reader.peek()[0] != "end":
        raise ParseError(f"unexpected {reader.peek()[1]!r} after a matrix expression")
    return sympy.ImmutableMatrix(out) if _is_matrix(out) else out
