"""A completion as TRL hands it to a reward: plain text, or the assistant's messages."""

from __future__ import annotations

from typing import Any


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as multimodal chat templates write them
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


def completion_parts(completion: Any) -> tuple[str, str | None]:
    """(content, reasoning content) of a completion: a string, or a list of messages whose last
    assistant turn is the answer (a tool-using rollout has several). A reasoning parser (vLLM's,
    an API's) may have moved the thought out of the content into `reasoning_content`."""
    if isinstance(completion, str):
        return completion, None
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, list):
        raise TypeError(f"a completion is text or a list of messages, not {type(completion).__name__}")
    turns = [m for m in completion if isinstance(m, dict)]
    answer = next((m for m in reversed(turns) if m.get("role", "assistant") == "assistant"), None)
    if answer is None:
        return "", None
    reasoning = answer.get("reasoning_content") or answer.get("reasoning")
    return _text(answer.get("content")), reasoning if isinstance(reasoning, str) else None


def completion_text(completion: Any) -> str:
    """What the verifiers read: the answer turn's content (a thought that came separately is not in it)."""
    return completion_parts(completion)[0]
