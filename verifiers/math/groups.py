"""Final answers grouped by the verifier's own equivalence: `1/2`, `0.5` and `\\frac{1}{2}` are
one answer. What majority votes count (`verify --label majority`, `eval`'s maj@k).

Distinct spellings of one problem are compared pairwise through `verify_many` (its pool and its
hard deadlines), and union-find joins the equal ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator, Mapping

from . import verify_many


def answer_groups(answers: Mapping[Hashable, Counter[str]], timeout_s: float, workers: int
                  ) -> dict[Hashable, dict[str, str]]:
    """For each problem, each distinct answer → the name of its group: the group's most common
    spelling, then its shortest."""

    def pairs() -> Iterator[tuple[tuple[Hashable, int, int], str, str]]:
        for key, counter in answers.items():
            distinct = list(counter)
            for i in range(len(distinct)):
                for j in range(i + 1, len(distinct)):
                    yield (key, i, j), f"\\boxed{{{distinct[i]}}}", distinct[j]

    same: dict[Hashable, list[tuple[int, int]]] = {}
    for (key, i, j), verdict in verify_many(pairs(), timeout_s=timeout_s, workers=workers):
        if verdict.passed:
            same.setdefault(key, []).append((i, j))
    out: dict[Hashable, dict[str, str]] = {}
    for key, counter in answers.items():
        distinct = list(counter)
        parent = list(range(len(distinct)))

        def root(i: int) -> int:
            while parent[i] != i:
                i = parent[i]
            return i

        for i, j in same.get(key, []):
            parent[root(j)] = root(i)
        names: dict[int, str] = {}
        for text in sorted(distinct, key=lambda t: (-counter[t], len(t), t)):
            names.setdefault(root(distinct.index(text)), text)
        out[key] = {text: names[root(i)] for i, text in enumerate(distinct)}
    return out
