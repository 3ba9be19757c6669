"""Many ordinary runs on one engine: the sub-runs of a command that asks a model several things in
turn (an eval's benchmarks and S*'s questions, label-steps' rounds of rollouts), each resumable
on its own, all in one event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .generate import generate
from .progress import Mode, Progress
from .recipe import Recipe
from .runstore import PartWriter, Run, pair_key
from .teachers import Teacher


def open_run(recipe: Recipe, engine: Teacher, root: Path) -> Run:
    folder = root / recipe.name
    fingerprint = json.loads(json.dumps({**recipe.generation_fingerprint(), "teacher_identity": engine.identity()}))
    stored = recipe.model_dump(mode="json")
    stored["teacher"]["options"] = engine.public_options()
    return Run.create_or_resume(folder, stored, fingerprint)


@contextmanager
def _job(recipe: Recipe, run: Run, mode: Mode, label: str) -> Iterator[tuple[PartWriter, set[int], Progress]]:
    writer = run.writer()
    try:
        done = run.done_keys()
        with open(recipe.problems.source, encoding="utf-8") as f:
            ids = [json.loads(line)["id"] for line in f if line.strip()]
        total = sum(pair_key(pid, i) not in done for pid in ids for i in range(recipe.sampling.samples))
        progress = Progress(mode, f"{label} {recipe.name}", total, "ok")
        try:
            yield writer, done, progress
        finally:
            progress.close()
    finally:
        writer.close()


class Session:
    """Where a command's requests run: here, on one engine for everything the command asks
    (started on the first request, closed once nothing more will be asked: a vLLM engine lives in
    one event loop), or on Ray workers (`ray`: the cluster address and the worker count), each job
    with engines of its own. `label` names the progress bars ("eval", "label-steps")."""

    def __init__(self, engine: Teacher, mode: Mode, ray: tuple[str | None, int] | None = None, label: str = "eval"):
        self.engine = engine
        self.mode = mode
        self.ray = ray
        self.label = label
        self.closed = False

    async def generate(self, jobs: list[tuple[Recipe, Run]]) -> list[dict[str, Any]]:
        """Every pending pair of each job, job after job."""
        summaries = []
        for recipe, run in jobs:
            with _job(recipe, run, self.mode, self.label) as (writer, done, progress):
                if self.ray is None:
                    summaries.append(await generate(recipe, self.engine, writer, done, progress))
                else:
                    from .ray_executor import generate_on_ray  # Ray loads only for this executor

                    summaries.append(await asyncio.to_thread(generate_on_ray, recipe, self.engine, writer, done,
                                                             progress, *self.ray))
        return summaries

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            await self.engine.aclose()
