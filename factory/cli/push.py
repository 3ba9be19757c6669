"""`rfactory push`: verified runs → one dataset on the Hugging Face Hub, or the same bytes in a folder."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..errors import UserError
from ..progress import Mode, Progress, print_summary
from .options import JSON, QUIET, interruptible, output_mode

if TYPE_CHECKING:
    from ..card import RunFacts
    from ..export import ExportReport


def _export(runs: list[RunFacts], out: Path, mode: Mode, repo: str | None, license: str,
            pretty_name: str | None, duplicates: Path) -> ExportReport:
    from ..export import export

    progress = Progress(mode, "export", sum(r.stats.kept for r in runs), "unique")
    tmp = duplicates.with_name(f".{duplicates.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as report:
            exported = export(runs, out, progress, report, repo=repo, license=license, pretty_name=pretty_name)
        os.replace(tmp, duplicates)
        return exported
    finally:
        tmp.unlink(missing_ok=True)
        progress.close()


def _push_folder(folders: list[Path], repo: str | None, private: bool, create_pr: bool, mode: Mode) -> None:
    """A dataset rfactory already wrote whole, card included (an `rl-data` set, or a `label-steps`
    folder's dataset/), published as it is."""
    if len(folders) > 1 or repo is None:
        raise UserError(f"{folders[0]}: an rl-data or label-steps folder is pushed alone and as it is: give it alone, "
                        "with --repo")
    from ..publish import publish

    folder = folders[0] / "dataset" if (folders[0] / "label-steps.json").is_file() else folders[0]
    result = publish(folder, repo, private=private, create_pr=create_pr, message=f"rfactory push: {folders[0].name}")
    print_summary(mode, "push", {"repo": result.repo, "url": result.url, "commit": result.commit,
                                 "changed": result.changed, "files_added": result.added,
                                 "files_deleted": result.deleted, "pull_request": result.pull_request})


@interruptible
def push(
    runs: list[Path] = typer.Argument(..., help="Verified run folders; several are merged into one dataset."),
    repo: Optional[str] = typer.Option(None, help="Hub dataset repo, ORG/NAME (created if missing)."),
    to: Optional[Path] = typer.Option(None, "--to", help="Write exactly what would be uploaded to this folder instead."),
    private: bool = typer.Option(False, "--private", help="Create the repo private (an existing repo keeps its visibility)."),
    create_pr: bool = typer.Option(False, "--create-pr", help="Open a pull request instead of committing to main."),
    license: str = typer.Option("apache-2.0", help="License on the dataset card (check your teacher's terms)."),
    pretty_name: Optional[str] = typer.Option(None, help="Title on the dataset card (default: the repo name)."),
    duplicates: Optional[Path] = typer.Option(None, help="One JSON line per row left out as a repeat of an earlier (problem, response) pair, naming the published row it repeats (default: push-duplicates.jsonl in the first run)."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Publish RUNS as one OpenThoughts-format dataset with a full card, in one atomic commit.

    The token comes from $HF_TOKEN or `hf auth login`. An interrupted push resumes when run
    again; an unchanged one changes nothing.

    Examples:

      rfactory push runs/m1 --repo my-org/math-traces --private

      rfactory push runs/m1 runs/c1 --repo my-org/mix

      rfactory push runs/m1 --to ./export
    """
    mode = output_mode(quiet, as_json)
    if repo is None and to is None:
        raise UserError("push needs --repo ORG/NAME, or --to DIR to write the files locally")
    if any((r / "rl-data.json").is_file() or (r / "label-steps.json").is_file() for r in runs):
        return _push_folder(runs, repo, private, create_pr, mode)
    from ..export import load_runs  # matplotlib and the Hub client load only for this command

    facts = load_runs(runs)
    duplicates = duplicates or runs[0] / "push-duplicates.jsonl"
    if to is not None:
        report = _export(facts, to, mode, repo, license, pretty_name, duplicates)
        summary = {"out": str(report.out), "rows": report.rows, "duplicates_dropped": report.duplicates,
                   "duplicates_report": str(duplicates),
                   "shards": report.shards, "files": len(report.files), "bytes": report.bytes}
        print_summary(mode, "export", summary)
        return

    from huggingface_hub.utils import disable_progress_bars, logging

    from ..publish import publish  # huggingface_hub's client, only when talking to the Hub

    if mode != "rich" or not sys.stderr.isatty():  # its upload bars are noise in a log
        disable_progress_bars()
    if mode != "rich":  # and its retry warnings, with --quiet or --json
        logging.set_verbosity_error()

    with tempfile.TemporaryDirectory(prefix=".push-", dir=runs[0]) as staging:
        report = _export(facts, Path(staging) / "export", mode, repo, license, pretty_name, duplicates)
        names = ", ".join(r.name for r in runs)
        result = publish(report.out, repo, private=private, create_pr=create_pr,
                         message=f"rfactory push: {report.rows:,} rows from {names}")
    summary = {"repo": result.repo, "url": result.url, "commit": result.commit, "changed": result.changed,
               "files_added": result.added, "files_deleted": result.deleted, "rows": report.rows,
               "duplicates_dropped": report.duplicates, "duplicates_report": str(duplicates), "shards": report.shards}
    if result.pull_request:
        summary["pull_request"] = result.pull_request
    print_summary(mode, "push", summary)
    if mode == "rich":
        if not result.changed:
            typer.echo(f"{repo} already holds exactly this dataset (commit {result.commit[:12]}); nothing to push")
        else:
            typer.echo(f"published {report.rows:,} rows to {result.pull_request or result.url} (commit {result.commit[:12]})")
