"""Are two answer values the same answer?

Exact comparison first (sympy's canonical forms, exact rationals), then numbers evaluated to 40
digits, and for expressions with variables, evaluation at fixed random points. Never
`sympy.simplify`: its running time has no bound, and evaluation with bounded inputs does.
A decimal side gets a tolerance of half a unit in its last written place (the finer one when
both sides are decimals); nothing else does.
"""

from __future__ import annotations

import re

import sympy

from . import budget, domain
from .latex import parse_formula
from .answer import Choice, Intervals, Items, Matrix, Relation, Scalar, Text, Value
from .units import unit_size

_PRECISION = 40
# Irregular values of both signs, and two integers (floor(x) + 1 and ceil(x) differ only there)
_POINTS = tuple(
    sympy.Rational(n, 10_000) for n in (18_471, -6_133, 30_000, 31_193, 4_271, -20_000, -23_894, 7_523, 12_917, -4_409, 5_683)
)
_WHOLE = tuple(sympy.Integer(n) for n in (2, -3, 5, 7, -4, 6, 9, -11, 8, 3, 13))  # for a variable stated an integer
_SPECIAL = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)
_SUM_OF_NAMES = re.compile(r"[a-zA-Z](?:[-+][a-zA-Z])+")


def equal(a: Value, b: Value) -> bool:
    budget.check()
    if isinstance(b, Choice) and not isinstance(a, Choice):
        a, b = b, a
    if isinstance(a, Choice):
        if isinstance(b, Choice):
            return a.letter == b.letter
        if isinstance(b, Scalar) and b.expr.is_Symbol and b.expr.name.upper() == a.letter:
            return True  # \boxed{c} for option (C)
        return a.rest is not None and equal(a.rest, b)
    if isinstance(a, Text) or isinstance(b, Text):
        if isinstance(a, Text) and isinstance(b, Text):
            return a.text == b.text
        text, other = (a, b) if isinstance(a, Text) else (b, a)
        return (product := _letters_product(text)) is not None and equal(product, other)
    a, b = _single(a), _single(b)
    order = (Scalar, Relation, Items, Intervals, Matrix)
    if order.index(type(a)) > order.index(type(b)):
        a, b = b, a
    match a, b:
        case Scalar(), Scalar():
            return _scalars_equal(a, b)
        case Scalar(), Relation() if a.var:
            return _relations_equal(_as_relation(a), b)
        case Relation(), Relation():
            return _relations_equal(a, b)
        case Items(), Items():
            return _items_equal(a, b)
        case Items(), Intervals():
            return _as_interval(a, b)
        case Items(), Matrix():
            return a.kind != "set" and _vector_equal(a.items, b)
        case Relation(), Intervals():
            return _holds_exactly_on(a, b.pieces)
        case Relation(), Items() if (written := _bracketed_interval(b)) is not None:
            return _holds_exactly_on(a, (written,))
        case Relation(), Items() if b.kind == "set" and not b.items:  # x^2 + 1 < 0 and the empty set
            return _holds_exactly_on(a, ())
        case Intervals(), Intervals():
            return _intervals_equal(a.pieces, b.pieces)
        case Matrix(), Matrix():
            return len(a.rows) == len(b.rows) and all(
                len(r) == len(s) and all(_scalars_equal(x, y) for x, y in zip(r, s)) for r, s in zip(a.rows, b.rows)
            )
    return False


_MAX_DEGREE = 4
_MAX_ABS = 2
_ZERO = sympy.Float(10) ** -40


def _critical_points(e: sympy.Expr, x: sympy.Symbol) -> list[sympy.Expr] | None:
    """Every real x where e can change sign: roots of its numerator and denominator with each
    absolute value opened either way, and of what is inside them. Exact (sympy's real roots,
    algebraic where irrational); None when e is not made of polynomials of low degree."""
    inside = [a.args[0] for a in e.atoms(sympy.Abs)]
    if len(inside) > _MAX_ABS:
        return None
    pieces = list(inside)
    for signs in range(2 ** len(inside)):
        opened = e.subs({sympy.Abs(u): (u if signs >> i & 1 else -u) for i, u in enumerate(inside)})
        pieces += list(sympy.fraction(sympy.together(opened)))
    points: list[sympy.Expr] = []
    for piece in pieces:
        budget.check()
        if not piece.has(x):
            continue
        if not piece.is_polynomial(x) or sympy.degree(piece, x) > _MAX_DEGREE:
            return None
        poly = sympy.Poly(piece, x)
        if not all(c.is_Rational for c in poly.all_coeffs()):
            return None
        points += poly.real_roots()
    return points


