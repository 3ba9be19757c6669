"""`train-sft --eval`: score each saved checkpoint of a training run and write the curve.

This sits above two capabilities (training and eval) and joins them, the way an executor sits
above a pipeline; neither imports the other. Each checkpoint is scored by `rfactory eval` in a
process of its own, so one engine's memory (a GPU's, under vLLM) is free again before the next
starts, and its eval folder (`<out>/evals/<checkpoint>/`) is an ordinary resumable eval: a
stopped training or a stopped eval picks up where it was, and a finished checkpoint is read,
never scored again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .errors import UserError
from .runstore import write_json_atomic


class CurvePoint(BaseModel):
    checkpoint: str
    step: int
    benchmark: str
    n: int
    avg_at_n: float
    low: float
    high: float
    complete: bool  # every pair generated and judged


def _step(folder: Path) -> int | None:
    state = folder / "trainer_state.json"
    if state.is_file():
        return int(json.loads(state.read_text(encoding="utf-8"))["global_step"])
    done = folder / "sft-done.json"
    return int(json.loads(done.read_text(encoding="utf-8"))["steps"]) if done.is_file() else None


def checkpoints(out: Path) -> list[tuple[str, int, Path]]:
    """(name, step, folder) of every complete checkpoint, then the final model when no
    checkpoint holds its step already."""
    found = []
    for p in out.glob("checkpoint-*"):
        if re.fullmatch(r"checkpoint-\d+", p.name) and (step := _step(p)) is not None and (p / "config.json").is_file():
            found.append((p.name, step, p))
    found.sort(key=lambda c: c[1])
    final = _step(out)
    if final is not None and (out / "config.json").is_file() and final not in {s for _, s, _ in found}:
        found.append(("final", final, out))
    return found


def _finished(results: Path) -> dict[str, Any] | None:
    if not results.is_file():
        return None
    res = json.loads(results.read_text(encoding="utf-8"))
    complete = all(not r["outcomes"]["missing"] and not r["outcomes"]["sandbox_error"] for r in res["benchmarks"])
    return res if complete else None


def score_checkpoints(out: Path, benches: list[str], backend: str, eval_args: list[str], quiet: bool) -> list[CurvePoint]:
    """Each checkpoint of the run in `out` on `benches`; `eval_args`: more `rfactory eval` flags."""
    found = checkpoints(out)
    if not found:
        raise UserError(f"{out}: no saved checkpoint to evaluate (checkpoints.every_steps sets how often one is saved)")
    points: list[CurvePoint] = []
    for name, step, folder in found:
        root = out / "evals" / name
        res = _finished(root / "results.json")
        if res is None:
            argv = [sys.executable, "-m", "rfactory", "eval", "--model", f"{backend}:{folder.resolve()}", "--out",
                    str(root), *(a for b in benches for a in ("--bench", b)), *eval_args, *(["-q"] if quiet else [])]
            code = subprocess.call(argv, env=os.environ.copy())
            if code:
                raise UserError(f"eval of {folder} exited with status {code}; rerun train-sft to continue the evals")
            res = json.loads((root / "results.json").read_text(encoding="utf-8"))
        for r in res["benchmarks"]:
            a = r["scores"]["avg_at_n"]
            points.append(CurvePoint(checkpoint=name, step=step, benchmark=r["benchmark"], n=r["samples"],
                                     avg_at_n=a["mean"], low=a["low"], high=a["high"],
                                     complete=not r["outcomes"]["missing"] and not r["outcomes"]["sandbox_error"]))
    write_curve(out / "evals", points)
    return points


def write_curve(folder: Path, points: list[CurvePoint]) -> None:
    """`curve.json`, `curve.md` and `curve.png`: avg@n with its interval at every step."""
    from .plots import training_curve

    write_json_atomic(folder / "curve.json", [p.model_dump() for p in points])
    curves: dict[str, list[tuple[int, float, float, float]]] = {}
    for p in points:
        curves.setdefault(p.benchmark, []).append((p.step, p.avg_at_n, p.low, p.high))
    (folder / "curve.png").write_bytes(training_curve(curves))
    lines = ["# Scores by training step", "", "| checkpoint | step | benchmark | n | avg@n | 95% interval |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {p.checkpoint} | {p.step} | {p.benchmark} | {p.n} | {100 * p.avg_at_n:.1f} | "
              f"{100 * p.low:.1f}–{100 * p.high:.1f} |" for p in points]
    (folder / "curve.md").write_text("\n".join(lines + ["", "![avg@n by step](curve.png)", ""]), encoding="utf-8")
