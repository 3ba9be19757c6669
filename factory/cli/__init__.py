"""The `rfactory` command: a thin Typer layer, one small module per command, over the library."""

from __future__ import annotations

import sys

import typer

from ..errors import Interrupted, UserError
from . import decontaminate, dedup, generate, inspect, label_steps, push, rl_data, train_prm, train_rl, train_sft, verify
from .eval import eval_app

app = typer.Typer(
    name="rfactory",
    help="Verified synthetic reasoning data: generate traces with a teacher, verify them, publish shards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"rfactory {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Verified synthetic reasoning data: generate traces with a teacher, verify them, publish shards."""


app.command("generate")(generate.generate)
app.command("verify")(verify.verify)
app.command("push")(push.push)
app.command("train-sft")(train_sft.train_sft)
app.command("rl-data")(rl_data.rl_data)
app.command("train-rl")(train_rl.train_rl)
app.command("label-steps")(label_steps.label_steps)
app.command("train-prm")(train_prm.train_prm)
app.command("dedup")(dedup.dedup)
app.command("decontaminate")(decontaminate.decontaminate)
app.command("recipes")(inspect.recipes)
app.command("status")(inspect.status)
app.command("show")(inspect.show)
app.add_typer(eval_app, name="eval")


def main() -> None:
    try:
        app()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:  # disk full, permissions changed mid-run: the environment, not a bug
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        sys.exit(1)
    except Interrupted:
        print("interrupted: finished samples are saved; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