def _holds_exactly_on(r: Relation, pieces: tuple) -> bool:
    """Whether an inequality in one variable (`x^2 \\le 9`, `|x| > 2`) holds exactly on the union
    of the interval pieces. Both sides can change only at the relation's critical points and the
    pieces' ends, so agreement at each of those and at one point between each pair settles it."""
    if r.op not in ("<", "<=") or len(r.expr.free_symbols) != 1:
        return False
    (x,) = r.expr.free_symbols
    points = _critical_points(r.expr, x)
    if points is None:
        return False
    ends = [end for lo, hi, _, _ in pieces for end in (lo, hi) if end.is_finite]
    marks = sorted({float(p.evalf(30)): p for p in points + ends}.items())  # one exact value per place
    probes = [p for _, p in marks]
    between = [(a + b) / 2 for (_, a), (_, b) in zip(marks, marks[1:])]
    outside = [marks[0][1] - 1, marks[-1][1] + 1] if marks else [sympy.S.Zero]
    for probe in probes + between + outside:
        budget.check()
        if _holds(r, x, probe) != _member(probe, pieces):
            return False
    return True


def _holds(r: Relation, x: sympy.Symbol, at: sympy.Expr) -> bool:
    value = sympy.N(r.expr.subs(x, at), 50)
    if not value.is_number or value.has(*_SPECIAL) or not value.is_real:
        return False  # a pole: the relation says nothing there
    if abs(value) < _ZERO:  # on a critical point itself
        return r.op == "<="
    return bool(value < 0)


def _member(at: sympy.Expr, pieces: tuple) -> bool:
    v = sympy.N(at, 50)
    for lo, hi, lo_closed, hi_closed in pieces:
        above = lo.is_infinite and lo < 0 or (v - sympy.N(lo, 50) > _ZERO) or (lo_closed and abs(v - sympy.N(lo, 50)) <= _ZERO)
        below = hi.is_infinite and hi > 0 or (sympy.N(hi, 50) - v > _ZERO) or (hi_closed and abs(v - sympy.N(hi, 50)) <= _ZERO)
        if above and below:
            return True
    return False


def _letters_product(t: Text) -> Scalar | None:
    """`xyz`, which reads as a word, against a formula: the product of its letters."""
    if not re.fullmatch(r"[a-z]{3,4}", t.text) or len(set(t.text)) != len(t.text):
        return None
    return Scalar(sympy.Mul(*(sympy.Symbol(c) for c in t.text)))


def _single(v: Value) -> Value:
    """A one-element list or set (`\\{3\\}`) is its element, and so is a list that repeats one
    element (`2, 2`, a double root)."""
    if not isinstance(v, Items) or v.kind == "tuple" or not v.items:
        return v
    if len(v.items) == 1 or all(isinstance(i, Scalar) and not i.var and i == v.items[0] for i in v.items):
        return v.items[0]
    return v


def _scalars_equal(a: Scalar, b: Scalar) -> bool:
    if a.base != b.base and a.base and b.base:
        return False  # 10201_3 is not 10201_5
    if (a.percent and b.degrees) or (a.degrees and b.percent):
        return False
    if (a.degrees and b.unit == "rad") or (a.unit == "rad" and b.degrees):
        d, r = (a, b) if a.degrees else (b, a)
        return expressions_equal(d.expr * sympy.pi / 180, r.expr)  # 30° and 0.5236 radians
    if a.var and b.var and _variable(a.var) != _variable(b.var):
        # x = 3 and y = 3 are different lines; x = y/2 and y = 2x are the same one
        return _relations_equal(_as_relation(a), _as_relation(b))
    if a.unit and b.unit and a.unit != b.unit:  # a unit on one side only is dropped
        (dim_a, size_a), (dim_b, size_b) = unit_size(a.unit), unit_size(b.unit)
        # 500 cm is 5 m; 5 cm is not 5 m
        return dim_a == dim_b and expressions_equal(a.expr * size_a, b.expr * size_b)
    readings = [(a.expr, a.places, b.expr, b.places)]
    if a.percent != b.percent:  # 50% is 50 to some keys and 0.5 to others
        p, q = (a, b) if a.percent else (b, a)
        # 33% is 0.33: two written digits, so it vouches for 1/3 as 0.33 would
        places = p.places if p.places is not None else (0 if p.expr.is_Integer and abs(p.expr) >= 10 else None)
        readings.append((p.expr / 100, None if places is None else places + 2, q.expr, q.places))
    if a.degrees != b.degrees:  # 30° and π/6
        d, r = (a, b) if a.degrees else (b, a)
        if r.expr.has(sympy.pi):
            readings.append((d.expr * sympy.pi / 180, None, r.expr, r.places))
    for x, x_places, y, y_places in readings:
        places = [p for p in (x_places, y_places) if p is not None]
        # two decimals are held to the finer one: 2.49 is not 2.5
        if expressions_equal(x, y, max(places) if places else None):
            return True
    return False


