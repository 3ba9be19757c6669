"""Options shared by several commands."""

from __future__ import annotations

import typer

from ..progress import Mode

QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")
JSON = typer.Option(False, "--json", help="No progress bar; print one JSON summary on stdout.")


def output_mode(quiet: bool, as_json: bool) -> Mode:
    return "json" if as_json else "quiet" if quiet else "rich"
