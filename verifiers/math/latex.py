"""One answer formula, LaTeX or plain text (`\\frac{1}{2}`, `sqrt(2)/2`, `2x^2`), to a sympy expression.

Written by hand, on purpose. sympy's `parse_latex` (ANTLR backend) and latex2sympy2_extended pin
an antlr4-python3-runtime that conflicts with hydra/omegaconf, which our users install beside us;
sympy's lark backend covers too little answer LaTeX; and `sympy.parse_expr` runs its input
through `eval`, which must never see model output. Answers are short, so a small Pratt parser
over a whitelist of tokens is enough, and it can refuse huge powers and factorials before
building them (see `budget`). Decimals are read as exact rationals, never floats.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import sympy

from . import budget
from .budget import TooCostly


class ParseError(ValueError):
    """The text is not a formula this parser reads."""


class NotMath(ParseError):
    """The text reads as words (`Monday`, `no solution`), not as a formula."""


@dataclass(frozen=True)
class Chain:
    """A relation chain such as `a < x <= b` or `y = 2x + 1`."""

    parts: tuple[sympy.Expr, ...]
    ops: tuple[str, ...]


_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+(?![a-zA-Z\d]))?)"
    r"|(?P<cmd>\\[a-zA-Z]+|\\[^a-zA-Z\s])"
    r"|(?P<word>[a-zA-Z]+)"
    r"|(?P<op>\*\*|<=|>=|!=|=<|=>|[-+*/^!(){}\[\],=<>|_'])"
    r")"
)

_ALIASES = {
    "\\dfrac": "\\frac", "\\tfrac": "\\frac", "\\cfrac": "\\frac", "\\dbinom": "\\binom", "\\tbinom": "\\binom",
    "\\le": "<=", "\\leq": "<=", "\\leqslant": "<=", "\\ge": ">=", "\\geq": ">=", "\\geqslant": ">=",
    "\\lt": "<", "\\gt": ">", "\\ne": "!=", "\\neq": "!=", "=<": "<=", "=>": ">=",
    "\\cdot": "*", "\\times": "*", "\\ast": "*", "\\div": "/", "**": "^",
    "\\lvert": "|", "\\rvert": "|", "\\vert": "|", "\\mid": "|", "\\{": "\\lbrace", "\\}": "\\rbrace",
}
_FUNCTIONS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec, "csc": sympy.csc,
    "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan, "asin": sympy.asin, "acos": sympy.acos,
    "atan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "ln": sympy.log, "log": sympy.log, "exp": sympy.exp, "sqrt": sympy.sqrt, "abs": sympy.Abs,
    "floor": sympy.floor, "ceil": sympy.ceiling, "ceiling": sympy.ceiling,
}
_CONSTANTS = {"pi": sympy.pi, "infty": sympy.oo, "infinity": sympy.oo, "inf": sympy.oo, "oo": sympy.oo}
_GREEK = set(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho sigma "
    "tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega".split()
)
_INVERSES = {sympy.sin: sympy.asin, sympy.cos: sympy.acos, sympy.tan: sympy.atan, sympy.sinh: sympy.asinh,
             sympy.cosh: sympy.acosh, sympy.tanh: sympy.atanh, sympy.cot: sympy.acot, sympy.sec: sympy.asec,
             sympy.csc: sympy.acsc}
_SHORT_WORDS = {"no", "ok", "on", "off", "up", "it", "is", "of", "to"}
_SINGLE_LETTER = {"e": sympy.E, "i": sympy.I}
_RELATIONS = ("=", "<", ">", "<=", ">=", "!=")
_STARTS_FACTOR = {"(", "{"}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ParseError(f"unexpected character {text[pos:].lstrip()[:1]!r}")
        kind = m.lastgroup or "op"
        value = m.group(kind)
        value = _ALIASES.get(value, value)
        if kind == "cmd" and value in ("<=", ">=", "<", ">", "!=", "*", "/", "|"):
            kind = "op"
        elif value in ("\\left", "\\right", "\\big", "\\Big", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr"):
            pos = m.end()
            continue
        tokens.append((kind, value))
        pos = m.end()
    return tokens


def _int(digits: str) -> int:
    """int() in slices: Python refuses to convert more than 4300 digits at once."""
    value = 0
    for i in range(0, len(digits), 4000):
        chunk = digits[i : i + 4000]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def _literal(text: str) -> sympy.Rational:
    """Exact: "0.1" is 1/10, "1.5e-3" is 3/2000."""
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, fraction = mantissa.partition(".")
    shift = int(exponent or 0) - len(fraction)
    if len(whole + fraction) > budget.MAX_LITERAL_DIGITS or abs(shift) > budget.MAX_LITERAL_DIGITS:
        raise TooCostly("number too large to evaluate")
    n = _int((whole + fraction) or "0")
    return sympy.Rational(n * 10**shift) if shift >= 0 else sympy.Rational(n, 10**-shift)


_MAX_ROOT_BITS = 256


def _bits(e: sympy.Expr) -> int:
    return e.p.bit_length() + e.q.bit_length() if e.is_Rational else 0


def _sum(terms: list[sympy.Expr]) -> sympy.Expr:
    # adding fractions multiplies their denominators: bound those as for a product
    if sum(t.q.bit_length() for t in terms if t.is_Rational) > budget.MAX_INTEGER_BITS:
        raise TooCostly("sum too large to evaluate")
    return sympy.Add(*terms)


def _product(factors: list[sympy.Expr]) -> sympy.Expr:
    # sympy multiplies exact numbers out (and merges 3^a·3^b): bound the size of the result first
    if sum(_bits(f) for f in factors) > budget.MAX_INTEGER_BITS:
        raise TooCostly("product too large to evaluate")
    return sympy.Mul(*factors)


def _pow(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    if exp.is_number and exp.is_real and base not in (sympy.S.Zero, sympy.S.One, sympy.S.NegativeOne):
        # x^(10^3999) too: evaluating it at a point takes seconds
        limit = budget.MAX_INTEGER_BITS if base.is_number else budget.MAX_SYMBOLIC_EXPONENT
        if abs(exp.evalf(15)) > limit:
            raise TooCostly("power too large to evaluate")
    if base.is_Rational and exp.is_Rational:
        if abs(exp) * max(math.log2(abs(base.p) or 1), math.log2(base.q)) > budget.MAX_INTEGER_BITS:
            raise TooCostly("power too large to evaluate")
        if not exp.is_Integer and _bits(base) > _MAX_ROOT_BITS:
            raise TooCostly("root of too large a number")  # sympy would try to factor it
    return sympy.Pow(base, exp)


def _factorial(e: sympy.Expr) -> sympy.Expr:
    if e.is_Integer:
        if e < 0:
            raise ParseError("factorial of a negative number")
        if e > budget.MAX_FACTORIAL:
            raise TooCostly("factorial too large to evaluate")
    elif e.is_number:
        raise ParseError("factorial of a non-integer")
    return sympy.factorial(e)


def _factorial2(e: sympy.Expr) -> sympy.Expr:
    if e.is_Integer and not 0 <= e <= 2 * budget.MAX_FACTORIAL:
        raise TooCostly("double factorial out of range")
    return sympy.factorial2(e)


_MAX_TERMS = 1000  # a sum or product with numbers for bounds is written out up to this many terms
_MAX_SUM_DEGREE = 8


def _count(lo: sympy.Expr, hi: sympy.Expr) -> int | None:
    """How many terms from lo to hi when both are integers (None otherwise)."""
    if not (lo.is_Integer and hi.is_Integer):
        return None
    n = int(hi - lo + 1)
    if n > _MAX_TERMS:
        raise TooCostly("a sum or product of too many terms")
    return max(n, 0)


def _sum_of(body: sympy.Expr, k: sympy.Symbol, lo: sympy.Expr, hi: sympy.Expr) -> sympy.Expr:
    """A sum as a closed form: written out between numbers, else exact by interpolation for a
    polynomial summand (its partial sums are a polynomial of one degree more), else a geometric
    one through sympy. Any other is left unevaluated, for comparison at whole-number bounds:
    nothing here runs sympy's unbounded summation."""
    if (n := _count(lo, hi)) is not None:
        return _sum([body.subs(k, lo + i) for i in range(n)])
    if body.is_polynomial(k):
        degree = sympy.degree(body, k) if body.has(k) else 0
        if degree > _MAX_SUM_DEGREE:
            raise TooCostly("a sum of too high a degree")
        m = sympy.Dummy("m")
        partial, points = sympy.S.Zero, []
        for j in range(degree + 2):  # F(j) = body(0) + … + body(j)
            partial += body.subs(k, j)
            points.append((j, partial))
        total = sympy.interpolate(points, m)
        return sympy.expand(total.subs(m, hi) - total.subs(m, lo - 1))
    base_exp = body.as_independent(k, as_Add=False)[1]
    if base_exp.is_Pow and base_exp.base.is_number and base_exp.exp.is_polynomial(k) and sympy.degree(base_exp.exp, k) == 1:
        return sympy.summation(body, (k, lo, hi))  # geometric: quick and exact
    return sympy.Sum(body, (k, lo, hi))  # left as it is: compared at whole-number bounds (equal.py)