def _as_relation(a: Scalar) -> Relation:
    name = _variable(a.var or "")
    # m + n = 17 names a sum, and is the line m + n - 17 = 0 beside another equation
    left = parse_formula(name) if _SUM_OF_NAMES.fullmatch(name) else sympy.Symbol(name)
    return Relation(left - a.expr, "=")


def _variable(name: str) -> str:
    """y, f(x) and g(x) all name the function's value; other names stand for themselves."""
    return "y" if re.fullmatch(r"y|[fghpq](?:\^\{?-1\}?)?\([a-z]\)", name) else name


def _number(e: sympy.Expr, subs: dict | None = None, digits: int = _PRECISION) -> sympy.Expr | None:
    # evalf(subs=…) substitutes in floating point; .subs() would build (x+1)**1000000 exactly
    v = e.evalf(digits, subs=subs)
    if not v.is_number or v.has(*_SPECIAL):
        return None
    return v


def _close(vx: sympy.Expr, vy: sympy.Expr, tolerance: sympy.Expr | None, digits: int = _PRECISION) -> bool:
    diff = abs(sympy.N(vx - vy, digits))
    if tolerance is not None:
        return bool(diff < tolerance)
    scale = max(sympy.S.One, abs(sympy.N(vx, 20)), abs(sympy.N(vy, 20)))
    return bool(diff <= scale * sympy.Rational(1, 10 ** (digits - 15)))


_MAX_DIGITS = 3000  # beyond this, a difference of 1 between two huge numbers is not worth the time
_PERIODIC = (sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc)


def _too_large(e: sympy.Expr) -> bool:
    """A power beyond 10^3000, or a sine of a number beyond 10^6: evaluating either takes seconds."""
    for node in sympy.preorder_traversal(e):
        if node.is_Pow or isinstance(node, sympy.exp):
            v = node.evalf(15)
            if v.is_number and v.is_finite and abs(v) > sympy.Float(10) ** _MAX_DIGITS:
                return True
        elif isinstance(node, _PERIODIC):
            v = node.args[0].evalf(15)
            if v.is_number and v.is_finite and abs(v) > 10**6:
                return True
    return False


def _digits_needed(x: sympy.Expr, y: sympy.Expr) -> int | None:
    """Enough digits to see a difference of 1 between two huge numbers (e^1000 and e^1000 + 1);
    None when even that would be too many."""
    magnitude = max(abs(v) for v in (x.evalf(15), y.evalf(15)) if v.is_number)
    if not magnitude.is_finite or magnitude < 10**20:
        return _PRECISION
    digits = _PRECISION + int(sympy.log(magnitude, 10).evalf(15))
    return digits if digits <= _MAX_DIGITS else None


def expressions_equal(x: sympy.Expr, y: sympy.Expr, places: int | None = None) -> bool:
    if x == y:
        return True
    if x.has(*_SPECIAL) or y.has(*_SPECIAL):
        return False  # infinities are equal only structurally
    tolerance = sympy.Rational(1, 2) * sympy.Rational(10) ** -places if places is not None else None
    if x.is_Rational and y.is_Rational:
        return tolerance is not None and abs(x - y) < tolerance
    free = x.free_symbols | y.free_symbols
    if x.has(sympy.Sum, sympy.Product) or y.has(sympy.Sum, sympy.Product):
        return _agree_at_whole_bounds(x, y, free, tolerance)
    if not free:
        if _too_large(x) or _too_large(y):
            return False  # e^{e^{11}}: only the exact paths above may say equal
        digits = _digits_needed(x, y)
        if digits is None:
            return False  # too large to tell apart: only the exact paths above may say equal
        vx, vy = _number(x, digits=digits), _number(y, digits=digits)
        return vx is not None and vy is not None and _close(vx, vy, tolerance, digits)
    return _agree_on_domain(x, y, free, tolerance)


