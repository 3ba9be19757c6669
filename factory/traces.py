"""Trace assembly: a teacher's answer → the two-section Sky-T1 / OpenThoughts assistant turn."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

BEGIN_THOUGHT, END_THOUGHT = "<|begin_of_thought|>", "<|end_of_thought|>"
BEGIN_SOLUTION, END_SOLUTION = "<|begin_of_solution|>", "<|end_of_solution|>"

SplitMethod = Literal["reasoning_content", "think_tags", "markers", "none"]

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


class Trace(BaseModel):
    thought: str
    solution: str
    method: SplitMethod
    #: Why the split is incomplete (None when both sections were found cleanly).
    problem: str | None = None

    def assistant_turn(self) -> str:
        return (
            f"{BEGIN_THOUGHT}\n\n{self.thought}\n\n{END_THOUGHT}\n\n"
            f"{BEGIN_SOLUTION}\n\n{self.solution}\n\n{END_SOLUTION}"
        )


def _section(text: str, begin: str, end: str) -> tuple[str | None, bool]:
    """(section text, closed) for the last begin marker; (None, False) when absent."""
    start = text.rfind(begin)
    if start < 0:
        return None, False
    body = text[start + len(begin):]
    stop = body.find(end)
    return (body[:stop].strip(), True) if stop >= 0 else (body.strip(), False)


def _from_markers(content: str) -> Trace | None:
    thought, thought_closed = _section(content, BEGIN_THOUGHT, END_THOUGHT)
    solution, solution_closed = _section(content, BEGIN_SOLUTION, END_SOLUTION)
    if thought is None and solution is None:
        return None
    problem = None
    if solution is None:
        problem = "no solution section" if thought_closed else "thought section never closed"
    elif not solution_closed:
        problem = "solution section never closed"
    elif thought is None:
        problem = "no thought section"
    return Trace(thought=thought or "", solution=solution or "", method="markers", problem=problem)


def split_trace(content: str, reasoning_content: str | None = None) -> Trace:
    """Find the thought and the solution; never drops text, says why when it cannot split."""
    content = content.strip()
    if reasoning_content and reasoning_content.strip():
        marked = _from_markers(content)
        solution = marked.solution if marked and marked.solution else _THINK.sub("", content).strip()
        return Trace(
            thought=reasoning_content.strip(),
            solution=solution,
            method="reasoning_content",
            problem=None if solution else "empty answer after reasoning",
        )
    if "</think>" in content:
        # R1-style chat templates put <think> in the prompt, so the content may start inside it.
        head, _, tail = content.rpartition("</think>")
        match = _THINK.search(content)
        thought = match.group(1) if match else head.replace("<think>", "", 1)
        return Trace(
            thought=thought.strip(),
            solution=tail.strip(),
            method="think_tags",
            problem=None if tail.strip() else "empty answer after </think>",
        )
    if "<think>" in content:
        return Trace(
            thought=content.split("<think>", 1)[1].strip(),
            solution="",
            method="think_tags",
            problem="<think> never closed (truncated?)",
        )
    marked = _from_markers(content)
    if marked is not None:
        return marked
    return Trace(thought="", solution=content, method="none", problem="no reasoning found: no reasoning_content, <think> or markers")
