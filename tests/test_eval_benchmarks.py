"""The ready definitions beyond math, read from the loopback Hub with the real repo ids, files,
splits and columns they name: GPQA-Diamond (options shuffled with a stored seed per problem),
LiveCodeBench (release files, a contest-date window, pickled private tests) and HumanEval; then
whole evals on them against the fault-injecting teacher, whose planted answers make every figure,
best-of-n selection by public tests included, checkable by hand."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from conftest import json_out, run_cli, write_jsonl
from rfactory.benchmarks import BENCHMARKS
from rfactory.testing.fake_hub import FakeHub
from rfactory.testing.fake_openai import FakeOpenAIThread
from rfactory.verifiers.choice import chosen_letter, verify


@pytest.mark.parametrize("solution, letter", [
    ("Weighing them all, B fits best.\n\nAnswer: B", "B"),
    ("Answer: (C)", "C"),
    ("Answer: D) the second isomer", "D"),
    ("The final answer is $\\boxed{A}$", "A"),
    ("**Answer: C**", "C"),
    ("At first A looks right. Answer: A\n\nBut the sign is wrong, so Answer: C", "C"),  # the last statement counts
    ("After all that:\n\nB", "B"),  # a last line that is only a letter
    ("A and B are both plausible; I cannot decide.", None),  # never the first letter mentioned
    ("Answer: Because the entropy rises.", None),  # a word is not a letter
])
def test_the_letter_a_solution_settles_on(solution, letter):
    assert chosen_letter(solution) == letter


def test_choice_verdicts():
    assert verify("Answer: B", "B").status == "correct"
    assert (v := verify("Answer: A", "(B)")).status == "mismatch" and v.expected == "B" and v.extracted == "A"
    assert verify("no idea", "B").status == "no_answer"
    assert verify("Answer: B", "banana").status == "gold_unparseable"


def lcb_private(cases: list[dict]) -> str:
    """Exactly what LiveCodeBench's dataset holds in `private_test_cases`."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode()


SUM = "a, b = map(int, input().split()); print(a + b)"
CONST = "print(3)"  # passes the public test only
CRASH = "print(1 / 0)"


def lcb_row(qid: str, day: str, text: str, **extra) -> dict:
    return {"question_title": qid, "question_content": text, "platform": "atcoder", "question_id": qid,
            "contest_id": qid.split("_")[0], "contest_date": f"{day}T00:00:00", "starter_code": "",
            "difficulty": "easy", "metadata": "{}",
            "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
            "private_test_cases": lcb_private([{"input": "10 -4\n", "output": "6\n", "testtype": "stdin"},
                                               {"input": "0 0\n", "output": "0\n", "testtype": "stdin"}]), **extra}


# Each problem's four samples, in the order they are asked (one request in flight).
PLANTED_CODE = {
    "abc1_a": [CRASH, CONST, SUM, CRASH],  # the public tests pick CONST over SUM (tied, earlier): wrong
    "abc2_a": [CRASH, SUM, CONST, CONST],  # picks SUM from k = 2 on
    "abc3_a": [SUM] * 4,
}
# `List` with no import, as LeetCode's judge allows (no brackets: the tag ends at the first `]`)
LEETCODE = "class Solution:\\n    def total(self, nums: List) -> int:\\n        return sum(nums)"


def lcb_files() -> dict[str, bytes]:
    """Release files as the Hub holds them: v5 reads test.jsonl … test5.jsonl, never test6.jsonl."""
    def jsonl(rows): return "".join(json.dumps(r) + "\n" for r in rows).encode()
    # `--select distinguish`: the model writes two inputs and judges a + b's output right
    planted = [lcb_row(qid, "2024-09-1" + qid[3], f"Print a + b. [code][answers={'|'.join(progs)}]"
                                                  "[inputs=5 7|0 0][right=12|0]")
               for qid, progs in PLANTED_CODE.items()]
    leetcode = lcb_row("3000", "2024-12-01", f"Return the sum of nums. [code][answers={LEETCODE}][inputs=[3, 4]|[]]",
                       platform="leetcode", starter_code="class Solution:\n    def total(self, nums: List[int]) -> int:\n",
                       metadata=json.dumps({"func_name": "total"}),
                       public_test_cases=json.dumps([{"input": "[1, 2]", "output": "3", "testtype": "functional"}]),
                       private_test_cases=lcb_private([{"input": "[5, -1, 2]", "output": "6", "testtype": "functional"}]))
    return {
        "test.jsonl": jsonl([lcb_row("old1_a", "2023-05-01", "Too old.")]),
        "test2.jsonl": jsonl(planted[:2]),
        "test4.jsonl": jsonl([planted[2], lcb_row("late_a", "2025-02-03", "After the window.")]),
        "test5.jsonl": jsonl([leetcode]),
        "test6.jsonl": jsonl([lcb_row("v6_a", "2024-10-01", "Only in release_v6.")]),
        "test3.jsonl": jsonl([lcb_row("old3_a", "2024-07-31", "A day before the window.")]),
    }