_WHOLE_BOUNDS = (1, 2, 3, 4, 6, 9)  # a sum up to n is defined at whole n: at most 9 + j terms each


def _agree_at_whole_bounds(x: sympy.Expr, y: sympy.Expr, free: set, tolerance: sympy.Expr | None) -> bool:
    """A sum or product with no closed form (`\\sum_{k=0}^{n} \\binom{n}{k}`) against the other side,
    at whole-number values of the variables its bounds use, written out term by term."""
    bounds = set().union(*(
        lim.free_symbols for e in (x, y) for node in sympy.preorder_traversal(e)
        if isinstance(node, (sympy.Sum, sympy.Product)) for lim in node.limits[0][1:]
    ))
    others = sorted(free - bounds, key=str)
    for m in _WHOLE_BOUNDS:
        budget.check()
        subs = {s: m + j for j, s in enumerate(sorted(bounds, key=str))}
        subs |= {s: _POINTS[(m + j) % len(_POINTS)] for j, s in enumerate(others)}
        vx, vy = _number(x.subs(subs).doit(), None), _number(y.subs(subs).doit(), None)
        if vx is None or vy is None or not _close(vx, vy, tolerance):
            return False
    return True


def _agree_on_domain(x: sympy.Expr, y: sympy.Expr, free: set, tolerance: sympy.Expr | None) -> bool:
    """Equal at the sample points where both sides are real, and real at the same ones: one
    domain (`1/\\sqrt{n}` and `\\sqrt{1/n}` agree for n > 0 and neither is real below it; `\\ln x`
    and `\\ln|x|` differ, as the second is real for x < 0 too). Where that domain holds too few
    points, equal at every point where both are finite, complex or not."""
    agreed, elsewhere, one_sided = 0, [], False
    for subs in _substitutions(free):
        vx, vy = _number(x, subs), _number(y, subs)
        if vx is None or vy is None:  # a pole or a log of 0
            one_sided |= (vx is None) != (vy is None)
            continue
        if vx.is_real and vy.is_real:
            if not _close(vx, vy, tolerance):
                return False
            agreed += 1
            if agreed == 6:
                return True
        elif vx.is_real or vy.is_real:
            return False  # real on one side only: other domains (\\ln x against \\ln|x| at x < 0)
        else:
            elsewhere.append((vx, vy))
    if agreed >= 3:
        return True
    return not one_sided and agreed + len(elsewhere) >= 3 and all(_close(vx, vy, tolerance) for vx, vy in elsewhere)


def _substitutions(free: set) -> list[dict]:
    symbols = sorted(free, key=str)
    out = []
    for k in range(len(_POINTS)):
        budget.check()
        # every symbol its own value at every point: x and y never coincide; one the solution
        # states positive (x > 0, a length) only where it is
        point = {}
        for j, s in enumerate(symbols):
            if domain.is_integer(s.name):
                v = _WHOLE[(k + 3 * j) % len(_WHOLE)]
            else:
                v = _POINTS[(k + 3 * j) % len(_POINTS)] + sympy.Rational(j, 97)
            point[s] = abs(v) if domain.is_positive(s.name) else v
        out.append(point)
    return out


def _relations_equal(a: Relation, b: Relation) -> bool:
    """Equal up to a non-zero factor (a positive one for inequalities)."""
    if a.op != b.op:
        return False
    free = a.expr.free_symbols | b.expr.free_symbols
    if not free or a.expr.free_symbols != b.expr.free_symbols:
        return a.expr == b.expr
    ratio = None
    agreed = 0
    for subs in _substitutions(free):
        va, vb = _number(a.expr, subs), _number(b.expr, subs)
        if va is None or vb is None:
            continue
        zero_a, zero_b = _close(va, 0, None), _close(vb, 0, None)
        if zero_a or zero_b:
            if zero_a != zero_b:
                return False
            continue
        r = sympy.N(va / vb, _PRECISION)
        if ratio is None:
            ratio = r
            if a.op in ("<", "<=") and not (r.is_real and r > 0):
                return False
        elif not _close(r, ratio, None):
            return False
        agreed += 1
    return agreed >= 2


def _names(side: Items) -> list[str] | None:
    """The variables of `x = 1, y = 2`, when every item is named and no name repeats."""
    names = [i.var for i in side.items if isinstance(i, Scalar) and i.var]
    return names if len(names) == len(side.items) == len(set(names)) else None


