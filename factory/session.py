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
from .recipe import (BudgetConfig, Columns, OutputConfig, ProblemsConfig, PromptConfig, Recipe, SamplingConfig,
                     TeacherConfig, VerifierConfig)
from .runstore import PartWriter, Run, pair_key
from .teachers import Teacher


def question_recipe(name: str, source: Path, teacher: TeacherConfig, sampling: SamplingConfig,
                    domain: str = "math", verifier: VerifierConfig | dict[str, Any] | None = None,
                    budget: BudgetConfig | None = None) -> Recipe:
    """A sub-run's recipe: each question of `source` (id, problem, answer) sent as it is, with no
    system prompt, sampled as `sampling` says; answers kept whether or not they show a thought."""
    return Recipe(
        name=name, domain=domain,  # type: ignore[arg-type]
        problems=ProblemsConfig(source=str(source.resolve()), columns=Columns(id="id", problem="problem", answer="answer")),
        teacher=teacher,
        prompt=PromptConfig(teacher_system=None, user_template="{problem}", dataset_system=""),
        sampling=sampling,
        verifier=verifier or VerifierConfig(),
        budget=budget or BudgetConfig(),
        output=OutputConfig(require_thought=False),
    )


def answers(folder: Path) -> dict[str, str | None]:
    """Each question of a sub-run with a record: its answer (the solution section, else the whole
    reply), or None where generation failed; {} before the sub-run exists."""
    if not (folder / "run.json").is_file():
        return {}
    return {r["problem_id"]: (r["solution"] or r["content"] or "") if r["status"] == "ok" else None
            for r in Run.open(folder).iter_latest_samples(["problem_id", "status", "solution", "content"])}


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
