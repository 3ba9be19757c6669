"""`rfactory eval`: a model on benchmarks, scored with honest statistics; `rfactory eval compare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from ..runstore import write_json_atomic
from .options import JSON, QUIET, interruptible, output_mode

eval_app = typer.Typer(help="Score a teacher or a trained student on reasoning benchmarks.", add_completion=False)


@eval_app.callback(invoke_without_command=True)
@interruptible
def evaluate(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="backend:model, e.g. vllm:models/sft or openai:deepseek-reasoner."),
    bench: list[str] = typer.Option([], "--bench", "-b", help="A ready benchmark (math500, aime2024, aime2025, amc23), a file or a Hub dataset; ARG:COLUMN names the problem column. Repeatable."),
    answer_column: Optional[str] = typer.Option(None, help="The reference answer's column, for a file or Hub dataset."),
    samples: Optional[int] = typer.Option(None, "--samples", "-n", help="Samples per problem (default: the benchmark's, as the anchors ran it)."),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature (default: the benchmark's, 0.6)."),
    top_p: Optional[float] = typer.Option(None, help="Nucleus sampling top_p."),
    max_tokens: Optional[int] = typer.Option(None, help="Max new tokens per sample (default: the benchmark's, 32768)."),
    seed: Optional[int] = typer.Option(None, help="Base seed; each (problem, sample) derives its own."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Eval folder (default evals/<model>)."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint (openai)."),
    tensor_parallel: Optional[int] = typer.Option(None, "--tensor-parallel-size", "--tp", help="GPUs per replica (vllm)."),
    max_model_len: Optional[int] = typer.Option(None, help="Context length (vllm)."),
    dtype: Optional[str] = typer.Option(None, help="auto, bfloat16, float16 or float32 (vllm)."),
    concurrency: Optional[int] = typer.Option(None, help="Requests in flight."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Generate, verify and score; rerun the same command to resume an interrupted eval.

    Examples:

      rfactory eval --model vllm:models/sky-t1-32b --bench aime2024 --bench math500 -n 16

      rfactory eval --model openai:deepseek-reasoner --bench my_eval.jsonl:question --answer-column answer

      rfactory eval compare evals/base evals/sft-round1
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..eval.results import ModelInfo, answers_by_problem, benchmark_result, results
    from ..eval.report import markdown, print_report
    from ..eval.run import folder_name, generate_all, load, open_run, recipe_for
    from ..progress import Progress, print_summary
    from ..teachers import build_teacher
    from ..verify import verify_run
    from rfactory.verifiers.math.groups import answer_groups

    mode = output_mode(quiet, as_json)
    if not model:
        raise UserError("eval: --model is required, e.g. --model vllm:models/sft or --model llamacpp:smollm2")
    if not bench:
        raise UserError("eval: name at least one --bench (math500, aime2024, aime2025, amc23, a file or a Hub dataset)")
    options = {k: v for k, v in {"base_url": base_url, "tensor_parallel_size": tensor_parallel,
                                 "max_model_len": max_model_len, "dtype": dtype}.items() if v is not None}
    root = out or Path("evals") / folder_name(model)
    engine = build_teacher(model, options)
    loaded = [load(arg, root, answer_column) for arg in bench]
    sampling = {"samples": samples, "temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "seed": seed}
    jobs = []
    for b in loaded:
        recipe = recipe_for(b, root, model, options, sampling, concurrency)
        jobs.append((recipe, open_run(recipe, engine, root)))
    generate_all(jobs, engine, mode)
    scored = []
    for (recipe, run), b in zip(jobs, loaded):
        progress = Progress(mode, f"verify {recipe.name}", run.record_count(), "pass")
        try:
            verify_run(run, progress)
        finally:
            progress.close()
        groups = answer_groups(answers_by_problem(run), recipe.verifier.timeout_s, workers=1)
        scored.append(benchmark_result(run, b, recipe, groups))
    res = results(ModelInfo(spec=model, identity=engine.identity(), engine=engine.engine(),
                            options=engine.public_options()), scored)
    write_json_atomic(root / "results.json", json.loads(res.model_dump_json()))
    (root / "report.md").write_text(markdown(res) + "\n", encoding="utf-8")
    if mode == "json":
        print_summary(mode, "", json.loads(res.model_dump_json()))
    elif mode == "rich":
        print_report(res)
        typer.echo(f"results: {root / 'results.json'}  report: {root / 'report.md'}")


@eval_app.command("compare")
def compare(
    a: Path = typer.Argument(..., help="An eval folder (or its results.json)."),
    b: Path = typer.Argument(..., help="The eval to compare it with."),
    as_json: bool = JSON,
) -> None:
    """A minus B on every benchmark both scored, paired problem by problem, with its 95% interval."""
    from rich.console import Console

    from ..eval.report import comparison_table
    from ..eval.results import EvalResults, compare as paired

    def read(path: Path) -> EvalResults:
        file = path / "results.json" if path.is_dir() else path
        try:
            return EvalResults.model_validate_json(file.read_text(encoding="utf-8"))
        except OSError:
            raise UserError(f"{file}: no results.json; run `rfactory eval ... --out {path}` first") from None
        except ValueError as e:
            raise UserError(f"{file}: not an rfactory eval result ({str(e).splitlines()[0]})") from None

    rows = paired(read(a), read(b))
    if not rows:
        raise UserError(f"{a} and {b} share no benchmark")
    if as_json:
        print(json.dumps([json.loads(r.model_dump_json()) for r in rows]))
        return
    Console().print(comparison_table(rows, str(a), str(b)))
    for r in rows:
        if not r.same_problems:
            typer.echo(f"warning: {r.benchmark}: the two scored different problem sets; only shared problems are paired")