def gpqa_csv() -> bytes:
    import csv

    buf = io.StringIO()
    w = csv.DictWriter(buf, ["Record ID", "Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
                             "Incorrect Answer 3", "Subdomain"])
    w.writeheader()
    for i in range(198):
        w.writerow({"Record ID": f"rec{i:03d}", "Question": f"Which is right, {i}? [answers=A|B|C|D]",
                    "Correct Answer": f"right {i}", "Incorrect Answer 1": f"wrong {i}.1",
                    "Incorrect Answer 2": f"wrong {i}.2", "Incorrect Answer 3": f"wrong {i}.3", "Subdomain": "x"})
    return buf.getvalue().encode()


def humaneval_parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"task_id": f"HumanEval/{i}", "prompt": f"def add{i}(a, b):\n    \"\"\"a + b\"\"\"\n",
             "canonical_solution": "    return a + b\n", "entry_point": f"add{i}",
             "test": f"def check(candidate):\n    assert candidate(2, {i}) == {2 + i}\n"} for i in range(164)]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    with FakeHub() as h:
        h.add_repo(BENCHMARKS["gpqa-diamond"].repo, {"gpqa_diamond.csv": gpqa_csv(), "gpqa_main.csv": b"x,y\n1,2\n"})
        h.add_repo(BENCHMARKS["livecodebench"].repo, lcb_files())
        h.add_repo(BENCHMARKS["humaneval"].repo, {"openai_humaneval/test-00000-of-00001.parquet": humaneval_parquet()})
        yield h, {"HF_ENDPOINT": h.url, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(root / "hf"),
                  "HF_DATASETS_CACHE": str(root / "hfd")}


LOAD = """
import json, sys
from rfactory.benchmarks import load_eval_benchmark
from rfactory.errors import UserError
out = []
for name, release, dates in json.loads(sys.argv[1]):
    try:
        b = load_eval_benchmark(name, release=release, dates=tuple(dates) if dates else None)
        out.append({"problems": [p.model_dump(exclude_none=True) for p in b.problems], "revision": b.revision,
                    "hash": b.content_hash})
    except UserError as e:
        out.append({"error": str(e)})
print(json.dumps(out))
"""


def load(env: dict, *asks: tuple) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", LOAD, json.dumps(asks)], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_gpqa_livecodebench_and_humaneval_read_as_defined(hub):
    h, env = hub
    gpqa, again, lcb, v6, humaneval, bad = load(
        env, ("gpqa-diamond", None, None), ("gpqa-diamond", None, None), ("livecodebench", None, None),
        ("livecodebench", "release_v6", ["2024-10", None]), ("humaneval", None, None),
        ("livecodebench", None, ["2024-13", None]))

    # GPQA: 198 problems, four lettered options each, the right one where its stored letter says
    assert len(gpqa["problems"]) == 198 and gpqa["revision"] == h.repos[BENCHMARKS["gpqa-diamond"].repo].head[0]
    letters = set()
    for p in gpqa["problems"]:
        i = int(p["id"][3:])
        options = dict(re.findall(r"^([A-D])\) (.*)$", p["problem"], re.M))
        assert sorted(options.values()) == sorted([f"right {i}", f"wrong {i}.1", f"wrong {i}.2", f"wrong {i}.3"])
        assert options[p["answer"]] == f"right {i}"
        letters.add(p["answer"])
    assert letters == set("ABCD")  # shuffled: the right option is not always first
    assert again == gpqa  # the seed is the problem's own: the same order every time

    # LiveCodeBench v5, 2024-08 … 2025-01: only rows of test.jsonl … test5.jsonl in the window
    assert [p["id"] for p in lcb["problems"]] == ["abc1_a", "abc2_a", "abc3_a", "3000"]
    first = lcb["problems"][0]
    hidden, public = json.loads(first["answer"]), json.loads(first["public_tests"])
    assert [c["input"] for c in hidden["stdio"]] == ["1 2\n", "10 -4\n", "0 0\n"]  # the private ones decoded
    assert [c["input"] for c in public["stdio"]] == ["1 2\n"]
    assert json.loads(lcb["problems"][3]["answer"])["fn_name"] == "total"
    assert sorted(p["id"] for p in v6["problems"]) == ["3000", "late_a", "v6_a"]  # v6 reads test6.jsonl too
    assert "bound '2024-13'" in bad["error"]

    # HumanEval: 164 tasks, the prompt as starter code, its tests run against the entry point
    assert len(humaneval["problems"]) == 164
    task = humaneval["problems"][7]
    assert task["id"] == "HumanEval/7" and task["starter_code"].startswith("def add7(a, b):")
    assert json.loads(task["answer"])["entry_point"] == "add7" and "`add7`" in task["problem"]


