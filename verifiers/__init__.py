"""Verifiers: a function (solution, reference) -> Verdict per recipe `verifier.name`."""

from collections.abc import Callable

from .math import Verdict, verify as verify_math

VERIFIERS: dict[str, Callable[[str, str], Verdict]] = {"math": verify_math}

__all__ = ["VERIFIERS", "Verdict"]
