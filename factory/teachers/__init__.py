"""Find and build a teacher from a `backend:model` spec through the `rfactory.teachers` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from ..errors import UserError
from .base import ChatRequest, Completion, Teacher, TeacherFailure

__all__ = ["ChatRequest", "Completion", "Teacher", "TeacherFailure", "available_backends", "build_teacher"]

GROUP = "rfactory.teachers"


def available_backends() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def teacher_class(backend: str) -> type[Teacher]:
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == backend]
    if not matches:
        raise UserError(f"unknown teacher backend {backend!r} (have: {', '.join(available_backends())})")
    return matches[0].load()


def build_teacher(spec: str, options: dict[str, Any]) -> Teacher:
    backend, sep, model = spec.partition(":")
    if not sep or not model:
        raise UserError(f"teacher {spec!r}: expected backend:model, e.g. openai:deepseek-reasoner")
    cls = teacher_class(backend)
    try:
        opts = cls.Options.model_validate(options)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        what = "unknown option" if first["type"] == "extra_forbidden" else f"{first['msg']}:"
        raise UserError(f"teacher {spec!r}: {what} teacher.options.{field}") from None
    return cls(model, opts)