def _brackets_agree(a: Items, b: Items) -> bool:
    if a.brackets and b.brackets:
        return a.brackets == b.brackets  # (1, 2) and [1, 2] differ when both are written as brackets
    # [1, 2] is an interval, not the list 1, 2
    return not any(side.brackets and side.brackets != "()" and len(side.items) == 2 for side in (a, b))


def _items_equal(a: Items, b: Items) -> bool:
    if len(a.items) != len(b.items) or {a.kind, b.kind} == {"set", "tuple"} or not _brackets_agree(a, b):
        return False
    names_a, names_b = _names(a), _names(b)
    if names_a and names_b and set(names_a) == set(names_b):
        by_name = {i.var: i for i in b.items}
        return all(_scalars_equal(i, by_name[i.var]) for i in a.items)  # x=1, y=2 is y=2, x=1
    named, other = (a, b) if names_a else (b, a) if names_b else (None, None)
    if "tuple" in (a.kind, b.kind) and named is not None:
        # the names say which value is which: y = 3, x = 1 is the point (1, 3), whatever the order
        # written; in alphabetical order (\\theta after r), as coordinates are listed
        by_name = sorted(named.items, key=lambda i: i.var.lstrip("\\"))
        return all(equal(x, y) for x, y in zip(by_name, other.items))
    if all(equal(x, y) for x, y in zip(a.items, b.items)):
        return True
    if "tuple" in (a.kind, b.kind):
        return False
    return _matched_unordered(a.items, b.items)


def _matched_unordered(xs: tuple, ys: tuple) -> bool:
    # Try the likeliest partner first (nearest value at one point), so a reordered set of n
    # items costs about n comparisons, not n²/2.
    unmatched = [(y, _fingerprint(y)) for y in ys]
    for x in xs:
        fx = _fingerprint(x)
        order = sorted(range(len(unmatched)), key=lambda k: abs(fx - unmatched[k][1]))
        hit = next((k for k in order if equal(x, unmatched[k][0])), None)
        if hit is None:
            return False
        unmatched.pop(hit)
    return True


def _fingerprint(v: Value) -> complex:
    if isinstance(v, Scalar):
        subs = _substitutions(v.expr.free_symbols)[0] if v.expr.free_symbols else None
        n = _number(v.expr, subs)
        try:
            return complex(n) if n is not None else complex(0)
        except (OverflowError, TypeError, ValueError):
            pass
    return complex(0)


def _bracketed_interval(a: Items) -> tuple | None:
    """`[-3, 3]` or `(1, 2)` read as an interval piece: a bracketed pair of numbers."""
    if not a.brackets or len(a.items) != 2 or not all(isinstance(i, Scalar) for i in a.items):
        return None
    lo, hi = a.items
    return lo.expr, hi.expr, a.brackets[0] == "[", a.brackets[1] == "]"


def _as_interval(a: Items, b: Intervals) -> bool:
    return (piece := _bracketed_interval(a)) is not None and _intervals_equal((piece,), b.pieces)


def _sort_key(piece: tuple) -> float:
    v = piece[0].evalf(15)
    return float(v) if v.is_extended_real else 0.0


def _intervals_equal(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return False
    for (lo, hi, lo_c, hi_c), (lo2, hi2, lo2_c, hi2_c) in zip(sorted(a, key=_sort_key), sorted(b, key=_sort_key)):
        # an infinite end is open however it is written
        if (lo_c and lo.is_finite is not False) != (lo2_c and lo2.is_finite is not False):
            return False
        if (hi_c and hi.is_finite is not False) != (hi2_c and hi2.is_finite is not False):
            return False
        if not (expressions_equal(lo, lo2) and expressions_equal(hi, hi2)):
            return False
    return True


def _vector_equal(items: tuple, m: Matrix) -> bool:
    """A tuple against a matrix: a row or column vector entry by entry, or nested lists
    (`[[1, 2], [3, 4]]`) row by row."""
    if all(isinstance(i, Items) and i.kind != "set" for i in items):
        return len(items) == len(m.rows) and all(
            len(i.items) == len(r) and all(equal(x, y) for x, y in zip(i.items, r)) for i, r in zip(items, m.rows)
        )
    flat = [c for r in m.rows for c in r] if (len(m.rows) == 1 or len(m.rows[0]) == 1) else None
    return flat is not None and len(flat) == len(items) and all(equal(x, y) for x, y in zip(items, flat))
