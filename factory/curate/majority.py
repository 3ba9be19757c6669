"""Majority-vote labels for problems without a reference answer.

A problem's sampled final answers are grouped by the math verifier's own equivalence (so `1/2`,
`0.5` and `\\frac{1}{2}` are one vote), and the largest group becomes the label when it holds at
least `min_agreement` of the problem's generated samples. Samples with no final answer count
against agreement: a teacher that answered 3 times out of 8 has not agreed on anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rfactory.verifiers.math.groups import answer_groups
from rfactory.verifiers.math.extract import answer_text


@dataclass(frozen=True)
class Label:
    answer: str | None  # None: no answer group reached the agreement asked for
    votes: int  # samples in the largest group
    samples: int  # generated samples of the problem
    reason: str

    @property
    def agreement(self) -> float:
        return self.votes / self.samples if self.samples else 0.0


def _groups(answers: dict[str, Counter[str]], timeout_s: float, workers: int) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """(problem, [(group's name, votes)] largest first) with equivalent answers merged."""
    named = answer_groups(answers, timeout_s, workers)
    for pid, counter in answers.items():
        votes: Counter[str] = Counter()
        for text, n in counter.items():
            votes[named[pid][text]] += n
        yield pid, sorted(votes.items(), key=lambda g: (-g[1], g[0]))


def majority_labels(samples: Iterable[tuple[str, str | None]], min_agreement: float, timeout_s: float,
                    workers: int) -> dict[str, Label]:
    """`samples`: (problem id, solution) for every generated sample of the problems to label."""
    answers: dict[str, Counter[str]] = {}
    generated: Counter[str] = Counter()
    for pid, solution in samples:
        generated[pid] += 1
        found, _ = answer_text(solution or "")
        counter = answers.setdefault(pid, Counter())
        if found is not None:
            counter[" ".join(found.split())] += 1
    labels: dict[str, Label] = {}
    for pid, groups in _groups(answers, timeout_s, workers):
        n = generated[pid]
        if not groups:
            labels[pid] = Label(None, 0, n, f"no sample of {n} gave a final answer")
            continue
        (top, votes), runner_up = groups[0], groups[1][1] if len(groups) > 1 else 0
        share = votes / n
        if votes == runner_up:
            labels[pid] = Label(None, votes, n, f"tie: the top answers have {votes} of {n} samples each")
        elif share < min_agreement:
            labels[pid] = Label(None, votes, n, f"top answer {top!r} has {votes} of {n} samples ({share:.0%} < {min_agreement:.0%})")
        else:
            labels[pid] = Label(top, votes, n, f"{votes} of {n} samples agree")
    return labels
