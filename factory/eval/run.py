"""Benchmarks as ordinary runs: `EVAL/<benchmark>/` holds the exact problems (`problems.jsonl`),
where they came from (`benchmark.json`: definition, Hub revision, content hash) and the run
store, so an interrupted eval continues and a finished one rescores without asking again.

The problems are read from the Hub once, when the benchmark's folder is made; a rerun reads
them from the folder, offline, and a folder holding another slice is refused.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from ..benchmarks import BenchmarkDef, LoadedBenchmark, load_eval_benchmark, resolve
from ..recipe import (Columns, OutputConfig, ProblemsConfig, PromptConfig, Recipe, SamplingConfig, TeacherConfig,
                      VerifierConfig)
from ..runstore import write_json_atomic


def folder_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "--", name).strip("-") or "benchmark"


def load(arg: str, root: Path, answer_column: str | None = None, release: str | None = None,
         dates: tuple[str | None, str | None] | None = None) -> LoadedBenchmark:
    """The benchmark named `arg`: from its folder under `root` if an earlier eval made one, else
    read now (the Hub, or a file) and written there. A LiveCodeBench window of its own gets a
    folder of its own."""
    spec, _ = resolve(arg, "--bench")
    name = spec.name
    if release or dates:
        start, end = dates or spec.dates or (None, None)
        name = f"{spec.name}-{release or spec.release}-{start or 'start'}..{end or 'end'}"
    folder = root / folder_name(name)
    stored = folder / "benchmark.json"
    if stored.is_file():
        return LoadedBenchmark.model_validate_json(stored.read_text(encoding="utf-8"))
    bench = load_eval_benchmark(arg, answer_column, release, dates)
    bench.definition.name = name
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stored, json.loads(bench.model_dump_json()))
    return bench


def _prompt(name: str) -> str:
    return resources.files("rfactory.prompts").joinpath(name).read_text(encoding="utf-8").rstrip("\n")


def recipe_for(bench: LoadedBenchmark, root: Path, teacher: str, options: dict[str, Any], sampling: dict[str, Any],
               concurrency: int | None) -> Recipe:
    """The recipe that asks the benchmark's questions: its prompt and the anchors' sampling, with
    the flags given over them."""
    d: BenchmarkDef = bench.definition
    folder = root / folder_name(d.name)
    problems = folder / "problems.jsonl"
    if not problems.is_file():
        problems.write_text("".join(p.model_dump_json() + "\n" for p in bench.problems), encoding="utf-8")
    chosen = {"samples": d.samples, "temperature": d.temperature, "top_p": d.top_p, "max_tokens": d.max_tokens,
              "seed": 0} | {k: v for k, v in sampling.items() if v is not None}
    code = d.kind == "code"
    return Recipe(
        name=folder_name(d.name),
        domain={"math": "math", "choice": "science", "code": "code"}[d.kind],
        problems=ProblemsConfig(source=str(problems.resolve()), columns=Columns(
            id="id", problem="problem", answer="answer", starter_code="starter_code" if code else None)),
        teacher=TeacherConfig(spec=teacher, options=options, concurrency=concurrency),
        prompt=PromptConfig(teacher_system=None, user_template=_prompt(d.prompt), dataset_system=_prompt("reasoning_system.txt")),
        sampling=SamplingConfig(**chosen),
        # LiveCodeBench's own harness gives each test 6 s
        verifier=VerifierConfig(name=d.kind, timeout_s=6.0 if code else VerifierConfig().timeout_s),
        output=OutputConfig(require_thought=False),  # an eval scores answers; its dataset is incidental
    )
