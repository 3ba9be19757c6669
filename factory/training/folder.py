"""A training run's output folder: claimed with the settings its checkpoints depend on, resumed
from its newest complete checkpoint, reported (not trained again) once done.

The folder holds `<kind>.json` (the recipe and its trajectory: what a checkpoint depends on),
transformers' `checkpoint-N/` folders, the final model, and `<kind>-done.json` once finished.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..errors import UserError


def _first_difference(old: Any, new: Any, where: str = "") -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{where}.{key}" if where else key)
    return f"{where}: {old!r} then, {new!r} now"


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def finished(out: Path, kind: str, trajectory: dict[str, Any]) -> dict[str, Any] | None:
    """The summary of a run that already finished in `out`; refuses a folder whose checkpoints
    were made with other training settings, or that rfactory did not make."""
    settings = out / f"{kind}.json"
    if settings.is_file():
        stored = json.loads(settings.read_text(encoding="utf-8"))["trajectory"]
        now = json.loads(json.dumps(trajectory))
        if stored != now:
            raise UserError(
                f"{out}: holds a training run with other settings ({_first_difference(stored, now)}); "
                "give another --out, or delete the folder to start over"
            )
    elif out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: not empty and not an rfactory training folder; give another --out")
    done = out / f"{kind}-done.json"
    return {**json.loads(done.read_text(encoding="utf-8")), "already_done": True} if done.is_file() else None


def claim_output(out: Path, kind: str, trajectory: dict[str, Any], recipe: dict[str, Any]) -> None:
    if (out / f"{kind}.json").is_file():
        return
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{kind}.json", {"trajectory": trajectory, "recipe": recipe})


def mark_done(out: Path, kind: str, summary: dict[str, Any]) -> None:
    write_json(out / f"{kind}-done.json", summary)


def last_complete_checkpoint(out: Path, remove_partial: bool) -> Path | None:
    """The newest checkpoint whose trainer state was written (the Trainer writes it last). Newer,
    half-written ones from a killed run are removed (by the first process only), so the Trainer
    neither loads nor rotates them."""
    found = sorted(
        (int(m.group(1)), p) for p in out.glob("checkpoint-*") if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))
    )
    complete = [(step, path) for step, path in found if (path / "trainer_state.json").is_file()]
    newest = complete[-1][0] if complete else -1
    if remove_partial:
        for step, path in found:
            if step > newest:
                shutil.rmtree(path, ignore_errors=True)
    return complete[-1][1] if complete else None


def resume_point(out: Path) -> tuple[Path | None, int]:
    """(the checkpoint to resume from, its step), or (None, 0) for a fresh start; the first process
    tidies what a killed run half-wrote."""
    from .launch import first_process

    checkpoint = last_complete_checkpoint(out, remove_partial=first_process())
    if checkpoint is None:
        return None, 0
    return checkpoint, json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))["global_step"]
