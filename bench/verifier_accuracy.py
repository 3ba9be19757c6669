#!/usr/bin/env python
"""Benchmark: rfactory's math verifier vs Hugging Face `math-verify` on our labelled corpora.

Both run case by case in a worker process with the same hard deadline (rfactory's deadline
pool), so one verifier hanging on an adversarial input cannot stall the benchmark or hide its
latency. Prints accuracy, false positives, false negatives, cases/s and worst-case latency side
by side, and per family. `math-verify` is optional: `pip install "math-verify[antlr4_13_2]"`.

Run:  .venv/bin/python bench/verifier_accuracy.py [--timeout 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel

from rfactory.verifiers.pool import run_with_deadline

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CORPORA = [DATA / f"math_verifier_{name}.jsonl"
           for name in ("cases", "public_style", "model_outputs", "blind", "recall", "recall_heldout", "recall_blind")]


class Timed(BaseModel):
    passed: bool
    seconds: float


def ours(solution: str, gold: str) -> Timed:
    from rfactory.verifiers.math import verify

    started = time.perf_counter()
    passed = verify(solution, gold).passed
    return Timed(passed=passed, seconds=time.perf_counter() - started)


def hf_math_verify(solution: str, gold: str) -> Timed:
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # it logs every input it gives up on

    started = time.perf_counter()
    passed = bool(verify(parse(gold), parse(solution)))  # math-verify's order: (gold, prediction)
    return Timed(passed=passed, seconds=time.perf_counter() - started)


def measure(fn, cases: list[dict], timeout_s: float) -> dict:
    tasks = ((i, (c["solution"], c["gold"])) for i, c in enumerate(cases))
    verdicts: dict[int, tuple[bool, float, str]] = {}
    started = time.perf_counter()
    for i, status, payload in run_with_deadline(fn, tasks, timeout_s, workers=1):
        if status == "ok":
            verdicts[i] = (payload["passed"], payload["seconds"], "ok")
        else:  # a timeout or a crash never counts as a pass
            verdicts[i] = (False, timeout_s if status == "timeout" else 0.0, status)
    wall = time.perf_counter() - started
    by_family: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fp = fn_ = correct = clear = clear_right = clear_fp = 0
    for i, case in enumerate(cases):
        passed = verdicts[i][0]
        right = passed == case["expected"]
        correct += right
        fp += passed and not case["expected"]
        fn_ += case["expected"] and not passed
        by_family[case["family"]][0] += right
        by_family[case["family"]][1] += 1
        if not case.get("ambiguous") and case["family"] != "ambiguous":
            clear += 1
            clear_right += right
            clear_fp += passed and not case["expected"]
    ordinary = [verdicts[i][1] for i, c in enumerate(cases) if c["family"] != "adversarial"]
    return {
        "accuracy": round(correct / len(cases), 4),
        "false_positives": fp,
        "false_negatives": fn_,
        "unambiguous_accuracy": round(clear_right / clear, 4),
        "unambiguous_false_positives": clear_fp,
        "errors": sum(v[2] != "ok" for v in verdicts.values()),
        "cases_per_s_ordinary": round(len(ordinary) / max(sum(ordinary), 1e-9), 1),
        "worst_latency_s": round(max(v[1] for v in verdicts.values()), 3),
        "wall_s": round(wall, 1),
        "by_family": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_family.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=5.0, help="hard deadline per case, seconds")
    parser.add_argument("--corpus", type=Path, nargs="+", default=CORPORA, help="labelled JSONL files")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cases = [json.loads(line) for path in args.corpus for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = {"cases": len(cases), "rfactory": measure(ours, cases, args.timeout)}
    try:
        import math_verify  # noqa: F401

        results["math-verify"] = measure(hf_math_verify, cases, args.timeout)
    except ImportError:
        results["math-verify"] = None
    if args.json:
        print(json.dumps(results, indent=2))
        return
    names = [n for n in ("rfactory", "math-verify") if results[n]]
    print(f"{len(cases)} labelled cases from {', '.join(p.name for p in args.corpus)}, hard deadline {args.timeout:g}s per case")
    for key in ("accuracy", "false_positives", "false_negatives", "unambiguous_accuracy", "unambiguous_false_positives", "errors", "cases_per_s_ordinary", "worst_latency_s", "wall_s"):
        print(f"  {key:<28}" + "".join(f"{str(results[n][key]):>16}" for n in names))
    print("  per family (right/total):")
    for family in results["rfactory"]["by_family"]:
        print(f"    {family:<28}" + "".join(f"{results[n]['by_family'].get(family, '-'):>12}" for n in names))


if __name__ == "__main__":
    main()
