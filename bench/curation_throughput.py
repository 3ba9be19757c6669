"""Dedup and decontamination throughput and peak memory at 100k and 1M synthetic problems against a
2k-row synthetic benchmark, beside the naive all-pairs fuzzy baseline on a 10k sample.

    .venv/bin/python bench/curation_throughput.py            # 100k and 1M
    .venv/bin/python bench/curation_throughput.py --sizes 100000

Problems stream from a seeded generator (nothing is held in a list), with planted copies: every
20th problem is an earlier one with one word changed (a near-duplicate), every 200th an exact
copy with other case and spacing, every 100th a benchmark problem (reworded in spacing and case,
or embedded in a longer one). Each stage runs in a fresh process so its peak RSS is its own; the
idle line is that process with the libraries imported and nothing done.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import time
from collections.abc import Iterator

WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "ga", "hi", "jo", "ba", "de",
                             "fu", "wy", "xo", "qe", "co")
         for b in ("ron", "lith", "mar", "set", "dun", "pix", "vel", "gor", "nim", "tash", "bel", "kov", "rud", "sim",
                   "tal", "wex", "yor", "zan", "mip", "lod")]  # 400 made-up words: unrelated problems share few
STOCK = ["Find the value of", "Express your answer as a common fraction.", "Let x be a real number such that",
         "How many positive integers", "What is the probability that"]


def _problem(rng: random.Random) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 45)))
    numbers = " ".join(str(rng.randint(2, 999)) for _ in range(3))
    return f"{rng.choice(STOCK)} {body} with {numbers}. {rng.choice(STOCK)}"


def benchmark(rows: int = 2000) -> list[str]:
    rng = random.Random(7)
    return [_problem(rng) for _ in range(rows)]


def problems(n: int, bench: list[str] | None) -> Iterator[str]:
    """`bench` given: every 100th problem copies a benchmark row; otherwise those are fresh problems too."""
    rng = random.Random(1)
    recent: list[str] = []
    for i in range(n):
        if bench and i % 100 == 99:
            b = bench[(i // 100) % len(bench)]
            yield b.upper().replace(" ", "  ") if i % 200 == 99 else f"Solve the following. {b} Show your work."
        elif i % 200 == 19 and recent:
            yield rng.choice(recent).swapcase().replace(" ", "\t")
        elif i % 20 == 9 and recent:
            words = rng.choice(recent).split(" ")
            k = rng.randrange(8, 25)  # a body word: numbers and stock phrases stay
            words[k] = rng.choice([w for w in WORDS if w != words[k]])
            yield " ".join(words)
        else:
            p = _problem(rng)
            recent = (recent + [p])[-500:]
            yield p


def planted(n: int) -> dict[str, int]:
    return {"contaminated": sum(1 for i in range(n) if i % 100 == 99),
            "exact": sum(1 for i in range(n) if i % 200 == 19),
            "near": sum(1 for i in range(n) if i % 200 != 19 and i % 20 == 9)}


def _peak_mb() -> float:
    """This process's own high-water mark. Not `ru_maxrss`: Linux carries that across fork and
    exec, so a child spawned from a big parent would report the parent's size."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def _stage(name: str, n: int, out: mp.Queue) -> None:
    from rfactory.curate.contamination import BenchmarkIndex
    from rfactory.curate.dedup import dedup

    bench = benchmark()
    start = time.perf_counter()
    if name == "idle":
        out.put({"peak_mb": _peak_mb()})
        return
    if name == "dedup":
        counts = {"exact": 0, "near": 0}
        for d in dedup(problems(n, None)):
            if not d.kept:
                counts[d.reason] += 1
        result = counts
    else:
        index = BenchmarkIndex([("bench", bench)])
        flagged = sum(index.match(p) is not None for p in problems(n, bench))
        result = {"contaminated": flagged}
    seconds = time.perf_counter() - start
    out.put({"seconds": seconds, "per_s": n / seconds, "peak_mb": _peak_mb(), **result})


def run_stage(name: str, n: int) -> dict:
    ctx = mp.get_context("spawn")  # a clean process: its peak RSS is this stage's alone
    q = ctx.Queue()
    p = ctx.Process(target=_stage, args=(name, n, q))
    p.start()
    result = q.get()
    p.join()
    return result


def baseline(sample: int = 10_000, cutoff: float = 95.0) -> dict:
    """The naive way: fuzz.ratio of every pair (rapidfuzz's C++ cdist), within the sample and
    against the whole benchmark, and what it finds."""
    import numpy as np
    from rapidfuzz import fuzz, process

    from rfactory.curate.text import normalize

    bench = [normalize(b) for b in benchmark()]
    texts = [normalize(p) for p in problems(sample, benchmark())]
    start = time.perf_counter()
    against = process.cdist(texts, bench, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8, workers=1)
    bench_s = time.perf_counter() - start
    texts = [normalize(p) for p in problems(sample, None)]
    start = time.perf_counter()
    within = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8, workers=1)
    pairs_s = time.perf_counter() - start
    np.fill_diagonal(within, 0)
    dup = int(np.count_nonzero(np.tril(within).any(axis=1)))  # a row matching an earlier one
    return {"decontaminate_s": bench_s, "decontaminate_per_s": sample / bench_s,
            "contaminated": int(np.count_nonzero(against.any(axis=1))),
            "dedup_s": pairs_s, "dedup_per_s": sample / pairs_s, "duplicates": dup}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--sample", type=int, default=10_000)
    args = ap.parse_args()

    idle = run_stage("idle", 0)["peak_mb"]
    base = baseline(args.sample)
    truth = planted(args.sample)
    print(f"baseline, all-pairs fuzz.ratio >= 95 on a {args.sample:,} sample (1 core):")
    print(f"  decontaminate: {base['decontaminate_per_s']:,.0f} problems/s, {base['contaminated']} of "
          f"{truth['contaminated']} planted found; at 1M: {1e6 / base['decontaminate_per_s'] / 60:,.1f} min")
    print(f"  dedup: {base['dedup_per_s']:,.0f} problems/s over {args.sample:,}, {base['duplicates']} of "
          f"{truth['exact'] + truth['near']} planted found; all pairs grow as n^2: at 1M "
          f"{base['dedup_s'] * (1e6 / args.sample) ** 2 / 3600 / 24:,.1f} days")
    print(f"idle process with rfactory.curate imported: {idle:,.0f} MB peak RSS\n")
    print(f"{'stage':<14}{'problems':>10}{'seconds':>9}{'problems/s':>12}{'vs baseline':>13}{'peak MB':>9}  found / planted")
    for n in args.sizes:
        truth = planted(n)
        for name in ("dedup", "decontaminate"):
            r = run_stage(name, n)
            if name == "dedup":
                found = f"exact {r['exact']:,}/{truth['exact']:,}, near {r['near']:,}/{truth['near']:,}"
                speedup = r["per_s"] / base["dedup_per_s"]
            else:
                found = f"{r['contaminated']:,}/{truth['contaminated']:,}"
                speedup = r["per_s"] / base["decontaminate_per_s"]
            print(f"{name:<14}{n:>10,}{r['seconds']:>9.1f}{r['per_s']:>12,.0f}{speedup:>12.1f}x{r['peak_mb']:>9,.0f}  {found}",
                  flush=True)


if __name__ == "__main__":
    main()
