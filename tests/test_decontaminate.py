"""`rfactory decontaminate` on a problem file against a small benchmark-like file written here:
planted copies (exact, whitespace/case, reordered, embedded, lightly edited, too short for an
8-gram) are caught with the benchmark row they copy; problems sharing only stock phrases are not."""

from __future__ import annotations

import json

from conftest import json_out, run_cli, write_jsonl

BENCH = [
    "Let $x$ be a real number such that $x + \\frac{1}{x} = 3$. Find $x^3 + \\frac{1}{x^3}$.",
    "A bag contains 5 red marbles and 7 blue marbles. Three marbles are drawn at random without replacement. "
    "What is the probability that all three are red? Express your answer as a common fraction.",
    "Triangle $ABC$ has $AB = 13$, $BC = 14$ and $CA = 15$. The incircle touches $BC$ at $D$. "
    "Find the length of $BD$.",
    "Evaluate 17 x 23.",
    "How many positive integers less than 1000 are divisible by 7 but not by 11?",
    "The polynomial $p(x) = x^3 - 6x^2 + 11x - 6$ has three real roots $r$, $s$ and $t$. "
    "Compute $r^2 + s^2 + t^2$ and explain which identity you used.",
]

PLANTED = {  # problem → (benchmark row, method)
    BENCH[4]: (4, "ngram"),
    "  how MANY positive integers less than 1000\nare divisible by 7   but not by 11 ?": (4, "ngram"),
    "The incircle touches $BC$ at $D$. Triangle $ABC$ has $AB = 13$, $BC = 14$ and $CA = 15$. Find the length of $BD$.": (2, "ngram"),
    "Solve this carefully. " + BENCH[1] + " Show all of your work.": (1, "ngram"),
    BENCH[5].replace("explain which identity", "say which identity"): (5, "ngram"),
    "evaluate  17 x 23 .": (3, "fuzzy"),
}
CLEAN = [
    # the stock openings and closings of BENCH, around other problems
    "Let $x$ be a real number such that $x^2 - 5x + 6 = 0$. Find the sum of all possible values of $x$.",
    "A jar holds 4 green and 6 yellow candies. Two are taken at random. What is the probability that both are green? "
    "Express your answer as a common fraction.",
    "How many positive integers less than 500 are perfect squares?",
    "Evaluate 19 x 21.",  # as short as a planted copy, other numbers
    "Find the number of ordered pairs of positive integers $(a, b)$ with $a + b = 30$.",
]


def test_planted_copies_are_caught_and_stock_phrases_are_not(tmp_path):
    write_jsonl(tmp_path / "bench.jsonl", [{"question": q, "answer": "?"} for q in BENCH])
    problems = [{"id": f"c{i}", "problem": p} for i, p in enumerate(CLEAN)]
    problems += [{"id": f"x{i}", "problem": p} for i, p in enumerate(PLANTED)]
    write_jsonl(tmp_path / "p.jsonl", problems)
    summary = json_out(run_cli("decontaminate", "p.jsonl", "--against", "bench.jsonl", "--out", "clean.jsonl",
                               "--json", cwd=tmp_path))
    kept = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert kept == problems[: len(CLEAN)]  # rows come out unchanged
    report = [json.loads(line) for line in (tmp_path / "clean.contamination.jsonl").read_text().splitlines()]
    expected = [(len(CLEAN) + i, "bench.jsonl", row, method) for i, (row, method) in enumerate(PLANTED.values())]
    assert [(r["row"], r["benchmark"], r["benchmark_row"], r["method"]) for r in report] == expected
    assert all(r["benchmark_problem"] == BENCH[r["benchmark_row"]] for r in report)
    assert summary | {"out": None, "report": None} == {
        "rows": len(problems), "kept": len(CLEAN), "flagged": len(PLANTED), "by_benchmark": {"bench.jsonl": len(PLANTED)},
        "out": None, "report": None}


def test_benchmark_columns_and_bad_benchmarks(tmp_path):
    write_jsonl(tmp_path / "bench.jsonl", [{"q": BENCH[4]}])
    write_jsonl(tmp_path / "p.jsonl", [{"problem": BENCH[4]}, {"problem": CLEAN[0]}])
    summary = json_out(run_cli("decontaminate", "p.jsonl", "--against", "bench.jsonl:q", "--out", "o.jsonl", "--json",
                               cwd=tmp_path))
    assert (summary["kept"], summary["flagged"]) == (1, 1)
    for against, needle in (("bench.jsonl", "bench.jsonl: row 0: no problem column (looked for problem"),
                            ("bench.jsonl:text", "bench.jsonl: row 0: field 'text': missing or not text"),
                            ("nothing-here", "--against nothing-here: not a file, a Hub dataset")):
        result = run_cli("decontaminate", "p.jsonl", "--against", against, "--out", "bad.jsonl", cwd=tmp_path)
        assert result.returncode == 2 and needle in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.jsonl").exists()
    result = run_cli("decontaminate", "p.jsonl", "--against", "bench.jsonl:q", cwd=tmp_path)
    assert result.returncode == 2 and "give --out" in result.stderr
