"""Verifiers: for each recipe `verifier.name`, a batch function over (key, solution, reference)."""

from collections.abc import Callable, Iterator
from typing import Any

from .choice import verify_many as verify_choice_many
from .code import verify_many as verify_code_many
from .math import verify_many as verify_math_many
from .verdict import Verdict

BatchVerifier = Callable[..., Iterator[tuple[Any, Verdict]]]

# Each takes (tasks: Iterable[(key, solution, reference)], timeout_s, workers).
VERIFIERS: dict[str, BatchVerifier] = {"math": verify_math_many, "code": verify_code_many,
                                       "choice": verify_choice_many}

__all__ = ["VERIFIERS", "BatchVerifier", "Verdict"]
