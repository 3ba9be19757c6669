"""Progress for long stages: a rich bar on stderr, nothing with --quiet or --json.

A stage reports counts through `Progress.advance`; the bar shows done/total, tokens/s, the
stage's rate (ok rate while generating, pass rate while verifying) and the ETA.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from .cost import usd

Mode = Literal["rich", "quiet", "json"]


class Progress:
    def __init__(self, mode: Mode, description: str, total: int | None, rate_label: str, log_every_s: float | None = None):
        """`log_every_s`: where no bar can be drawn (a log file), print a plain line this often
        instead, for work that runs for hours (training)."""
        self.mode = mode
        self.description = description
        self.total = total
        self.log_every_s = log_every_s if mode == "rich" else None
        self._logged = time.monotonic()
        self.rate_label = rate_label
        self.done = 0
        self.hits = 0
        self.tokens = 0
        self.cost_before: float | None = None  # set by show_cost: the run's spend before this stage
        self.cost = 0.0
        self.started = time.monotonic()
        self._bar: RichProgress | None = None
        console = Console(stderr=True)
        # A bar redrawn into a log file is noise; pipes and CI get the summary table only.
        if mode == "rich" and console.is_terminal:
            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[tok_s]} tok/s"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(description, total=total, tok_s="0", rate=f"{rate_label} -")
            self.log_every_s = None

    def show_cost(self, spent_before: float) -> None:
        """Add $ spent (the run's, earlier invocations included) and $ projected for the whole run."""
        self.cost_before = spent_before

    def _cost_text(self) -> str:
        if self.cost_before is None:
            return ""
        spent = self.cost_before + self.cost
        text = f"{usd(spent)} spent"
        if self.total:
            text += f", ~{usd(self.cost_before + self.cost / self.done * self.total)} projected"
        return text

    def advance(self, hit: bool, tokens: int = 0, note: str | None = None, cost: float | None = None) -> None:
        """One item done; `note` replaces the rate column (training shows its loss there)."""
        self.done += 1
        self.hits += hit
        self.tokens += tokens
        self.cost += cost or 0.0
        if self._bar is None and self.log_every_s is None:
            return  # nothing to draw: no text to format, thousands of times a second
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = note or f"{self.rate_label} {self.hits / self.done:.0%}"
        if self.cost_before is not None:
            rate = f"{rate}  {self._cost_text()}"
        if self._bar is not None:
            self._bar.update(self._task, advance=1, tok_s=f"{self.tokens / elapsed:,.0f}", rate=rate)
        elif self.log_every_s is not None and (
            time.monotonic() - self._logged >= self.log_every_s or self.done == self.total
        ):
            self._logged = time.monotonic()
            left = f", ETA {elapsed / self.done * (self.total - self.done):,.0f} s" if self.total else ""
            of = f"/{self.total}" if self.total else ""
            print(f"{self.description} {self.done}{of}: {rate}, {self.tokens / elapsed:,.0f} tok/s{left}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value) or "none"
    return str(value)


def _rows(table: Table, summary: dict[str, Any], depth: int = 0) -> None:
    """Nested values become indented sub-rows, so no cell ever shows a Python repr."""
    for key, value in summary.items():
        label = "  " * depth + str(key).replace("_", " ")
        if isinstance(value, dict) and value:
            table.add_row(label, "")
            _rows(table, value, depth + 1)
        else:
            table.add_row(label, "none" if isinstance(value, dict) else _cell(value))


def print_summary(mode: Mode, title: str, summary: dict[str, Any]) -> None:
    """The end-of-command report: a table for people, one JSON object for scripts."""
    if mode == "json":
        sys.stdout.write(json.dumps(summary, sort_keys=True, default=str) + "\n")
        return
    if mode == "quiet":
        return
    table = Table(title=title, show_header=False)
    _rows(table, summary)
    Console().print(table)
