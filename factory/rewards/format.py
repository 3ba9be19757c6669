"""Small shaping rewards beside the verifiers: the reasoning format and DAPO's overlong penalty."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..traces import split_trace
from .base import checked
from .completions import completion_parts


def _well_formed(completion: Any) -> bool:
    content, reasoning = completion_parts(completion)
    trace = split_trace(content, reasoning)
    return trace.method != "none" and trace.problem is None and bool(trace.solution)


def think_format_reward(prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
    """1.0 when the completion closes its thought and then answers, else 0.0.

    The thought is `<think>…</think>` (the opening tag may sit in the prompt, as R1-style
    templates put it), the Sky-T1 sections (`<|begin_of_thought|>…<|end_of_thought|>` then
    `<|begin_of_solution|>…<|end_of_solution|>`), or a reasoning parser's `reasoning_content`;
    the answer after it must not be empty. `traces.split_trace` decides, as it does for the
    dataset."""
    return [1.0 if _well_formed(c) else 0.0 for c in completions]


def think_format(**options: Any) -> Any:
    """The registry's factory: the format reward takes no options."""
    if options:
        raise TypeError(f"think_format takes no options, got {sorted(options)}")
    return think_format_reward


class _Overlong(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_completion_length: int = Field(gt=0)
    cache_length: int = Field(ge=0)

    @model_validator(mode="after")
    def _fits(self) -> _Overlong:
        if self.cache_length > self.max_completion_length:
            raise ValueError("cache_length must not exceed max_completion_length")
        return self


class SoftOverlongReward:
    """DAPO's soft overlong punishment (its Eq. 13) on the completion's token count L: 0 while
    L <= max - cache, falling linearly to -1 at L = max, and -1 beyond."""

    __name__ = "soft_overlong_reward"

    def __init__(self, max_completion_length: int, cache_length: int):
        self.options = checked(_Overlong, max_completion_length=max_completion_length, cache_length=cache_length)

    def __call__(self, prompts: Sequence[Any] = (), completions: Sequence[Any] = (),
                 completion_ids: Sequence[Sequence[int]] | None = None, **_: Any) -> list[float]:
        if completion_ids is None:
            raise ValueError("soft_overlong_reward reads the completions' token ids (`completion_ids`), as TRL passes them")
        limit, cache = self.options.max_completion_length, self.options.cache_length
        free = limit - cache
        return [0.0 if len(ids) <= free else -1.0 if len(ids) > limit else (free - len(ids)) / cache
                for ids in completion_ids]


def soft_overlong_reward(max_completion_length: int, cache_length: int) -> SoftOverlongReward:
    return SoftOverlongReward(max_completion_length, cache_length)
