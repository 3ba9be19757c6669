"""`rfactory eval` end to end: planted answers from the fault-injecting teacher make every figure
checkable by hand; ready definitions read from the loopback Hub with the real repo ids, splits
and columns they name; an interrupted eval resumes without asking a pair twice; `compare`
finds a planted difference and none between equals; and the embedded engine runs it for real."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import json_out, kill_when, run_cli, write_jsonl
from rfactory.testing.fake_openai import FakeOpenAIThread

# id: the four samples' answers, and the reference. [length] stops at max_tokens with no answer.
PLANTED = {
    "a": ("5|5|4|5", "5"),  # 3 of 4
    "b": ("3|3|3|3", "2"),  # none: the majority is wrong
    "c": ("9|9|9|9", "9"),  # all
    "d": ("1|7|7|1", "7"),  # 2 of 4, a tie
}


def bench_file(root: Path, rows: dict = PLANTED, extra: str = "") -> Path:
    return write_jsonl(root / "bench.jsonl", [{"id": pid, "problem": f"Problem {pid}. [answers={a}]{extra}", "answer": gold}
                                              for pid, (a, gold) in rows.items()])


def eval_cli(api, root: Path, *args: str, out: str = "evals/m", n: int = 4):
    return run_cli("eval", "--model", "openai:fake", "--base-url", api.base_url, "--bench", "bench.jsonl",
                   "-n", str(n), "--out", out, *args, cwd=root)


def test_scores_equal_a_hand_count_from_the_verdicts(tmp_path: Path):
    bench_file(tmp_path)
    with FakeOpenAIThread() as api:
        res = json_out(eval_cli(api, tmp_path, "--json"))
    (r,) = res["benchmarks"]
    right = {"a": 3, "b": 0, "c": 4, "d": 2}
    assert (r["problems"], r["samples"]) == (4, 4)
    assert r["scores"]["avg_at_n"]["mean"] == pytest.approx(sum(c / 4 for c in right.values()) / 4)
    for k in range(1, 5):  # the estimator on known counts, k = n and a problem with no pass included
        direct = sum(1 - math.comb(4 - c, k) / math.comb(4, k) for c in right.values()) / 4
        assert r["scores"]["pass_at"][str(k)] == pytest.approx(direct)
    # maj@4: a right (3 of 4), b wrong, c right, d a 2-2 tie between 1 and 7: half
    assert r["scores"]["maj_at"]["4"] == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    assert r["scores"]["rates"] == {"a": 0.75, "b": 0.0, "c": 1.0, "d": 0.5}
    assert r["outcomes"] == {"right": 9, "wrong_answer": 7, "no_answer": 0, "unparsed": 0, "timeout": 0, "crashed": 0,
                             "truncated": 0, "missing": 0, "sandbox_error": 0}
    assert r["temperature"] == 0.6 and r["max_tokens"] == 32768 and len(r["content_hash"]) == 16
    assert res["model"]["engine"].startswith("OpenAI-compatible API at http://127.0.0.1:")
    saved = json.loads((tmp_path / "evals/m/results.json").read_text())
    assert saved["benchmarks"][0]["scores"] == r["scores"]
    report = (tmp_path / "evals/m/report.md").read_text()
    assert "| bench.jsonl | 4 | 4 | 56.2 |" in report and r["content_hash"] in report


def test_truncation_and_failed_generations_are_counted_apart(tmp_path: Path):
    write_jsonl(tmp_path / "bench.jsonl", [
        {"id": "a", "problem": "Problem a. [answers=5]", "answer": "5"},
        {"id": "cut", "problem": "Problem cut. [length]", "answer": "5"},
        {"id": "down", "problem": "Problem down. [always500]", "answer": "5"},
    ])
    with FakeOpenAIThread() as api:
        res = json_out(eval_cli(api, tmp_path, "--json", n=1))
    (r,) = res["benchmarks"]
    o = r["outcomes"]
    assert (o["right"], o["no_answer"], o["truncated"], o["missing"]) == (1, 1, 1, 1)
    assert r["scores"]["problems"] == 2  # the failed problem has no sample to score: missing, not wrong
    assert any("1 samples failed to generate (1 problems have none)" in w for w in r["warnings"])


def test_an_interrupted_eval_resumes_without_asking_a_pair_twice(tmp_path: Path):
    rows = {f"p{i}": ("4|4|4|4", "4") for i in range(60)}
    bench_file(tmp_path, rows)
    with FakeOpenAIThread(delay_s=0.05) as api:
        args = ["eval", "--model", "openai:fake", "--base-url", api.base_url, "--bench", "bench.jsonl", "-n", "4",
                "--out", "evals/m", "--concurrency", "4", "-q"]
        kill_when(args, tmp_path, tmp_path / "evals/m/bench.jsonl", at_least=30)
        asked = sum(api.fake.attempts.values())
        res = json_out(run_cli(*args[:-1], "--json", cwd=tmp_path))
        # every pair once, plus at most what was in flight at the kill
        assert sum(api.fake.attempts.values()) <= 240 + 4 and max(api.fake.attempts.values()) <= 2
        assert asked < 240
        finished = sum(api.fake.attempts.values())
        again = json_out(run_cli(*args[:-1], "--json", cwd=tmp_path))  # all done: nothing asked
        assert sum(api.fake.attempts.values()) == finished
    assert res["benchmarks"][0]["scores"]["avg_at_n"]["mean"] == 1.0
    assert again["benchmarks"][0]["scores"] == res["benchmarks"][0]["scores"]


def test_compare_reports_a_planted_difference_and_none_between_equals(tmp_path: Path):
    weak = {f"p{i}": ("1|1|1|1" if i % 2 else "1|2|2|2", "1") for i in range(40)}
    strong = {f"p{i}": ("1|1|1|1", "1") for i in range(40)}
    with FakeOpenAIThread() as api:
        bench_file(tmp_path, weak)
        json_out(eval_cli(api, tmp_path, "--json", out="evals/weak"))
        json_out(eval_cli(api, tmp_path, "--json", out="evals/weak-again"))
        bench_file(tmp_path, strong)
        json_out(eval_cli(api, tmp_path, "--json", out="evals/strong"))
    found = json.loads(run_cli("eval", "compare", "evals/strong", "evals/weak", "--json", cwd=tmp_path).stdout)
    assert found[0]["difference"]["significant"] and found[0]["difference"]["mean"] == pytest.approx(0.375)
    assert not found[0]["same_problems"]  # the planted answers changed the problem texts
    none = json.loads(run_cli("eval", "compare", "evals/weak", "evals/weak-again", "--json", cwd=tmp_path).stdout)
    assert none[0]["difference"]["mean"] == 0.0 and not none[0]["difference"]["significant"] and none[0]["same_problems"]
    table = run_cli("eval", "compare", "evals/strong", "evals/weak", cwd=tmp_path)
    assert table.returncode == 0 and "yes" in table.stdout


def test_bad_input_is_one_line(tmp_path: Path):
    bench_file(tmp_path)
    for args, message in [
        ((), "error: eval: name at least one --bench"),
        (("--bench", "nothing-here"), "error: --bench nothing-here: not a file, a Hub dataset (org/name) or a known benchmark"),
        (("--bench", "bench.jsonl", "--answer-column", "nope"), "error: bench.jsonl: row 0: field 'nope': missing"),
    ]:
        r = run_cli("eval", "--model", "openai:fake", "--base-url", "http://127.0.0.1:9/v1", *args, "--out", "e", cwd=tmp_path)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(message), r.stderr
    r = run_cli("eval", "compare", "nowhere", "e", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "error: nowhere: no results.json; run `rfactory eval ... --out nowhere` first"


LOAD = """
import json, sys
from rfactory.benchmarks import load_eval_benchmark
from rfactory.errors import UserError
out = {}
for name in sys.argv[1:]:
    try:
        b = load_eval_benchmark(name)
        out[name] = {"n": len(b.problems), "repo": b.definition.repo, "revision": b.revision,
                     "first": b.problems[0].model_dump(exclude_none=True), "hash": b.content_hash}
    except UserError as e:
        out[name] = {"error": str(e)}
