"""What the vLLM benchmarks share (`vllm_throughput.py`, `eval_throughput.py`): their flags, vLLM's
CPU settings, and each side run in a process of its own (the script re-invoked with `--side`),
so each engine has the machine to itself and reports one JSON line."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

RESULT = "bench-result: "

CPU_ENV = {
    "VLLM_CPU_OMP_THREADS_BIND": f"0-{(os.cpu_count() or 1) - 1}",
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
    "VLLM_CPU_KVCACHE_SPACE": "4",
    "HF_HUB_OFFLINE": "1",
}


def parser(doc: str, problems: int, rounds: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--side", choices=["direct", "rfactory"])
    p.add_argument("--work")
    p.add_argument("--model", default="smollm2")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--problems", type=int, default=problems)
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--max-model-len", type=int, default=1024)
    p.add_argument("--enforce-eager", action="store_true", default=None)
    p.add_argument("--rounds", type=int, default=rounds)
    p.add_argument("--gpu", action="store_true", help="leave vLLM's CPU settings alone")
    return p


def parse(p: argparse.ArgumentParser, sides: dict[str, Callable[[argparse.Namespace, Path], dict]]
          ) -> argparse.Namespace | None:
    """The flags; None when this process was one side (`--side`), which has run and reported."""
    args = p.parse_args()
    if args.enforce_eager is None:
        args.enforce_eager = not args.gpu
    if args.side:
        print(RESULT + json.dumps(sides[args.side](args, Path(args.work))), flush=True)  # vLLM logs to stdout too
        return None
    return args


def run_side(script: str, side: str, args: argparse.Namespace, work: Path) -> dict:
    env = dict(os.environ)
    if not args.gpu:
        for key, value in CPU_ENV.items():
            env.setdefault(key, value)
    cmd = [sys.executable, script, "--side", side, "--work", str(work), "--model", args.model, "--dtype", args.dtype,
           "--problems", str(args.problems), "--samples", str(args.samples), "--max-tokens", str(args.max_tokens),
           "--max-model-len", str(args.max_model_len), *(["--enforce-eager"] if args.enforce_eager else [])]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-3000:])
        raise SystemExit(f"the {side} side failed (exit {result.returncode})")
    return json.loads(next(line for line in reversed(result.stdout.splitlines()) if line.startswith(RESULT))[len(RESULT):])


def rounds(script: str, args: argparse.Namespace, prepare: Callable[[Path], None]) -> list[dict]:
    """`args.rounds` rounds of direct then rfactory, each side in a fresh folder `prepare` fills;
    each row with its ratio of generated tokens/s (rfactory / direct)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="vllm-bench-") as tmp:
        for r in range(args.rounds):
            sides = {}
            for side in ("direct", "rfactory"):
                work = Path(tmp) / f"{side}-{r}"
                work.mkdir()
                prepare(work)
                sides[side] = run_side(script, side, args, work)
            d, f = sides["direct"], sides["rfactory"]
            rows.append({"round": r, "direct": d, "rfactory": f,
                         "ratio": (f["tokens"] / f["seconds"]) / (d["tokens"] / d["seconds"])})
    return rows
