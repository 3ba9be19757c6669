"""`rfactory train-prm` on CPU: step-labelled data from `label-steps` (planted traces) → the tokens
the trainer reads (labels on each step's separator and nowhere else) → real steps of a
token-classification head on the embedded SmolLM2 → the trained PRM scoring a held-out solution,
and choosing among an eval's samples, through the code path `eval --select prm:` uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import json_out, run_cli, write_jsonl, write_recipe
from rfactory.testing.fake_openai import FakeOpenAIThread

GENERATE = """
name: traces
problems: {{source: problems.jsonl, columns: {{id: id}}}}
teacher: {{spec: "openai:fake", options: {{base_url: "{base_url}"}}}}
sampling: {{samples: 1}}
"""
TRACES = {
    "p1": ["Add the two numbers.", "Then double it (wrong).", "So the answer is \\boxed{7}."],
    "p2": ["Add the two numbers.", "Check the sum.", "So the answer is \\boxed{6}."],
    "p3": ["Start by squaring (wrong).", "Take the root.", "Subtract one.", "So the answer is \\boxed{9}."],
}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("prm")
    write_jsonl(root / "problems.jsonl", [{"id": pid, "problem": f"Compute it. [trace={'|'.join(s)}][continue=6]",
                                           "answer": "6"} for pid, s in TRACES.items()])
    with FakeOpenAIThread() as api:
        write_recipe(root / "r.yaml", GENERATE.format(base_url=api.base_url))
        assert run_cli("generate", "-r", "r.yaml", "--out", "run", "-q", cwd=root).returncode == 0
        assert run_cli("label-steps", "run", "--completer", "openai:fake", "--base-url", api.base_url, "--rollouts", "2",
                       "--out", "prm/steps", "-q", cwd=root).returncode == 0
        yield root, api


def test_labels_sit_on_each_separator_last_token_and_nowhere_else(work):
    from rfactory.models import smollm2_folder
    from rfactory.prm.data import IGNORE, encode
    from rfactory.prm.recipe import load_prm_recipe
    from transformers import AutoTokenizer

    root, _ = work
    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder("test"))
    recipe = load_prm_recipe("prm/smoke", {"data": [{"source": str(root / "prm/steps")}]})
    dataset, report = encode(recipe, tokenizer)
    assert report.traces == 3 and report.steps == sum(map(len, TRACES.values())) == 10
    separator_end = tokenizer("\n\n", add_special_tokens=False)["input_ids"][-1]
    for row in dataset:
        labelled = [(i, x) for i, x in enumerate(row["labels"]) if x != IGNORE]
        text = tokenizer.decode(row["input_ids"])
        (steps,) = [s for s in TRACES.values() if text.endswith("\n\n".join(s) + "\n\n")]
        assert all(row["input_ids"][i] == separator_end for i, _ in labelled)
        # the text up to each labelled position ends exactly with that step and its separator
        for n, (i, _) in enumerate(labelled):
            assert tokenizer.decode(row["input_ids"][: i + 1]).endswith(steps[n] + "\n\n")
        wrong = next((n for n, s in enumerate(steps) if "(wrong)" in s), None)
        assert [x for _, x in labelled] == [int(wrong is None or n < wrong) for n in range(len(steps))]


def test_train_prm_runs_real_steps_then_scores_a_held_out_solution_and_picks_among_samples(work, tmp_path: Path):
    from rfactory.stepwise import PRMScorer

    root, api = work
    plan = json_out(run_cli("train-prm", "--data", "prm/steps", "--dry-run", "--json", cwd=root))
    assert plan["data"]["traces"] == 3 and plan["data"]["steps"] == 10 and plan["total_steps"] == 4
    out = json_out(run_cli("train-prm", "--data", "prm/steps", "--out", "models/prm", "--json", cwd=root, timeout=900))
    assert out["steps"] == 4 and out["labelled_steps"] == 10 and out["last_loss"] is not None
    assert json_out(run_cli("train-prm", "--data", "prm/steps", "--out", "models/prm", "--json", cwd=root))["already_done"]

    scores = PRMScorer(str(root / "models/prm")).score("Compute it.", ["Add them.", "Check it.", "So \\boxed{6}."])
    assert len(scores.steps) == 3 and all(0 < p < 1 for p in scores.steps)

    write_jsonl(root / "ev.jsonl", [{"id": "q1", "problem": "What is 2+3? [answers=5|4|5|6]", "answer": "5"},
                                    {"id": "q2", "problem": "What is 3+3? [answers=1|6|7|6]", "answer": "6"}])
    res = json_out(run_cli("eval", "--model", "openai:fake", "--base-url", api.base_url, "--bench", "ev.jsonl", "-n", "4",
                           "--select", "prm:models/prm", "--select", "prm-prod:models/prm", "--out", "e", "--json",
                           cwd=root))
    selection = res["benchmarks"][0]["selection"]
    assert set(selection) == {"prm:models/prm", "prm-prod:models/prm"} and set(selection["prm:models/prm"]) == {"1", "2", "3", "4"}
    cached = json.loads((root / "e/ev.jsonl/prm-scores.json").read_text())
    (per_sample,) = cached.values()
    assert {pid: len(v) for pid, v in per_sample.items()} == {"q1": 4, "q2": 4}  # every sample scored once, kept
    bad = run_cli("eval", "--model", "openai:fake", "--base-url", api.base_url, "--bench", "ev.jsonl",
                  "--select", "prm:models/nope", "--out", "e2", cwd=root)
    assert bad.returncode == 2 and "no model folder there" in bad.stderr
