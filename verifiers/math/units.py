"""Units of measure after an answer: which were written, and how they convert.

5 cm and 5 m differ, 500 cm and 5 m do not; counted nouns (apples, ways) are dropped, never
compared.
"""

from __future__ import annotations

import re

import sympy

_LONG = (
    r"cm|mm|km|meters?|metres?|centimeters?|millimeters?|kilometers?|inch(?:es)?|in|ft|feet|foot|yards?|yd|"
    r"miles?|mi|mph|kph|km/h|m/s|units?|kg|grams?|mg|lbs?|pounds?|oz|ounces?|tons?|sec|seconds?|min|minutes?|"
    r"hrs?|hours?|days?|weeks?|months?|years?|cents?|liters?|litres?|mL|ml|gallons?|cups?|people|students|ways|"
    r"dollars?|points?|cookies|apples|marbles|balls|coins|books|edges|vertices|faces|triangles|squares|numbers|"
    r"integers|digits|percent|degrees?|radians?|rad"
)
_SHORT = r"m|s|h|g|L"  # also a variable's name: a unit only inside \text{} or after a bare number


def _pattern(spellings: str) -> str:
    return rf"(?P<unit>(?:square|sq\.?|cubic)?\s*(?:{spellings})(?:\s*\^\s*\{{?[23]\}}?|\^?[23²³])?)"


UNITS = _pattern(_LONG + "|" + _SHORT)  # regex fragments with group `unit`
LONG_UNITS = _pattern(_LONG)
# Each spelling → (unit, dimension, size in the dimension's base unit).
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
        (("ton", "tonne"), "ton", 1),  # which ton is unknown: comparable only with itself
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

def measure(unit_text: str) -> str | None:
    t = re.sub(r"[\s{}^.]", "", unit_text.lower()).replace("²", "2").replace("³", "3")
    power = t[-1] if t[-1:] in ("2", "3") else ""
    t = t.rstrip("23")
    for prefix, p in (("square", "2"), ("sq", "2"), ("cubic", "3")):
        if t.startswith(prefix):
            t, power = t[len(prefix) :], p
    found = _MEASURES.get(t) or (_MEASURES.get(t[:-1]) if t.endswith("s") else None)
    return found[0] + power if found else None
