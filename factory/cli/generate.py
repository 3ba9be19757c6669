"""`rfactory generate`: run a recipe against a teacher into a resumable run folder, then verify it."""

from __future__ import annotations

import asyncio
import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from ..generate import generate as run_generation
from ..problems import count_problems, iter_problems
from ..progress import Progress, print_summary
from ..recipe import load_recipe
from ..runstore import Run
from ..teachers import Teacher, build_teacher
from .options import JSON, QUIET, interruptible, output_mode
from .verify import report, verify_with_progress


async def _generate_and_close(run, recipe, teacher: Teacher, writer, done, progress):  # noqa: ANN001
    try:
        return await run(recipe, teacher, writer, done, progress)
    finally:
        await teacher.aclose()


class Executor(str, Enum):
    local = "local"
    ray = "ray"


@interruptible
def generate(
    recipe: str = typer.Option("math", "--recipe", "-r", help="Built-in recipe name or path to a recipe YAML."),
    teacher: Optional[str] = typer.Option(None, "--teacher", "-t", help="backend:model, e.g. openai:deepseek-reasoner or llamacpp:smollm2."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)."),
    problems: Optional[str] = typer.Option(None, "--problems", "-p", help="Problem file (.jsonl/.json/.parquet/.csv), hf:org/name, or builtin:NAME."),
    split: Optional[str] = typer.Option(None, help="Split of a Hub dataset."),
    limit: Optional[int] = typer.Option(None, help="Use at most this many problems."),
    samples: Optional[int] = typer.Option(None, "--samples", "-n", help="Samples per problem."),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature."),
    top_p: Optional[float] = typer.Option(None, help="Nucleus sampling top_p."),
    max_tokens: Optional[int] = typer.Option(None, help="Max new tokens per sample."),
    seed: Optional[int] = typer.Option(None, help="Base seed; each (problem, sample) derives its own."),
    concurrency: Optional[int] = typer.Option(None, help="Requests in flight."),
    timeout: Optional[float] = typer.Option(None, help="Per-request timeout in seconds (openai)."),
    rpm: Optional[float] = typer.Option(None, help="Requests per minute limit (openai)."),
    tpm: Optional[float] = typer.Option(None, help="Tokens per minute limit (openai)."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", metavar="USD", help="Stop before the run's spend (earlier invocations included) would pass this; rerun with more to continue."),
    max_tokens_total: Optional[int] = typer.Option(None, "--max-tokens-total", help="The same cap in prompt + completion tokens."),
    price_input: Optional[float] = typer.Option(None, "--price-input", metavar="USD", help="Per million prompt tokens, over the packaged price table."),
    price_output: Optional[float] = typer.Option(None, "--price-output", metavar="USD", help="Per million completion tokens (reasoning included)."),
    price_cached_input: Optional[float] = typer.Option(None, "--price-cached-input", metavar="USD", help="Per million cached prompt tokens."),
    fail_fast_after: Optional[int] = typer.Option(None, "--fail-fast-after", help="Stop when this many first requests all fail to reach the endpoint (0: never; default 8)."),
    tensor_parallel: Optional[int] = typer.Option(None, "--tensor-parallel-size", "--tp", help="GPUs per replica (vllm)."),
    pipeline_parallel: Optional[int] = typer.Option(None, "--pipeline-parallel-size", "--pp", help="Pipeline stages (vllm)."),
    max_model_len: Optional[int] = typer.Option(None, help="Context length (vllm)."),
    dtype: Optional[str] = typer.Option(None, help="auto, bfloat16, float16 or float32 (vllm)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default runs/<recipe name>)."),
    executor: Executor = typer.Option(Executor.local, help="local: this process; ray: teacher workers on a Ray cluster."),
    address: Optional[str] = typer.Option(None, help="Ray cluster to join (default: start a local Ray)."),
    workers: int = typer.Option(2, min=1, help="Ray workers, each with its own teacher (--executor ray)."),
    batch: bool = typer.Option(False, "--batch", help="Send the pending pairs through the provider's Batch API (half price at OpenAI); rerun to pick its batches up."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Verify and write the dataset when generation ends."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Generate reasoning traces; rerun the same command to resume after a crash or Ctrl-C.

    Examples:

      rfactory generate                                  # embedded SmolLM2 on the built-in set, offline

      rfactory generate --recipe math --teacher openai:deepseek-reasoner --samples 4 --out runs/m1

      rfactory generate --teacher vllm:Qwen/QwQ-32B --tp 4 --max-model-len 32768 --samples 8 -p probs.jsonl

      rfactory generate -t openai:my-model --base-url http://localhost:8000/v1 --problems probs.jsonl

      rfactory generate -t openai:deepseek-reasoner -p probs.jsonl --max-cost 50   # stops before $50

      rfactory generate -t openai:o4-mini -p probs.jsonl --batch --out runs/b1   # Batch API; rerun to collect
    """
    mode = output_mode(quiet, as_json)
    overrides = {
        "teacher.spec": teacher,
        "teacher.options.base_url": base_url,
        "teacher.options.timeout_s": timeout,
        "teacher.options.requests_per_minute": rpm,
        "teacher.options.tokens_per_minute": tpm,
        "teacher.options.tensor_parallel_size": tensor_parallel,
        "teacher.options.pipeline_parallel_size": pipeline_parallel,
        "teacher.options.max_model_len": max_model_len,
        "teacher.options.dtype": dtype,
        "teacher.concurrency": concurrency,
        "teacher.price.input_per_mtok": price_input,
        "teacher.price.output_per_mtok": price_output,
        "teacher.price.cached_input_per_mtok": price_cached_input,
        "teacher.fail_fast_after": fail_fast_after,
        "budget.max_cost_usd": max_cost,
        "budget.max_tokens_total": max_tokens_total,
        "problems.source": problems,
        "problems.split": split,
        "problems.limit": limit,
        "sampling.samples": samples,
        "sampling.temperature": temperature,
        "sampling.top_p": top_p,
        "sampling.max_tokens": max_tokens,
        "sampling.seed": seed,
    }
    spec = load_recipe(recipe, overrides)
    next(iter_problems(spec.problems))  # bad problem input fails here, before a run folder exists
    engine = build_teacher(spec.teacher.spec, spec.teacher.options)
    if spec.output.require_thought is None:  # decided here, where the teacher is known, and stored with the run
        spec.output.require_thought = not engine.demo_model
    fingerprint = json.loads(json.dumps({**spec.generation_fingerprint(), "teacher_identity": engine.identity()}))
    run_dir = out or Path("runs") / spec.name
    stored = spec.model_dump(mode="json")
    stored["teacher"]["options"] = engine.public_options()
    run = Run.create_or_resume(run_dir, stored, fingerprint)
    writer = run.writer()
    try:
        done = run.done_keys()
        problem_count = count_problems(spec.problems)
        total = None if problem_count is None else max(0, problem_count * spec.sampling.samples - len(done))
        progress = Progress(mode, "generate", total, "ok")
        try:
            if executor is Executor.ray:
                if batch:
                    raise UserError("--batch: the provider runs the batch; leave --executor local")
                from ..ray_executor import generate_on_ray  # Ray loads only for this executor

                summary = generate_on_ray(spec, engine, writer, done, progress, address, workers)
            else:
                from ..batch import generate_batches

                chosen = generate_batches if batch else run_generation
                summary = asyncio.run(_generate_and_close(chosen, spec, engine, writer, done, progress))
        finally:
            progress.close()
    finally:
        writer.close()
    summary = {"run": str(run_dir), "teacher": spec.teacher.spec, **summary, "thought_required": spec.output.require_thought}
    if "stopped" in summary:  # the budget: what is there stays for the next, larger cap
        print_summary(mode, "generate", summary)
        typer.echo(summary["stopped"], err=True)
        raise typer.Exit(3)
    if mode == "json" and verify:
        print_summary(mode, "", {"generate": summary, "verify": verify_with_progress(run, mode)})
        return
    print_summary(mode, "generate", summary)
    if mode == "rich" and not spec.output.require_thought and engine.demo_model:
        typer.echo(f"note: {spec.teacher.spec} is the embedded demo model, which does not reason, so its traces are "
                   "kept without a thought section; a real teacher's traces need one (output.require_thought)")
    if verify:
        report(mode, verify_with_progress(run, mode))
