#!/usr/bin/env python
"""Benchmark: tests/s for a trivial stdin/stdout program through rfactory's sandbox (a warm fork
server inside bubblewrap, or the namespaces it builds without it; one fork per test) vs a fresh
`python` subprocess per test, in one run.

Target (issue 4): at least 3x the subprocess baseline. Rounds alternate between the two so both
see the same machine load; the verdict is the median of the paired ratios. The per-test overhead
printed is the sandbox's wall time per test minus the program's own run time inside it.

Run:  .venv/bin/python bench/sandbox_throughput.py [--tests 300] [--rounds 3] [--levels bubblewrap,namespaces] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rfactory.verifiers.code.judge import stdout_matches
from rfactory.verifiers.code.sandbox import Sandbox

PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"


def subprocess_round(n: int, workdir: Path) -> float:
    """A fresh interpreter per test, the way most local checkers run generated code."""
    source = workdir / "solution.py"
    source.write_text(PROGRAM)
    started = time.perf_counter()
    for i in range(n):
        r = subprocess.run([sys.executable, str(source)], input=f"{i} 1\n", capture_output=True, text=True, timeout=10)
        assert stdout_matches(r.stdout, f"{i + 1}\n")
    return n / (time.perf_counter() - started)


def sandbox_round(n: int, sandbox: Sandbox) -> tuple[float, float]:
    started = time.perf_counter()
    inside = 0.0
    for i in range(n):
        r = sandbox.run(PROGRAM, stdin=f"{i} 1\n", timeout_s=10)
        assert stdout_matches(r.stdout, f"{i + 1}\n"), r
        inside += r.seconds
    wall = time.perf_counter() - started
    return n / wall, (wall - inside) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--levels", default="bubblewrap,namespaces", help="isolations to measure, comma-separated")
    args = parser.parse_args()
    results = [measure(level, args.tests, args.rounds) for level in args.levels.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        print(f"trivial stdin/stdout program, {args.tests} tests per round, isolation: {result['isolation']}")
        for i, r in enumerate(result["rounds"], 1):
            print(f"  round {i}: subprocess {r['subprocess_tests_per_s']:>7} tests/s   sandbox {r['sandbox_tests_per_s']:>7} "
                  f"tests/s   ratio {r['ratio']:>5}   sandbox overhead {r['sandbox_overhead_ms_per_test']} ms/test")
        print(f"  median ratio {result['median_ratio']} (target >= 3.0): {'PASS' if result['pass'] else 'FAIL'}")


def measure(level: str, tests: int, rounds: int) -> dict:
    rows = []
    with Sandbox(levels=(level,)) as sandbox, tempfile.TemporaryDirectory() as tmp:
        sandbox_round(20, sandbox)  # warm-up: the server's first fork touches its pages
        for _ in range(rounds):
            base = subprocess_round(tests, Path(tmp))
            fast, overhead = sandbox_round(tests, sandbox)
            rows.append({"subprocess_tests_per_s": round(base, 1), "sandbox_tests_per_s": round(fast, 1),
                         "ratio": round(fast / base, 2), "sandbox_overhead_ms_per_test": round(overhead * 1000, 2)})
    ratio = statistics.median(r["ratio"] for r in rows)
    return {"isolation": level, "tests_per_round": tests, "rounds": rows, "median_ratio": ratio,
            "target": 3.0, "pass": ratio >= 3.0}


if __name__ == "__main__":
    main()
