#!/usr/bin/env python
"""Benchmark: the embedded teacher (`rfactory generate`, llama.cpp in-process) vs llama-cpp-python alone.

Target (issue 16): rfactory's generated tokens/s >= 0.95x the engine's alone, on the same
prompts, greedy, with the recipe's token cap, model load included on both sides.

Each side is a fresh process timed from its start to its exit (wall clock; user and system CPU
of the child), so start-up, model load and shutdown count on both sides:
  * engine:   this script re-run with `--engine`: only `llama_cpp` imported, `Llama(n_ctx, n_threads)`
    and `create_chat_completion` in a loop over exactly the messages rfactory sends (its
    `build_messages`, the pair's seed, the recipe's `max_tokens_cap`, temperature 0);
  * rfactory: `rfactory generate --temperature 0 --no-verify --json` on the built-in recipe (16
    arithmetic problems x 2 samples), into a fresh run folder.
Greedy decoding makes both generate the same tokens (the token columns show it). Rounds
alternate engine, rfactory; the verdict is the median of the paired ratios. High system time on
the rfactory side is the sign of threads fighting over the cores (issue 16: 0.40-0.44x before).

Run:   .venv/bin/python bench/embedded_throughput.py [--rounds 3] [--json]
Exits 0 whatever the verdict; 1 only if it could not run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.95


def engine_side(work: Path) -> None:
    """Only what llama.cpp needs: no rfactory import in this process."""
    from llama_cpp import Llama

    job = json.loads((work / "job.json").read_text())
    llm = Llama(model_path=job["model"], n_ctx=job["n_ctx"], n_threads=job["n_threads"], verbose=False)
    tokens = 0
    for request in job["requests"]:
        out = llm.create_chat_completion(messages=request["messages"], temperature=0.0, top_p=job["top_p"],
                                         max_tokens=job["max_tokens"], seed=request["seed"])
        tokens += out["usage"]["completion_tokens"]
    llm.close()
    print(json.dumps({"tokens": tokens}))


def write_job(work: Path) -> dict:
    from rfactory.generate import build_messages, sample_seed
    from rfactory.problems import iter_problems
    from rfactory.recipe import load_recipe
    from rfactory.teachers import build_teacher

    recipe = load_recipe("math", {"sampling.temperature": 0.0})
    teacher = build_teacher(recipe.teacher.spec, recipe.teacher.options)  # the GGUF, threads and cap rfactory uses
    job = {
        "model": str(teacher.path), "n_ctx": teacher.options.n_ctx, "n_threads": teacher.options.n_threads,
        "top_p": recipe.sampling.top_p,
        "max_tokens": min(recipe.sampling.max_tokens, teacher.options.max_tokens_cap or recipe.sampling.max_tokens),
        "requests": [{"messages": build_messages(recipe, problem), "seed": sample_seed(recipe.sampling.seed, problem.id, i)}
                     for problem in iter_problems(recipe.problems) for i in range(recipe.sampling.samples)],
    }
    (work / "job.json").write_text(json.dumps(job))
    return job


def timed(cmd: list[str], cwd: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # one child at a time: the difference is its own
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-3000:])
        raise SystemExit(f"{cmd[1:3]} failed")
    return {"wall": wall, "user": after.ru_utime - before.ru_utime, "sys": after.ru_stime - before.ru_stime,
            "out": result.stdout}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", metavar="WORK", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.engine:
        engine_side(Path(args.engine))
        return

    rows = []
    with tempfile.TemporaryDirectory(prefix="embedded-bench-") as tmp:
        work = Path(tmp)
        job = write_job(work)
        rfactory = [str(Path(sys.executable).with_name("rfactory"))]
        if not Path(rfactory[0]).exists():
            rfactory = [sys.executable, "-m", "rfactory"]
        for r in range(args.rounds):
            engine = timed([sys.executable, __file__, "--engine", str(work)], work)
            engine["tokens"] = json.loads(engine.pop("out").strip().splitlines()[-1])["tokens"]
            ours = timed([*rfactory, "generate", "--temperature", "0", "--no-verify", "--json", "--out", f"run-{r}"], work)
            ours["tokens"] = json.loads(ours.pop("out").strip().splitlines()[-1])["completion_tokens"]
            ratio = (ours["tokens"] / ours["wall"]) / (engine["tokens"] / engine["wall"])
            rows.append({"round": r, "engine": engine, "rfactory": ours, "ratio": ratio})
    median = statistics.median(row["ratio"] for row in rows)
    if args.json:
        print(json.dumps({"requests": len(job["requests"]), "n_threads": job["n_threads"], "rounds": rows,
                          "median_ratio": median, "target": TARGET}))
        return
    print(f"embedded SmolLM2, {len(job['requests'])} requests, greedy, max_tokens {job['max_tokens']}, "
          f"n_threads {job['n_threads']}, model load included")
    print(f"{'round':>5} {'side':>9} {'tokens':>7} {'wall s':>7} {'tok/s':>7} {'user s':>7} {'sys s':>6} {'ratio':>6}")
    for row in rows:
        for side in ("engine", "rfactory"):
            s = row[side]
            ratio = f"{row['ratio']:.3f}" if side == "rfactory" else ""
            print(f"{row['round']:>5} {side:>9} {s['tokens']:>7,} {s['wall']:>7.2f} {s['tokens'] / s['wall']:>7.1f} "
                  f"{s['user']:>7.2f} {s['sys']:>6.2f} {ratio:>6}")
    print(f"rfactory / llama-cpp-python alone, generated tokens/s: {median:.3f} (target >= {TARGET}) -> "
          f"{'PASS' if median >= TARGET else 'FAIL'}")


if __name__ == "__main__":
    main()
