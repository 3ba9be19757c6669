"""`rfactory label-steps`: step labels from verified rollouts.

Planted traces (the fault-injecting teacher's `[trace=…]`, continued by `[continue=…]`, which
reaches the answer unless a step shown says "(wrong)") make every label and rollout count
checkable by hand: binary search finds linear search's first errors with fewer rollouts, a judge
that disagrees is flagged or dropped. Then the embedded model as the completer: labels recomputed
from the stored rollouts, a labelling killed mid-round resumed without asking a rollout twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import json_out, kill_when, run_cli, write_jsonl, write_recipe
from rfactory.runstore import Run
from rfactory.testing.fake_hub import FakeHub
from rfactory.testing.fake_openai import FakeOpenAIThread

GENERATE = """
name: traces
problems: {{source: problems.jsonl, columns: {{id: id}}}}
teacher: {{spec: "openai:fake", options: {{base_url: "{base_url}"}}}}
sampling: {{samples: 1}}
"""

# id: (steps, reference, the judge's first wrong step). Rollouts reach 6 from a prefix without "(wrong)".
PLANTED = {
    "p1": (["Add the two numbers.", "Carry the one.", "Then double it (wrong).", "Subtract one.",
            "So the answer is \\boxed{7}."], "6", 3),
    "p2": (["Add the two numbers.", "Check the sum.", "So the answer is \\boxed{6}."], "6", 0),
    "p3": (["Start by squaring (wrong).", "Take the root.", "So the answer is \\boxed{9}."], "6", 2),
}
FIRST_ERROR = {"p1": 2, "p2": None, "p3": 0}


def load(folder: Path, config: str, cache: Path) -> list[dict]:
    import datasets

    return list(datasets.load_dataset("parquet", data_files=str(folder / config / "train-*.parquet"), split="train",
                                      cache_dir=str(cache)))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("prm")
    write_jsonl(root / "problems.jsonl", [
        {"id": pid, "problem": f"Compute it. [trace={'|'.join(steps)}][continue=6][firstwrong={judge}]", "answer": gold}
        for pid, (steps, gold, judge) in PLANTED.items()])
    with FakeOpenAIThread() as api:
        write_recipe(root / "r.yaml", GENERATE.format(base_url=api.base_url))
        assert run_cli("generate", "-r", "r.yaml", "--out", "run", "-q", cwd=root).returncode == 0
        yield root, api


def label(root: Path, api, out: str, *more: str) -> dict:
    return json_out(run_cli("label-steps", "run", "--completer", "openai:fake", "--base-url", api.base_url,
                            "--rollouts", "4", "--out", out, "--json", *more, cwd=root))


def test_binary_search_finds_linear_search_first_errors_with_fewer_rollouts(planted, tmp_path: Path):
    root, api = planted
    linear = label(root, api, "prm/linear", "--search", "linear")
    binary = label(root, api, "prm/binary")
    # linear: every prefix but the whole, 4 each: (5-1) + (3-1) + (3-1) prefixes
    assert linear["cost"]["rollouts"] == 4 * (4 + 2 + 2) == 32
    # binary: p1 probes prefix 2 (right at once: 2) then 3 (4 failures); p2 reached the answer (none); p3 probes 1 (4)
    assert binary["cost"]["rollouts"] == (2 + 4) + 0 + 4 == 10
    data = {s: {r["problem_id"]: (d, r) for d, r in zip(load(root / f"prm/{s}/dataset", "data", tmp_path / s),
                                                         load(root / f"prm/{s}/dataset", "metadata", tmp_path / f"{s}m"))}
            for s in ("linear", "binary")}
    for pid, (steps, _, _) in PLANTED.items():
        (d_lin, m_lin), (d_bin, m_bin) = data["linear"][pid], data["binary"][pid]
        assert d_lin["completions"] == steps and d_lin["prompt"].startswith("Compute it.")
        first = FIRST_ERROR[pid]
        want = [True] * len(steps) if first is None else [i < first for i in range(len(steps))]
        assert d_lin["labels"] == d_bin["labels"] == want
        assert m_lin["first_error"] == m_bin["first_error"] == first
        assert m_lin["reached_answer"] == (first is None)
    # soft labels: every prefix of linear's measured; binary's only where it probed
    assert data["linear"]["p1"][1]["soft_labels"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert data["binary"]["p1"][1]["soft_labels"] == [None, 1.0, 0.0, None, 0.0]
    assert data["binary"]["p1"][1]["rollouts"] == [0, 2, 4, 0, 0]
    assert binary["first_error_by_step"] == {"1": 1, "3": 1} and binary["label_balance"] == pytest.approx(5 / 11)
    card = (root / "prm/binary/dataset/README.md").read_text()
    assert "config_name: metadata" in card and "binary search for the first wrong step" in card

    # a rerun asks nothing: every rollout is in the run store and judged
    asked = api.fake.requests
    again = label(root, api, "prm/binary")
    assert api.fake.requests == asked and again["cost"]["rollouts"] == 10


def test_a_judge_that_disagrees_is_flagged_or_dropped_and_the_set_pushed(planted, tmp_path: Path):
    root, api = planted
    flagged = label(root, api, "prm/judged", "--judge", "openai:fake")
    assert flagged["traces"] == 3 and flagged["judge"] == "67% of 3 traces read"
    meta = {m["problem_id"]: m for m in load(root / "prm/judged/dataset", "metadata", tmp_path / "c")}
    assert {p: (m["judge_first_error"], m["judge_agrees"]) for p, m in meta.items()} == {
        "p1": (2, True), "p2": (None, True), "p3": (1, False)}  # p3's judge names step 2, the rollouts step 1
    dropped = label(root, api, "prm/judged", "--judge", "openai:fake", "--consensus", "drop")
    assert dropped["traces"] == 2 and dropped["skipped"] == {"judge_disagrees": 1}

    with FakeHub() as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(tmp_path / "hf")}
        pushed = json_out(run_cli("push", "prm/judged", "--repo", "me/steps", "--json", cwd=root, env=env))
        assert pushed["changed"] is True
        assert {"README.md", "data/train-00000-of-00001.parquet", "metadata/train-00000-of-00001.parquet"} <= set(
            hub.files("me/steps"))


def test_a_token_cap_stops_the_rollouts_and_a_larger_one_continues(planted):
    root, api = planted
    args = ["label-steps", "run", "--completer", "openai:fake", "--base-url", api.base_url, "--rollouts", "4",
            "--search", "linear", "--out", "prm/capped", "--concurrency", "1", "--max-tokens", "50"]
    stopped = run_cli(*args, "--max-tokens-total", "1500", cwd=root)
    assert stopped.returncode == 3 and "stopped at the budget" in stopped.stderr and "rerun with a larger cap" in stopped.stderr
    asked = len(list(Run.open(root / "prm/capped/rollouts").iter_latest_samples(["problem_id"])))
    assert 0 < asked < 32 and not (root / "prm/capped/dataset").exists()
    done = json_out(run_cli(*args, "--max-tokens-total", "100000", "--json", cwd=root))
    assert done["cost"]["rollouts"] == 32 and done["first_error_by_step"] == {"1": 1, "3": 1}


def test_bad_input_is_one_line(planted, tmp_path: Path):
    root, api = planted
    write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "problem": "1+1?", "answer": "2"}])
    for args, message in [
        (("run", "--search", "ternary"), "--search ternary: expected binary or linear"),
        (("run", "--split", "regex"), "--split regex: expected blank, marker, or regex with --pattern"),
        (("nope",), "nope: not a run folder"),
        (("run", "--max-steps", "1"), "no trace to label (too_many_steps 3)"),
    ]:
        r = run_cli("label-steps", *args, "--completer", "openai:fake", "--base-url", api.base_url, "--out",
                    str(tmp_path / "x"), cwd=root)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and message in lines[0], r.stderr


# SmolLM2 echoes a boxed answer it is shown (conftest); some references are wrong on purpose.
EMBEDDED = """
name: echo
problems: {source: problems.jsonl, columns: {id: id}}
teacher: {spec: "llamacpp:smollm2", options: {n_ctx: 2048}}
prompt: {teacher_system: null, user_template: "{problem}"}
sampling: {samples: 2, max_tokens: 64, temperature: 0.8}
"""


def test_the_embedded_completer_labels_match_its_stored_rollouts_and_a_killed_run_resumes(tmp_path: Path):
    from rfactory.verifiers.math import verify

    write_jsonl(tmp_path / "problems.jsonl", [
        {"id": f"e{k}", "problem": f"Echo: \\boxed{{{k}}}\n\nThen explain it in two short paragraphs.",
         "answer": str(k if k % 2 else k + 50)} for k in range(1, 7)])
    write_recipe(tmp_path / "r.yaml", EMBEDDED)
    assert run_cli("generate", "-r", "r.yaml", "--out", "run", "-q", cwd=tmp_path).returncode == 0
    args = ["label-steps", "run", "--completer", "llamacpp:smollm2", "--option", "n_ctx=2048", "--rollouts", "2",
            "--search", "linear", "--max-tokens", "40", "--concurrency", "1", "--out", "prm", "--json"]
    kill_when(args, tmp_path, tmp_path / "prm" / "rollouts", at_least=3, within_s=600)
    out = json_out(run_cli(*args, cwd=tmp_path, timeout=900))
    assert out["traces"] >= 1

    # every (prefix, rollout) asked once, across the killed and the resumed invocations
    rollouts = Run.open(tmp_path / "prm" / "rollouts")
    keys = [(pid, i) for b in rollouts.iter_sample_batches(["problem_id", "sample_index"])
            for pid, i in zip(b.column(0).to_pylist(), b.column(1).to_pylist())]
    assert len(keys) == len(set(keys)) == out["cost"]["rollouts"]

    # labels by hand: each prefix's rollouts re-verified here, any / share; the whole trace by its verdict
    results: dict[str, list[bool]] = {}
    for r in rollouts.iter_latest_samples(["problem_id", "sample_index", "solution", "reference_answer"]):
        results.setdefault(r["problem_id"], []).append(verify(r["solution"] or "", r["reference_answer"]).passed)
    data = load(tmp_path / "prm" / "dataset", "data", tmp_path / "c1")
    meta = load(tmp_path / "prm" / "dataset", "metadata", tmp_path / "c2")
    assert len(data) == out["traces"]
    for d, m in zip(data, meta):
        steps, reached = len(d["completions"]), m["reached_answer"]
        prefixes = [results[f"{m['problem_id']}:{m['sample_index']}:{k}"] for k in range(1, steps)]
        assert d["labels"] == [reached or any(p) for p in prefixes] + [reached]
        assert m["soft_labels"] == [sum(p) / len(p) for p in prefixes] + [1.0 if reached else 0.0]
        assert m["rollouts"] == [2] * (steps - 1) + [0]
