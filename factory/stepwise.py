"""Solutions as steps, and a process reward model over them: what `label-steps` and `train-prm`
write and train and what `eval --select prm:` scores with, in one place so the three can never
split or tokenize a solution differently.

A PRM reads `[bos] + prompt + separator + Σ(step + separator)` and predicts, at the last token of
each step's separator, whether the solution is still right after that step (the layout TRL's last
PRM trainer used, which axolotl and OpenRLHF also read, with the prompt set apart from the first
step the way the steps are from each other).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from .recipe import Strict

SEPARATOR = "\n\n"


class StepRule(Strict):
    """How a solution is cut into steps; it travels with the data it made."""

    split: Literal["blank", "marker", "regex"] = Field(
        "blank", description="blank: at blank lines, as rfactory's prompts ask; marker: at 'Step k:'; regex: at `pattern`")
    pattern: str | None = Field(None, description="regex: a step starts where this matches")
    max_steps: int = Field(40, ge=1, description="a solution cut into more steps is left out")
    max_step_chars: int = Field(4000, ge=1, description="a step longer than this is left out with its solution")

    def cut(self, text: str) -> list[str]:
        """The steps of `text`, stripped, none empty."""
        if self.split == "blank":
            parts = re.split(r"\n\s*\n", text)
        else:
            starts = re.compile(self.pattern or "") if self.split == "regex" else re.compile(r"(?im)^\s*step\s*\d+\s*[:.)]")
            cuts = sorted({m.start() for m in starts.finditer(text) if m.start() > 0})
            parts = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        return [p.strip() for p in parts if p.strip()]

    def why_not(self, steps: Sequence[str]) -> str | None:
        """Why these steps cannot be labelled, or None."""
        if not steps:
            return "no_steps"
        if len(steps) > self.max_steps:
            return "too_many_steps"
        if any(len(s) > self.max_step_chars for s in steps):
            return "step_too_long"
        return None


def tokenize(tokenizer: Any, prompt: str, steps: Sequence[str], separator: str = SEPARATOR,
             max_length: int | None = None) -> tuple[list[int], list[int]]:
    """(input ids, the position of each step's label: its separator's last token). Steps that do
    not fit in `max_length` are cut off with their labels."""
    ids = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    ids += tokenizer(prompt + separator, add_special_tokens=False)["input_ids"]
    positions: list[int] = []
    for step in steps:
        piece = tokenizer(step + separator, add_special_tokens=False)["input_ids"]
        if max_length is not None and len(ids) + len(piece) > max_length:
            break
        ids += piece
        positions.append(len(ids) - 1)
    return ids, positions


class PRMScores(BaseModel):
    steps: list[float]  # the probability that the solution is still right after each step

    def aggregate(self, how: Literal["min", "prod"] = "min") -> float:
        if not self.steps:
            return 0.0
        return min(self.steps) if how == "min" else math.prod(self.steps)


class PRMScorer:
    """A trained PRM (a token-classification model and its tokenizer) scoring step lists."""

    def __init__(self, path: str, separator: str = SEPARATOR, max_length: int = 4096):
        import torch
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForTokenClassification.from_pretrained(path).eval()
        if torch.cuda.is_available():
            self.model.to("cuda")
        self.separator, self.max_length = separator, max_length

    def score(self, prompt: str, steps: Sequence[str]) -> PRMScores:
        import torch

        ids, positions = tokenize(self.tokenizer, prompt, steps, self.separator, self.max_length)
        with torch.no_grad():
            logits = self.model(input_ids=torch.tensor([ids], device=self.model.device)).logits[0]
        good = torch.softmax(logits[positions].float(), dim=-1)[:, 1]
        return PRMScores(steps=good.tolist())