def _product_of(body: sympy.Expr, k: sympy.Symbol, lo: sympy.Expr, hi: sympy.Expr) -> sympy.Expr:
    """A product: written out between numbers, else a factorial-like closed form for a linear
    factor, else left unevaluated, as a sum is."""
    if (n := _count(lo, hi)) is not None:
        return _product([body.subs(k, lo + i) for i in range(n)])
    if body.is_polynomial(k) and sympy.degree(body, k) == 1:
        return sympy.product(body, (k, lo, hi))
    return sympy.Product(body, (k, lo, hi))  # left as it is: compared at whole-number bounds


def _divide(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    if b == 0:
        raise ParseError("division by zero")
    return a / b


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.bound: set[str] = set()  # indices of the sums being read: `i` there is no imaginary unit

    # -- token stream -------------------------------------------------------------------
    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self) -> tuple[str, str]:
        budget.check()
        tok = self.peek()
        if tok[0] == "end":
            raise ParseError("formula ends too early")
        self.i += 1
        return tok

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value:
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            found = self.peek()[1] or "the end"
            raise ParseError(f"expected {value!r}, found {found!r}")

    def split_first_char(self) -> None:
        """LaTeX reads `\\frac12` as `\\frac{1}{2}`: a bare argument is one character."""
        kind, value = self.peek()
        if kind in ("num", "word") and len(value) > 1:
            self.toks[self.i : self.i + 1] = [(kind, value[0]), (kind, value[1:])]

    # -- grammar ------------------------------------------------------------------------
    def parse(self) -> sympy.Expr | Chain:
        parts, ops = [self.expr()], []
        while self.peek()[1] in _RELATIONS:
            ops.append(self.take()[1])
            parts.append(self.expr())
        if self.peek()[0] != "end":
            raise ParseError(f"unexpected {self.peek()[1]!r}")
        return Chain(tuple(parts), tuple(ops)) if ops else parts[0]

    def nest(self) -> None:
        self.depth += 1
        if self.depth > budget.MAX_NESTING:
            raise TooCostly("formula nested too deeply")

    def expr(self) -> sympy.Expr:
        self.nest()
        terms = [self.term()]  # summed once at the end: a 10,000-term sum stays linear
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            right = self.term()
            terms.append(right if op == "+" else -right)
        self.depth -= 1
        return _sum(terms)

    def term(self) -> sympy.Expr:
        factors = [self.unary()]
        while True:
            kind, value = self.peek()
            if value == "*":
                self.take()
                factors.append(self.unary())
            elif value == "/":
                self.take()
                factors.append(_divide(sympy.S.One, self.unary()))
            elif kind == "num" and self.toks[self.i - 1][0] == "num":
                raise ParseError("two numbers side by side")
            elif self.starts_factor(kind, value):
                factors.append(self.power())
            else:
                return _product(factors)

    def starts_factor(self, kind: str, value: str) -> bool:
        if kind in ("word", "num"):
            return True
        if kind == "cmd":
            return value not in ("\\rbrace", "\\lbrace", "\\rfloor", "\\rceil", "\\pm", "\\mp", "\\cup", "\\cap")
        return value in _STARTS_FACTOR

    def starts_function(self) -> bool:
        kind, value = self.peek()
        name = value[1:] if kind == "cmd" else value
        return kind in ("cmd", "word") and (name in _FUNCTIONS or name in ("frac", "sqrt"))

    def unary(self) -> sympy.Expr:
        self.nest()
        if self.accept("-"):
            out = -self.unary()
        elif self.accept("+"):
            out = self.unary()
        else:
            out = self.power()
        self.depth -= 1
        return out

    def power(self) -> sympy.Expr:
        base = self.postfix()
        if self.accept("^"):
            return _pow(base, self.unary())  # right-assoc; 2^-1 has a signed exponent
        return base

    def postfix(self) -> sympy.Expr:
        e = self.primary()
        while self.accept("!"):
            e = _factorial2(e) if self.accept("!") else _factorial(e)
        if self.peek()[1] == "'":
            raise ParseError("derivative marks are not an answer")
        return e

    def group(self, close: str) -> sympy.Expr:
        e = self.expr()
        if self.peek()[1] == ",":
            raise ParseError("a list inside a formula")
        self.expect(close)
        return e

    def argument(self) -> sympy.Expr:
        """A command's argument: `{…}`, or one character/command (`\\sqrt2`, `\\frac\\pi2`)."""
        if self.accept("{"):
            return self.group("}")
        self.split_first_char()
        return self.primary()

    def subscript(self) -> str:
        if self.accept("{"):
            start = self.i
            depth = 1
            while depth:
                v = self.take()[1]
                depth += (v == "{") - (v == "}")
            return "".join(v for _, v in self.toks[start : self.i - 1])
        self.split_first_char()
        return self.take()[1]

    def function(self, fn) -> sympy.Expr:
        base = None
        exponent = None
        if fn is sympy.log and self.accept("_"):
            base = self.argument()
        if self.accept("^"):
            exponent = self.argument()
        if self.peek()[1] in ("(", "{"):
            arg = self.primary()
        else:  # \sin 2x is sin(2x); \sin x \cos x is sin(x)·cos(x)
            factors = [self.power()]
            while self.starts_factor(*self.peek()) and not self.starts_function():
                factors.append(self.power())
            arg = _product(factors)
        if exponent == -1 and fn in _INVERSES:  # \sin^{-1} x is arcsin x, not 1/sin x
            return _INVERSES[fn](arg)
        if base is not None:
            out = sympy.log(arg, base)
        else:
            out = _pow(arg, sympy.S.Half) if fn is sympy.sqrt else fn(arg)
        return _pow(out, exponent) if exponent is not None else out

    def primary(self) -> sympy.Expr:
        kind, value = self.take()
        if kind == "num":
            return self.number(value)
        if value == "(":
            return self.group(")")
        if value == "{":
            return self.group("}")
        if value == "[":
            return self.group("]")
        if value == "|":
            e = self.expr()
            self.expect("|")
            return sympy.Abs(e)
        if kind == "cmd":
            return self.command(value)
        if kind == "word":
            return self.word(value)
        raise ParseError(f"unexpected {value!r}")

    def number(self, text: str) -> sympy.Expr:
        n = _literal(text)
        # A mixed number: 2\frac{1}{2} is two and a half, as answer keys write it.
        if n.is_Integer and self.peek() == ("cmd", "\\frac"):
            save = self.i
            self.take()
            try:
                num, den = self.argument(), self.argument()
            except ParseError:
                num = den = None
            if num is not None and num.is_Integer and den.is_Integer and 0 < num < den:
                return n + _divide(num, den)
            self.i = save
        return n

    def command(self, name: str) -> sympy.Expr:
        bare = name[1:]
        if name == "\\frac":
            return _divide(self.argument(), self.argument())
        if name == "\\binom":
            n, k = self.argument(), self.argument()
            if n.is_Integer and n > budget.MAX_FACTORIAL:
                raise TooCostly("binomial too large to evaluate")
            return sympy.binomial(n, k)
        if name == "\\sqrt":
            if self.accept("["):
                index = self.group("]")
                return _pow(self.argument(), _divide(sympy.S.One, index))
            return _pow(self.argument(), sympy.S.Half)
        if bare in ("sum", "prod"):
            return self.big_operator(bare)
        if name == "\\lfloor":
            return sympy.floor(self.group("\\rfloor"))
        if name == "\\lceil":
            return sympy.ceiling(self.group("\\rceil"))
        if bare in _FUNCTIONS:
            return self.function(_FUNCTIONS[bare])
        if bare in _CONSTANTS:
            return _CONSTANTS[bare]
        if bare in _GREEK:
            return self.symbol(bare)
        if name in ("\\mathrm", "\\mathit", "\\operatorname", "\\text", "\\mathbf"):
            return self.word(self.subscript())
        raise ParseError(f"unsupported LaTeX command {name}")

    def big_operator(self, kind: str) -> sympy.Expr:
        """`\\sum_{k=1}^{n} body` and `\\prod_{k=1}^{n} body`; the body is the term that follows."""
        self.accept("\\limits")
        self.expect("_")
        self.expect("{")
        var = self.take()
        if var[0] != "word" or len(var[1]) != 1:
            raise ParseError(f"\\{kind} needs an index such as k=1")
        index = sympy.Symbol(var[1])
        self.expect("=")
        lo = self.group("}")
        self.expect("^")
        hi = self.argument()
        self.bound.add(var[1])
        body = self.term()
        self.bound.discard(var[1])
        return (_sum_of if kind == "sum" else _product_of)(body, index, lo, hi)

    def word(self, text: str) -> sympy.Expr:
        if text in _FUNCTIONS:
            return self.function(_FUNCTIONS[text])
        if text in _CONSTANTS:
            return _CONSTANTS[text]
        if len(text) > 2 or text.lower() in _SHORT_WORDS:
            raise NotMath(f"the word {text!r}")
        if len(text) == 2:  # `xy` is x times y
            self.toks.insert(self.i, ("word", text[1]))
            return self.symbol(text[0])
        return self.symbol(text)

    def symbol(self, name: str) -> sympy.Expr:
        if self.accept("_"):
            return sympy.Symbol(f"{name}_{self.subscript()}")
        return _SINGLE_LETTER[name] if name in _SINGLE_LETTER and name not in self.bound else sympy.Symbol(name)


def parse_formula(text: str) -> sympy.Expr | Chain:
    """A sympy expression, or a `Chain` for relations; raises ParseError, NotMath or TooCostly."""
    if len(text) > budget.MAX_ANSWER_CHARS:
        raise TooCostly(f"answer longer than {budget.MAX_ANSWER_CHARS} characters")
    if not text.strip():
        raise ParseError("empty formula")
    return _Parser(text).parse()
