#!/usr/bin/env python
"""Benchmark: rollouts per labelled trace, `label-steps --search binary` vs `--search linear`, on
the same traces and the same completer.

The traces are planted (the fault-injecting teacher's `[trace=…]`): solutions of M steps (M drawn
from --steps), a third reaching the answer, the rest wrong from a random step on. The completer is
the same server: a continuation reaches the answer unless a step it is shown is the wrong one, so
both searches see the same, exact step correctness, and the bench checks they agree on every
first error. Both sides run the real `rfactory label-steps` CLI; the cost is counted from their
rollout run stores. Math-Shepherd's linear search asks N·(M−1) rollouts per wrong trace; binary
search about N·log2(M) at most, fewer when a probe succeeds early (it stops at its first success),
and nothing for a trace that reached the answer.

Run:   .venv/bin/python bench/prm_rollouts.py [--traces 60] [--rollouts 8] [--steps 4:24]
Exits 0 whatever the numbers; 1 only if it could not run.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from rfactory.testing.fake_openai import FakeOpenAIThread

RECIPE = """
name: traces
problems: {{source: problems.jsonl, columns: {{id: id}}}}
teacher: {{spec: "openai:fake", concurrency: 32, options: {{base_url: "{base_url}"}}}}
sampling: {{samples: 1}}
"""


def cli(*args: str, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "rfactory", *args, "--json"], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"rfactory {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def planted(n: int, lo: int, hi: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        m = rng.randint(lo, hi)
        wrong = None if i % 3 == 0 else rng.randrange(m - 1)  # the last step states the answer
        steps = [f"Step {k + 1} works on it" + (" (wrong)" if wrong is not None and k >= wrong else "") + "."
                 for k in range(m - 1)]
        steps.append(f"So the answer is \\boxed{{{6 if wrong is None else 7}}}.")
        rows.append({"id": f"t{i}", "problem": f"Problem {i}. [trace={'|'.join(steps)}][continue=6]", "answer": "6"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=60)
    ap.add_argument("--rollouts", type=int, default=8)
    ap.add_argument("--steps", default="4:24", help="LO:HI steps per trace")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    lo, hi = (int(x) for x in args.steps.split(":"))
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIThread() as api:
        root = Path(tmp)
        (root / "problems.jsonl").write_text("".join(json.dumps(r) + "\n" for r in planted(args.traces, lo, hi, args.seed)))
        (root / "r.yaml").write_text(RECIPE.format(base_url=api.base_url))
        cli("generate", "-r", "r.yaml", "--out", "run", cwd=root)
        side = {}
        for search in ("linear", "binary"):
            side[search] = cli("label-steps", "run", "--completer", "openai:fake", "--base-url", api.base_url,
                               "--rollouts", str(args.rollouts), "--search", search, "--concurrency", "32",
                               "--out", f"prm-{search}", cwd=root)
        import pyarrow.parquet as pq

        firsts = {s: pq.read_table(root / f"prm-{s}/dataset/metadata").column("first_error").to_pylist()
                  for s in side}
        steps = side["linear"]["steps"] / side["linear"]["traces"]
    lin, bin_ = (side[s]["rollouts_per_trace"] for s in ("linear", "binary"))
    print(f"{side['linear']['traces']} traces, {steps:.1f} steps each on average, {args.rollouts} rollouts per prefix")
    print(f"{'search':<8} {'rollouts':>9} {'per trace':>10}")
    for s in ("linear", "binary"):
        print(f"{s:<8} {side[s]['cost']['rollouts']:>9,} {side[s]['rollouts_per_trace']:>10.1f}")
    print(f"binary / linear: {bin_ / lin:.3f} of the rollouts ({lin / bin_:.1f}x fewer); "
          f"N·log2(M) at the mean M would be {args.rollouts * math.log2(steps):.1f} per wrong trace")
    agree = sum(a == b for a, b in zip(firsts["linear"], firsts["binary"]))
    print(f"first errors: binary agrees with linear on {agree}/{len(firsts['linear'])} traces")


if __name__ == "__main__":
    main()