def eval_args(api, *more: str) -> list[str]:
    return ["eval", "--model", "openai:fake", "--base-url", api.base_url, "-n", "4", "--json", *more]


def test_gpqa_eval_scores_the_planted_letters_and_stores_the_seeds(hub, tmp_path: Path):
    h, env = hub
    with FakeOpenAIThread() as api:
        res = json_out(run_cli(*eval_args(api, "--bench", "gpqa-diamond", "--out", "e", "--select", "majority",
                                          "--select", "verifier"), cwd=tmp_path, env=env))
        (r,) = res["benchmarks"]
        # four samples answer A, B, C, D: exactly one is right whatever the shuffle
        assert r["scores"]["avg_at_n"]["mean"] == pytest.approx(0.25)
        assert r["scores"]["pass_at"]["4"] == pytest.approx(1.0)
        assert r["scores"]["maj_at"]["4"] == pytest.approx(0.25)  # a four-way tie, one right
        assert r["selection"]["majority"] == r["scores"]["maj_at"] and r["selection"]["verifier"] == r["scores"]["pass_at"]
        assert r["kind"] == "choice" and len(r["choice_seeds"]) == 198
        assert r["revision"] == h.repos[BENCHMARKS["gpqa-diamond"].repo].head[0]
        problems = [json.loads(line) for line in (tmp_path / "e/gpqa-diamond/problems.jsonl").read_text().splitlines()]
        assert {p["id"]: p["choice_seed"] for p in problems} == r["choice_seeds"]
        assert (tmp_path / "e/scaling-gpqa-diamond.png").stat().st_size > 1000
        assert "scaling-gpqa-diamond.png" in (tmp_path / "e/report.md").read_text()
        asked = api.fake.requests
        # a rerun reads the problems from the eval folder, with the Hub unreachable, and asks nothing
        offline = {**env, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1"}
        again = json_out(run_cli(*eval_args(api, "--bench", "gpqa-diamond", "--out", "e"), cwd=tmp_path, env=offline))
        assert api.fake.requests == asked and again["benchmarks"][0]["scores"] == r["scores"]


def test_livecodebench_eval_selects_by_public_tests_and_scores_on_hidden_ones(hub, tmp_path: Path):
    _, env = hub
    with FakeOpenAIThread() as api:
        # one request in flight: the planted programs arrive in sample order
        res = json_out(run_cli(*eval_args(api, "--bench", "livecodebench", "--out", "e", "--concurrency", "1",
                                          "--select", "tests", "--select", "verifier"), cwd=tmp_path, env=env))
    (r,) = res["benchmarks"]
    assert r["kind"] == "code" and r["problems"] == 4
    assert r["scores"]["rates"] == {"abc1_a": 0.25, "abc2_a": 0.25, "abc3_a": 1.0, "3000": 1.0}
    o = r["outcomes"]
    assert (o["right"], o["wrong_answer"], o["crashed"], o["no_answer"]) == (10, 3, 3, 0)
    # S*-style: the candidate passing the most public tests, the earliest of those tied
    # abc1: CRASH | CONST (picked from k=2, wrong) ; abc2: CRASH | SUM (picked from k=2, right); abc3 and 3000 always
    assert r["selection"]["tests"] == {"1": 0.5, "2": 0.75, "3": 0.75, "4": 0.75}
    assert r["selection"]["verifier"] == r["scores"]["pass_at"]
    assert r["selection"]["tests"]["4"] < r["selection"]["verifier"]["4"] == 1.0  # below the oracle: abc1's pick
    assert "maj_at" not in r["scores"] or not r["scores"]["maj_at"]
    cached = json.loads((tmp_path / "e/livecodebench/public_tests.json").read_text())
    assert cached["abc1_a"] == {"0": 0, "1": 1, "2": 1, "3": 0}


def test_livecodebench_eval_breaks_public_test_ties_on_inputs_the_model_writes(hub, tmp_path: Path):
    _, env = hub
    with FakeOpenAIThread() as api:
        args = eval_args(api, "--bench", "livecodebench", "--out", "e", "--concurrency", "1", "--select", "tests",
                         "--select", "distinguish")
        res = json_out(run_cli(*args, cwd=tmp_path, env=env))
        asked = api.fake.requests
        again = json_out(run_cli(*args, cwd=tmp_path, env=env))
        assert api.fake.requests == asked  # inputs, outputs and judgments are all kept: a rerun asks nothing
    (r,) = res["benchmarks"]
    assert again["benchmarks"][0]["selection"] == r["selection"]
    # abc1 [CRASH, CONST, SUM, CRASH]: CONST and SUM tie on the public test from k = 3; on "5 7" CONST prints 3
    # and SUM 12, the judge says SUM. abc2 [CRASH, SUM, CONST, CONST]: at k = 4 CONST's cluster is the larger and
    # holds the title, and loses it to SUM
    assert r["selection"]["tests"] == {"1": 0.5, "2": 0.75, "3": 0.75, "4": 0.75}
    assert r["selection"]["distinguish"] == {"1": 0.5, "2": 0.75, "3": 1.0, "4": 1.0}
    folder = tmp_path / "e/livecodebench/distinguish"
    outputs = json.loads((folder / "outputs.json").read_text())
    assert outputs["abc1_a"]["1"] == [["ok", "3"], ["ok", "3"]] and outputs["abc1_a"]["2"] == [["ok", "12"], ["ok", "0"]]
    assert sorted(outputs["abc1_a"]) == ["1", "2"]  # only candidates that tie run: CRASH never does
    assert outputs["3000"]["0"] == [["ok", "7"], ["ok", "0"]]  # a LeetCode call: total([3, 4]), total([])
    inputs = [json.loads(x) for x in (folder / "inputs/problems.jsonl").read_text().splitlines()]
    assert sorted(q["id"] for q in inputs) == ["3000", "abc1_a", "abc2_a", "abc3_a"]  # each tied at some k
    judged = [json.loads(x)["problem"] for x in (folder / "judge/problems.jsonl").read_text().splitlines()]
    shown = [tuple(re.findall(r"Output [AB]:\n```\n(.*?)\n```", q)) for q in judged]
    assert sorted(shown) == [("12", "3"), ("3", "12"), ("3", "12")]  # abc1 at k = 3 and 4 share one judgment
    assert all("Input:\n```\n5 7\n```" in q for q in judged)


def test_strategies_a_benchmark_cannot_have_are_refused_before_any_work(hub, tmp_path: Path):
    _, env = hub
    write_jsonl(tmp_path / "m.jsonl", [{"id": "a", "problem": "1+1?", "answer": "2"}])
    for args, message in [
        (("--bench", "livecodebench", "--select", "majority"), "--select majority: livecodebench is a code benchmark"),
        (("--bench", "m.jsonl", "--select", "tests"), "--select tests: m.jsonl has no public tests"),
        (("--bench", "m.jsonl", "--release", "release_v5"), "--release and --dates choose LiveCodeBench's problems"),
        (("--bench", "livecodebench", "--release", "release_v9"), "unknown LiveCodeBench release 'release_v9'"),
        (("--bench", "m.jsonl", "--option", "dtype"), "--option dtype: expected KEY=VALUE"),
        (("--bench", "livecodebench", "--dates", "2024"), "--dates 2024: expected START..END"),
    ]:
        r = run_cli("eval", "--model", "openai:fake", "--base-url", "http://127.0.0.1:9/v1", *args, "--out", "x",
                    cwd=tmp_path, env=env)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and message in lines[0], r.stderr
