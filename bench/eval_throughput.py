#!/usr/bin/env python
"""Benchmark: `rfactory eval` on vLLM vs one direct `LLM.chat` call over the same prompts.

Target (issue 18): the whole eval — engine start, generation into the run store, verification,
scoring and the report — reaches at least 0.95x the generated tokens/s of a bare `LLM(...)` +
`LLM.chat(...)` that only generates. Both sides are timed from just before the engine is built
to the end of their work, in a process of their own (this script re-invoked with `--side`), so
each engine has the machine to itself; the rfactory side does strictly more work.

Both sides ask the same questions: the direct side builds its messages from the recipe rfactory
makes for the benchmark (`eval.run.recipe_for`) with rfactory's `build_messages` and the same
per-pair seeds. Greedy decoding makes both generate the same tokens (the token columns show it).
Rounds alternate direct, rfactory; the verdict is the median of the paired ratios.

Run:   .venv/bin/python bench/eval_throughput.py                    # CPU: vllm:smollm2, 96 x 2 pairs (~4 min)
       .venv/bin/python bench/eval_throughput.py --gpu --model /models/R1-Distill-Qwen-1.5B --dtype auto \
           --problems 500 --samples 4 --max-tokens 4096 --max-model-len 8192
Exits 0 whatever the verdict; 1 only if it could not run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from vllm_sides import parse, parser, rounds

TARGET = 0.95


def options(args: argparse.Namespace) -> dict:
    return {"dtype": args.dtype, "max_model_len": args.max_model_len, "enforce_eager": args.enforce_eager}


def write_bench(path: Path, n: int) -> None:
    rows = [{"id": f"q{i}", "problem": f"What is {i} times {i + 3}, plus {2 * i}?", "answer": str(i * (i + 3) + 2 * i)}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def side_direct(args: argparse.Namespace, work: Path) -> dict:
    from rfactory.eval.run import load, recipe_for
    from rfactory.generate import build_messages, sample_seed
    from rfactory.problems import iter_problems
    from rfactory.teachers import build_teacher

    started = time.perf_counter()
    from vllm import LLM, SamplingParams

    teacher = build_teacher(f"vllm:{args.model}", options(args))  # resolves the model folder as rfactory does
    o = teacher.options
    llm = LLM(model=teacher.path, dtype=o.dtype, max_model_len=o.max_model_len, enforce_eager=o.enforce_eager,
              enable_prefix_caching=o.enable_prefix_caching, gpu_memory_utilization=o.gpu_memory_utilization,
              tensor_parallel_size=o.tensor_parallel_size)
    bench = load(str(work / "bench.jsonl"), work / "scratch")
    recipe = recipe_for(bench, work / "scratch", f"vllm:{args.model}", options(args),
                        {"samples": args.samples, "temperature": 0.0, "max_tokens": args.max_tokens}, None)
    messages, params = [], []
    for problem in iter_problems(recipe.problems):
        for index in range(recipe.sampling.samples):
            messages.append(build_messages(recipe, problem))
            params.append(SamplingParams(temperature=0.0, top_p=recipe.sampling.top_p, max_tokens=args.max_tokens,
                                         seed=sample_seed(recipe.sampling.seed, problem.id, index)))
    outputs = llm.chat(messages, params, use_tqdm=False)
    seconds = time.perf_counter() - started
    return {"side": "direct", "requests": len(outputs), "tokens": sum(len(o.outputs[0].token_ids) for o in outputs),
            "seconds": seconds}


def side_rfactory(args: argparse.Namespace, work: Path) -> dict:
    from rfactory.eval.evaluate import EvalRequest, evaluate
    from rfactory.runstore import Run

    started = time.perf_counter()
    res = evaluate(EvalRequest(model=f"vllm:{args.model}", benches=[str(work / "bench.jsonl")], out=work / "eval",
                               options=options(args), samples=args.samples, temperature=0.0,
                               max_tokens=args.max_tokens), "quiet")
    seconds = time.perf_counter() - started
    run = Run.open(work / "eval" / "bench.jsonl")
    rows = list(run.iter_latest_samples(["completion_tokens"]))
    (r,) = res.benchmarks
    return {"side": "rfactory", "requests": len(rows), "tokens": sum(x["completion_tokens"] for x in rows),
            "seconds": seconds, "avg_at_n": r.scores.avg_at_n.mean}


def main() -> None:
    p = parser(__doc__, problems=96, rounds=2)
    p.add_argument("--json", action="store_true")
    args = parse(p, {"direct": side_direct, "rfactory": side_rfactory})
    if args is None:
        return

    rows = rounds(__file__, args, lambda work: write_bench(work / "bench.jsonl", args.problems))
    median = statistics.median(row["ratio"] for row in rows)
    if args.json:
        print(json.dumps({"rounds": rows, "median_ratio": median, "target": TARGET, "pass": median >= TARGET}))
        return
    print(f"model {args.model}, {args.problems} problems x {args.samples} samples, max_tokens {args.max_tokens}, "
          f"dtype {args.dtype}, greedy; engine start included on both sides")
    print(f"{'round':>5} {'direct tok':>11} {'direct s':>9} {'direct tok/s':>13} {'rfactory tok':>13} {'rfactory s':>11} "
          f"{'rfactory tok/s':>15} {'ratio':>6}")
    for row in rows:
        d, f = row["direct"], row["rfactory"]
        print(f"{row['round']:>5} {d['tokens']:>11,} {d['seconds']:>9.1f} {d['tokens'] / d['seconds']:>13,.1f} "
              f"{f['tokens']:>13,} {f['seconds']:>11.1f} {f['tokens'] / f['seconds']:>15,.1f} {row['ratio']:>6.3f}")
    print(f"rfactory eval / direct LLM.chat generated tokens/s: {median:.3f} (target >= {TARGET}) -> "
          f"{'PASS' if median >= TARGET else 'FAIL'}")


if __name__ == "__main__":
    main()
