"""End to end on the embedded teacher: llama.cpp in the rfactory process, SmolLM2 from its wheel."""

from pathlib import Path

from conftest import ECHO_RECIPE, json_out, load_openthoughts, run_cli, write_jsonl, write_recipe

PROBLEMS = [
    {"id": "echo12", "problem": "Echo: \\boxed{12}", "answer": "12"},
    {"id": "add", "problem": "What is 2 + 3?", "answer": "5"},
    {"id": "wrong-ref", "problem": "Echo: \\boxed{7}", "answer": "8"},
]


def test_generate_verify_and_read_back(tmp_path: Path):
    write_jsonl(tmp_path / "problems.jsonl", PROBLEMS)
    recipe = write_recipe(tmp_path / "tiny.yaml", ECHO_RECIPE)
    result = run_cli("generate", "--recipe", str(recipe), "--out", "runs/tiny", "--json", cwd=tmp_path)
    summary = json_out(result)
    gen, ver = summary["generate"], summary["verify"]
    assert gen["problems"] == 3 and gen["new_samples"] == 6 and gen["failed"] == 0
    assert gen["completion_tokens"] > 0
    assert ver["samples"] == 6 and ver["samples_generated"] == 6
    assert sum(ver["failures_by_reason"].values()) + ver["passed"] == 6

    assert ver["passed"] >= 2 and ver["failures_by_reason"]["mismatch"] >= 2
    assert sum(ver["top_reasons"]["mismatch"].values()) == ver["failures_by_reason"]["mismatch"]

    data, meta = load_openthoughts(tmp_path / "runs/tiny/dataset", tmp_path / "hf")
    assert len(data) == ver["kept"] == ver["passed"]
    assert {"echo12"} <= set(meta["problem_id"]) and "wrong-ref" not in set(meta["problem_id"])
    assert all(m["teacher"] == "llamacpp:smollm2" for m in meta)
    assert {m["verdict"] for m in meta} == {"correct"} and all(m["verdict_reason"] for m in meta)

    # The verdicts cover every pair, and the stats file says the same as the summary.
    stats = (tmp_path / "runs/tiny/stats.json").read_text()
    assert f'"pass_rate": {ver["pass_rate"]}' in stats

    # Every verdict, failed ones too, is on disk with what it compared.
    import pyarrow.parquet as pq

    verdicts = pq.read_table(tmp_path / "runs/tiny/verdicts").to_pylist()
    wrong = [v for v in verdicts if v["problem_id"] == "wrong-ref"]
    assert [v["status"] for v in wrong] == ["mismatch", "mismatch"]
    assert {(v["normalised"], v["expected_normalised"]) for v in wrong} == {("7", "8")}

    # `verify` on its own rebuilds the same dataset.
    again = json_out(run_cli("verify", "runs/tiny", "--json", cwd=tmp_path))
    assert again["kept"] == ver["kept"] and again["samples"] == 6

    # SmolLM2 does not reason: the demo keeps its traces without a thought section, and says so.
    assert gen["thought_required"] is False and ver["curation"]["require_thought"] is False
    import json

    assert json.loads((tmp_path / "runs/tiny/run.json").read_text())["recipe"]["output"]["require_thought"] is False
    rerun = run_cli("generate", "--recipe", str(recipe), "--out", "runs/tiny", cwd=tmp_path)  # all done: no engine
    assert rerun.returncode == 0, rerun.stderr
    assert "note: llamacpp:smollm2 is the embedded demo model, which does not reason" in rerun.stdout
