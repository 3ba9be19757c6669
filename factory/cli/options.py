"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

import typer

from ..errors import Interrupted

from ..progress import Mode

QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")
JSON = typer.Option(False, "--json", help="No progress bar; print one JSON summary on stdout.")


def output_mode(quiet: bool, as_json: bool) -> Mode:
    return "json" if as_json else "quiet" if quiet else "rich"


F = TypeVar("F", bound=Callable[..., None])


def interruptible(command: F) -> F:
    """Ctrl-C inside a command becomes `Interrupted` (Typer would swallow it into a silent exit 130)."""

    @wraps(command)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted() from None

    return wrapper  # type: ignore[return-value]
