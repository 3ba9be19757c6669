"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from ..errors import Interrupted, UserError
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


def engine_options(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE flags, each value read as YAML (true, 0.85, [a, b]); the backend's strict options
    model then refuses an unknown key or a wrong type with one line."""
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--option {pair}: expected KEY=VALUE")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserError(f"--option {pair}: the value is not a plain YAML value") from None
    return options