print(json.dumps(out))
"""


def test_ready_definitions_read_the_exact_slice_from_the_hub(tmp_path: Path):
    import subprocess
    import sys

    from rfactory.benchmarks import BENCHMARKS
    from rfactory.testing.fake_hub import FakeHub

    def rows(n: int, **extra) -> bytes:
        return "".join(json.dumps({"id": i, "problem": f"Problem {i}?", "answer": str(i), **extra}) + "\n"
                       for i in range(n)).encode()

    amc = "".join(json.dumps({"id": i, "problem": f"AMC {i}", "answer": float(i + 1),
                              "url": f"https://aops.com/{2022 + i % 3}_AMC_{i}"}) + "\n" for i in range(120))
    with FakeHub() as hub:
        hub.add_repo(BENCHMARKS["aime2024"].repo, {"train.jsonl": rows(30)})
        hub.add_repo(BENCHMARKS["math500"].repo, {"test.jsonl": "".join(
            json.dumps({"unique_id": f"test/{i}.json", "problem": f"P{i}", "answer": "1", "subject": "x"}) + "\n"
            for i in range(499)).encode()})
        hub.add_repo(BENCHMARKS["amc23"].repo, {"train.jsonl": amc.encode()})
        env = {**__import__("os").environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1",
               "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_CACHE": str(tmp_path / "hfd")}
        done = subprocess.run([sys.executable, "-c", LOAD, "aime2024", "amc23", "math500", "aime2025"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        got = json.loads(done.stdout.strip().splitlines()[-1])
        head = hub.repos[BENCHMARKS["aime2024"].repo].head[0]
    assert got["aime2024"]["n"] == 30 and got["aime2024"]["revision"] == head  # pinned to the commit read
    assert got["aime2024"]["first"] == {"id": "0", "problem": "Problem 0?", "answer": "0"}
    assert got["amc23"]["n"] == 40  # the 2023 rows of 120, and 2.0 read as 2
    assert got["amc23"]["first"]["answer"] == "2" and got["amc23"]["first"]["id"] == "1"
    assert "499 problems where the benchmark has 500" in got["math500"]["error"]
    assert "benchmark aime2025 (yentinglin/aime_2025): cannot load" in got["aime2025"]["error"]


@pytest.mark.slow
def test_the_embedded_engine_end_to_end(tmp_path: Path):
    write_jsonl(tmp_path / "bench.jsonl", [{"id": "e1", "problem": "What is 2 + 3?", "answer": "5"},
                                           {"id": "e2", "problem": "What is 10 - 4?", "answer": "6"}])
    res = json_out(run_cli("eval", "--model", "llamacpp:smollm2", "--bench", "bench.jsonl", "-n", "2",
                           "--max-tokens", "64", "--out", "evals/s", "--json", cwd=tmp_path))
    (r,) = res["benchmarks"]
    import pyarrow.parquet as pq

    verdicts = pq.read_table(tmp_path / "evals/s/bench.jsonl/verdicts").to_pylist()
    assert len(verdicts) == 4 and r["outcomes"]["right"] == sum(v["passed"] for v in verdicts)
    assert r["scores"]["avg_at_n"]["mean"] == pytest.approx(sum(v["passed"] for v in verdicts) / 4)
    assert res["model"]["engine"].startswith("llama-cpp-python ")


def test_push_puts_the_report_into_the_model_card_and_replaces_it_on_the_next_push(tmp_path: Path):
    from rfactory.testing.fake_hub import MODEL, FakeHub

    bench_file(tmp_path)
    card = "---\nlicense: mit\n---\n# My model\n\nTrained with care.\n"
    with FakeOpenAIThread() as api, FakeHub() as hub:
        hub.add_repo(MODEL + "me/student", {"README.md": card.encode(), "model.safetensors": b"weights"})
        env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(tmp_path / "hf")}
        json_out(eval_cli(api, tmp_path, "--json", "--select", "majority"))
        first = json_out(run_cli("eval", "push", "evals/m", "--repo", "me/student", "--json", cwd=tmp_path, env=env))
        files = hub.files(MODEL + "me/student")
        readme = files["README.md"].decode()
        assert readme.startswith(card) and "## Evaluation of `openai:fake`" in readme and "### bench.jsonl" in readme
        assert "![bench.jsonl: accuracy against n](evals/scaling-bench.jsonl.png)" in readme
        assert files["evals/scaling-bench.jsonl.png"] == (tmp_path / "evals/m/scaling-bench.jsonl.png").read_bytes()
        assert json.loads(files["evals/results.json"]) == json.loads((tmp_path / "evals/m/results.json").read_text())
        assert files["model.safetensors"] == b"weights" and first["commit"] == hub.repos[MODEL + "me/student"].head[0]
        # a second eval of the same model: its section replaces the first, the authors' text stays
        json_out(eval_cli(api, tmp_path, "--json", out="evals/m2", n=2))
        json_out(run_cli("eval", "push", "evals/m2", "--repo", "me/student", "--json", cwd=tmp_path, env=env))
        readme = hub.files(MODEL + "me/student")["README.md"].decode()
        assert readme.count("<!-- rfactory:eval -->") == 1 and readme.startswith(card) and "| bench.jsonl | 4 | 2 |" in readme
        no_token = run_cli("eval", "push", "evals/m", "--repo", "me/student", cwd=tmp_path,
                           env={**env, "HF_TOKEN": "", "HF_HOME": str(tmp_path / "empty")})
        assert no_token.returncode == 2 and no_token.stderr.strip() == \
            "error: no Hugging Face token: set HF_TOKEN or log in with `hf auth login`"
