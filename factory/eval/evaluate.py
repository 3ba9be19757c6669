"""One eval, top to bottom: benchmarks → runs → generation → verdicts → results, written into
the eval folder. Called by `rfactory eval` and by `train-sft --eval` for each checkpoint."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..benchmarks import LoadedBenchmark
from ..progress import Mode, Progress
from ..runstore import write_json_atomic
from ..session import Session, open_run
from .distinguish import settle
from .report import markdown, scaling_plots
from .results import EvalResults, ModelInfo, answers_by_problem, benchmark_result, judged, results
from .run import load, recipe_for
from .selection import check


class EvalRequest(BaseModel):
    """What to score and how; every sampling field left None takes the benchmark's own."""

    model_config = ConfigDict(extra="forbid")

    model: str
    benches: list[str]
    out: Path
    options: dict[str, Any] = {}  # the backend's options (base_url, tensor_parallel_size, dtype, …)
    samples: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    concurrency: int | None = None
    answer_column: str | None = None
    release: str | None = None  # LiveCodeBench
    dates: tuple[str | None, str | None] | None = None
    select: list[str] = []  # best-of-n strategies to report
    ray: tuple[str | None, int] | None = None  # (cluster address, workers) to generate on Ray


def evaluate(req: EvalRequest, mode: Mode) -> EvalResults:
    from ..teachers import build_teacher

    engine = build_teacher(req.model, req.options)
    loaded = [load(arg, req.out, req.answer_column, req.release, req.dates) for arg in req.benches]
    for b in loaded:
        check(req.select, b)
    res = asyncio.run(_evaluate(req, loaded, Session(engine, mode, req.ray)))
    write(res, req.out)
    return res


async def _evaluate(req: EvalRequest, loaded: list[LoadedBenchmark], session: Session) -> EvalResults:
    from ..verify import verify_run
    from rfactory.verifiers.math.groups import answer_groups

    engine = session.engine
    sampling = {"samples": req.samples, "temperature": req.temperature, "top_p": req.top_p,
                "max_tokens": req.max_tokens, "seed": req.seed}
    jobs = []
    for b in loaded:
        recipe = recipe_for(b, req.out, req.model, req.options, sampling, req.concurrency)
        jobs.append((recipe, open_run(recipe, engine, req.out)))
    try:
        await session.generate(jobs)
        if "distinguish" not in req.select:  # nothing more to ask: free the engine's memory and cores for verifying
            await session.aclose()
        scored = []
        for (recipe, run), b in zip(jobs, loaded):
            progress = Progress(session.mode, f"verify {recipe.name}", run.record_count(), "pass")
            try:
                verify_run(run, progress)
            finally:
                progress.close()
            groups = (answer_groups(answers_by_problem(run), recipe.verifier.timeout_s, workers=1)
                      if b.definition.kind == "math" else None)
            verdicts = judged(run, b, groups)
            if "distinguish" in req.select:
                await settle(run, b, recipe, verdicts.right(), session)
            scored.append(benchmark_result(run, b, recipe, verdicts, req.select))
    finally:
        await session.aclose()
    return results(ModelInfo(spec=req.model, identity=engine.identity(), engine=engine.engine(),
                             options=engine.public_options()), scored)


def write(res: EvalResults, out: Path) -> None:
    """`results.json`, `report.md` and its plots (one per benchmark with `--select`)."""
    plots = scaling_plots(res)
    for name, png in plots.items():
        (out / name).write_bytes(png)
    write_json_atomic(out / "results.json", json.loads(res.model_dump_json()))
    (out / "report.md").write_text(markdown(res, list(plots)) + "\n", encoding="utf-8")


def read_results(path: Path) -> EvalResults:
    from ..errors import UserError

    file = path / "results.json" if path.is_dir() else path
    try:
        return EvalResults.model_validate_json(file.read_text(encoding="utf-8"))
    except OSError:
        raise UserError(f"{file}: no results.json; run `rfactory eval ... --out {path}` first") from None
    except ValueError as e:
        raise UserError(f"{file}: not an rfactory eval result ({str(e).splitlines()[0]})") from None

