"""TRL's reward contract around one of our verifiers, and its async twin.

TRL 1.16 calls `reward(prompts=, completions=, completion_ids=, **columns)`, where the columns are
the dataset's (already repeated once per completion) plus `trainer_state`, `log_extra` and
`log_metric`, and takes `list[float | None]` back; None leaves a completion out of its group's
statistics. A reward is a callable object, not a closure: TRL names it by `__name__`, and its
async GRPO sends rewards to a spawned process, so they must pickle.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from .completions import completion_text
from .diagnostics import Scored, logger, publish


def default_workers(per_core: int = 1) -> int:
    """`per_core` workers for every core this process may use, the cores shared among the trainer
    processes of this machine (torchrun and accelerate set LOCAL_WORLD_SIZE): 8 trainers on 64
    cores start 8 workers each at one per core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    local = os.environ.get("LOCAL_WORLD_SIZE", "1")
    return max(1, per_core * cores // max(1, int(local) if local.isdigit() else 1))


Options = TypeVar("Options", bound=BaseModel)


def checked(model: type[Options], **values: Any) -> Options:
    """A reward's options, validated; a bad one is a ValueError that names it on one line."""
    try:
        return model(**values)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ValueError(f"{where + ': ' if where else ''}{first['msg']}") from None


def column(columns: dict[str, Any], name: str, n: int) -> list[Any] | None:
    """The column's value for each of the n completions; None when the rows have no such column."""
    values = columns.get(name)
    if values is None:
        return None
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} values for {n} completions")
    return list(values)


def gold_text(value: Any) -> str | None:
    """A row's gold as text (a struct column's dict as JSON); None for a missing or empty cell."""
    if value is None or (isinstance(value, float) and value != value):  # pandas' NaN for a missing cell
        return None
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return text if text.strip() not in ("", "{}", "null") else None


def read_golds(texts: Sequence[str], golds: Sequence[Any], read: Callable[[str], tuple[Any, str | None]],
               what: str) -> tuple[list[Scored | None], list[tuple[int, str, str, Any]]]:
    """Sort a batch before verification: a completion whose row has no gold is no_gold; each
    distinct gold is read once (a group of 16 shares one) by `read`, which gives the parsed gold,
    or None and why; an unreadable one makes its completions gold_unparseable. Both score None.
    The rest come back as tasks (index, completion text, gold text, parsed gold)."""
    scored: list[Scored | None] = [None] * len(texts)
    tasks, seen = [], {}
    for i, (text, raw) in enumerate(zip(texts, golds, strict=True)):
        gold = gold_text(raw)
        if gold is None:
            scored[i] = Scored(None, "no_gold", f"the row has no {what}")
            continue
        if gold not in seen:
            seen[gold] = read(gold)
        parsed, problem = seen[gold]
        if parsed is None:
            scored[i] = Scored(None, "gold_unparseable", problem or f"the {what} cannot be read")
        else:
            tasks.append((i, text, gold, parsed))
    return scored, tasks


class VerifierReward:
    """A reward scored by a verifier: subclasses read each row's gold and score a batch."""

    prefix: ClassVar[str]  # of the logged columns: math_answer, math_status, math_reason
    no_answer: ClassVar[str]  # the status of a completion that has nothing to judge
    gold_columns: ClassVar[tuple[str, ...]]  # the dataset columns it reads its gold from, any one of them
    __name__: str

    def golds(self, columns: dict[str, Any], n: int) -> list[Any]:
        raise NotImplementedError

    def score(self, texts: Sequence[str], golds: Sequence[Any]) -> list[Scored]:
        raise NotImplementedError

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None,
                 **columns: Any) -> list[float | None]:
        texts = [completion_text(c) for c in completions]
        scored = self.score(texts, self.golds(columns, len(texts)))
        publish(self.prefix, self.__name__, self.no_answer, scored, columns.get("log_extra"), columns.get("log_metric"))
        return [s.score for s in scored]

    def missing(self, columns: dict[str, Any], n: int) -> list[None]:
        """Every row without a gold: said loudly, since every reward is then None."""
        seen = sorted(k for k in columns if k not in ("trainer_state", "log_extra", "log_metric"))
        logger.warning("%s: the rows have no %s column (they have: %s); every reward is None",
                       self.__name__, " or ".join(f"`{c}`" for c in self.gold_columns), ", ".join(seen) or "none")
        return [None] * n

    def __repr__(self) -> str:
        return f"<{self.__name__} {getattr(self, 'options', '')!r}>"


class AsyncReward:
    """The async twin of a reward: TRL runs async rewards together on its event loop thread, so
    the blocking verification runs in a thread of its own and the loop stays free."""

    def __init__(self, reward: VerifierReward):
        self.reward = reward
        self.__name__ = reward.__name__

    async def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None,
                       **columns: Any) -> list[float | None]:
        return await asyncio.to_thread(self.reward, prompts, completions, completion_ids, **columns)
