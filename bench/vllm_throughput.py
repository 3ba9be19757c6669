#!/usr/bin/env python
"""Benchmark: `rfactory generate` with the vLLM teacher vs one direct `LLM.chat` call.

Target (issue 6): rfactory's generated tokens/s >= 0.95x the direct call's, same prompts, same
engine settings, same machine.

Each side runs in a child process of its own (this script re-invoked with `--side`), so each
engine has the machine to itself, and prints one JSON line. Both build the same chat messages
with rfactory's own `build_messages` and the same per-pair seeds, and both time only generation:
the engine is started and warmed with one request before the clock starts.
  * direct:   `LLM(...).chat(all messages, per-request SamplingParams)`, one call;
  * rfactory: the library's `generate()` (producer, workers, journal, Parquet parts) with the
    `vllm` teacher into a fresh run folder, exactly as `rfactory generate` runs it.
Greedy decoding (temperature 0) makes both sides generate the same tokens, so tokens/s compare
like for like. Rounds alternate direct, rfactory; the verdict is the median of the ratios.

Run:   .venv/bin/python bench/vllm_throughput.py                    # CPU: vllm:smollm2, 64 x 2 pairs
       .venv/bin/python bench/vllm_throughput.py --model /models/Qwen2.5-7B-Instruct --dtype auto \
           --problems 1000 --samples 4 --max-tokens 1024 --rounds 2  # a GPU (see bench/gpu_vllm.sh)
Exits 0 whatever the verdict; 1 only if it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

from vllm_sides import parse, parser, rounds

TARGET = 0.95


def recipe(args: argparse.Namespace, problems: Path):
    from rfactory.recipe import load_recipe

    options = {"dtype": args.dtype, "max_model_len": args.max_model_len, "enforce_eager": args.enforce_eager}
    return load_recipe("math", {
        "teacher.spec": f"vllm:{args.model}", "problems.source": str(problems), "problems.limit": args.problems,
        "sampling.samples": args.samples, "sampling.max_tokens": args.max_tokens, "sampling.temperature": 0.0,
        **{f"teacher.options.{k}": v for k, v in options.items()},
    })


def write_problems(path: Path, n: int) -> None:
    rows = [{"problem": f"What is {i} times {i + 3}, plus {2 * i}? Explain briefly.", "answer": str(i * (i + 3) + 2 * i)}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def side_direct(args: argparse.Namespace, work: Path) -> dict:
    from vllm import LLM, SamplingParams

    from rfactory.generate import build_messages, sample_seed
    from rfactory.problems import iter_problems
    from rfactory.teachers import build_teacher

    spec = recipe(args, work / "problems.jsonl")
    teacher = build_teacher(spec.teacher.spec, spec.teacher.options)  # resolves the model folder the same way
    o = teacher.options
    llm = LLM(model=teacher.path, dtype=o.dtype, max_model_len=o.max_model_len, enforce_eager=o.enforce_eager,
              enable_prefix_caching=o.enable_prefix_caching, gpu_memory_utilization=o.gpu_memory_utilization,
              tensor_parallel_size=o.tensor_parallel_size)
    messages, params = [], []
    for problem in iter_problems(spec.problems):
        for index in range(spec.sampling.samples):
            messages.append(build_messages(spec, problem))
            params.append(SamplingParams(temperature=0.0, top_p=spec.sampling.top_p, max_tokens=spec.sampling.max_tokens,
                                         seed=sample_seed(spec.sampling.seed, problem.id, index)))
    llm.chat(messages[:1], params[:1], use_tqdm=False)  # warm-up
    started = time.perf_counter()
    outputs = llm.chat(messages, params, use_tqdm=False)
    seconds = time.perf_counter() - started
    return {"side": "direct", "requests": len(outputs), "tokens": sum(len(o.outputs[0].token_ids) for o in outputs),
            "seconds": seconds}


def side_rfactory(args: argparse.Namespace, work: Path) -> dict:
    from rfactory.generate import generate
    from rfactory.progress import Progress
    from rfactory.runstore import Run
    from rfactory.teachers import ChatRequest, build_teacher

    spec = recipe(args, work / "problems.jsonl")
    teacher = build_teacher(spec.teacher.spec, spec.teacher.options)
    run = Run.create_or_resume(work / "run", spec.model_dump(mode="json"), {})

    async def main() -> dict:
        await teacher.generate(ChatRequest(messages=[{"role": "user", "content": "Hi"}], temperature=0, top_p=1,
                                           max_tokens=4, seed=0))  # engine start + warm-up
        writer = run.writer()
        started = time.perf_counter()
        summary = await generate(spec, teacher, writer, set(), Progress("quiet", "generate", None, "ok"))
        writer.close()  # the last part written to disk is part of the work
        seconds = time.perf_counter() - started
        await teacher.aclose()
        return {"side": "rfactory", "requests": summary["new_samples"] + summary["failed"],
                "tokens": summary["completion_tokens"], "seconds": seconds}

    return asyncio.run(main())


def main() -> None:
    p = parser(__doc__, problems=64, rounds=1)
    args = parse(p, {"direct": side_direct, "rfactory": side_rfactory})
    if args is None:
        return

    rows = rounds(__file__, args, lambda work: write_problems(work / "problems.jsonl", args.problems))
    print(f"model {args.model}, {args.problems} problems x {args.samples} samples, max_tokens {args.max_tokens}, "
          f"dtype {args.dtype}, greedy")
    print(f"{'round':>5} {'direct tok':>11} {'direct tok/s':>13} {'rfactory tok':>13} {'rfactory tok/s':>15} {'ratio':>6}")
    for row in rows:
        r, d, f, ratio = row["round"], row["direct"], row["rfactory"], row["ratio"]
        print(f"{r:>5} {d['tokens']:>11,} {d['tokens'] / d['seconds']:>13,.1f} {f['tokens']:>13,} "
              f"{f['tokens'] / f['seconds']:>15,.1f} {ratio:>6.3f}")
    median = statistics.median(row["ratio"] for row in rows)
    print(f"rfactory / direct generated tokens/s: {median:.3f} (target >= {TARGET}) -> {'PASS' if median >= TARGET else 'FAIL'}")


if __name__ == "__main__":
    main()
