"""`rfactory train-rl` on CPU: real GRPO steps of TRL's GRPOTrainer on the embedded SmolLM2-135M,
rewarded by rfactory's math verifier on problems it sometimes gets right (it echoes a boxed
answer it is shown), killed and resumed; the dry run's plan and reward check; bad recipes and
data refused in one line before any model loads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import RFACTORY, json_out, run_cli, write_jsonl

# The answer in the prompt: SmolLM2 echoes it often enough, not always, so rewards vary.
PROBLEMS = [{"id": "bad", "problem": "Echo: \\boxed{?}",
             "answer": "\\frac{"}]  # a reference no verifier can read: None, not 0
PROBLEMS += [{"id": f"e{n}", "problem": f"Echo: \\boxed{{{n}}}", "answer": str(n)}
             for n in (3, 7, 12, 25)]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rl")
    write_jsonl(root / "echo.jsonl", PROBLEMS)
    assert run_cli("rl-data", "echo.jsonl", "--system", "", "--out", "rl/echo", "-q", cwd=root).returncode == 0
    return root


def test_grpo_steps_killed_resumed_and_finished_with_verifier_rewards(work: Path):
    # four steps, a checkpoint every two: killed once the first checkpoint is complete, then resumed
    args = [*RFACTORY, "train-rl", "--recipe", "rl/smoke", "--data", "rl/echo", "--out", "models/rl", "--json"]
    proc = subprocess.Popen(args, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "200"}, start_new_session=True)
    first = work / "models/rl/checkpoint-2/trainer_state.json"
    deadline = time.monotonic() + 600
    while not first.is_file():
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    model = work / "models/rl"
    assert not (model / "rl-done.json").exists()
    out = json_out(run_cli("train-rl", "--recipe", "rl/smoke", "--data", "rl/echo", "--out", "models/rl", "--json",
                           cwd=work, timeout=900))
    assert out["resumed_from"] == "checkpoint-2" and out["steps"] == 4 and out["steps_this_run"] == 2
    assert out["generation"] == "off" and "last_math_reward" in out and "last_think_format_reward" in out
    assert (model / "model.safetensors").is_file() and (model / "rl-done.json").is_file()

    logged = [h for h in json.loads((model / "checkpoint-4" / "trainer_state.json").read_text())["log_history"]
              if "reward" in h]
    assert [h["step"] for h in logged] == [1, 2, 3, 4] and all("rewards/math_reward/mean" in h for h in logged)
    assert any(h["reward_std"] > 0 for h in logged)  # not constant: GRPO had advantages to learn from
    # the unreadable reference scores None (left out of the mean), never 0: a step that drew it says so
    assert {h["math_reward/none_rate"] for h in logged} - {0.0}

    again = json_out(run_cli("train-rl", "--recipe", "rl/smoke", "--data", "rl/echo", "--out", "models/rl", "--json",
                             cwd=work))
    assert again["already_done"] is True and again["steps"] == 4
    other = run_cli("train-rl", "--recipe", "rl/smoke", "--data", "rl/echo", "--lr", "1e-5", "--out", "models/rl",
                    cwd=work)
    assert other.returncode == 2 and "holds a training run with other settings (train.learning_rate" in other.stderr


def test_the_dry_run_plans_and_scores_one_real_batch_with_every_reward(work: Path):
    out = json_out(run_cli("train-rl", "--recipe", "rl/smoke", "--data", "rl/echo", "--dry-run", "--json", cwd=work))
    plan, probe = out["plan"], out["probe"]
    assert plan["prompts"] == 5 and plan["completions_per_step"] == 8 and plan["accumulation"] == 2
    assert plan["generation"] == "off" and plan["total_steps"] == 4 and plan["parameters"] > 100e6
    math_check = next(c for c in probe["checks"] if c["reward"] == "math")
    assert probe["completions"] == math_check["completions"] == 4 * 4  # four prompts × the group
    # the unreadable reference (the first row) gives None for its 4 completions, never 0
    assert math_check["none_rate"] == pytest.approx(4 / 16)
    assert any(k.endswith("none_rate") for k in math_check["metrics"])
    assert not list((work / "models").glob("rl-smoke*"))  # nothing trained, nothing claimed


def test_bad_recipes_and_data_are_one_line_before_any_model_loads(work: Path):
    write_jsonl(work / "no_prompt.jsonl", [{"question": "1+1?", "solution": "2"}])
    write_jsonl(work / "no_solution.jsonl", [{"prompt": [{"role": "user", "content": "1+1?"}], "answer": "2"}])
    (work / "bad_reward.yaml").write_text("name: x\nmodel: {name: smollm2}\nrewards: [{name: vibes}]\n")
    (work / "bad_batch.yaml").write_text("name: x\nmodel: {name: smollm2}\ntrain: {prompts_per_step: 3, "
                                         "num_generations: 3, micro_batch: 2}\n")
    for args, message in [
        (("--data", "no_prompt.jsonl"), "no `prompt` column"),
        (("--data", "no_solution.jsonl"), "reward math reads column 'solution', which it lacks"),
        (("--recipe", "bad_reward.yaml", "--data", "rl/echo"), "unknown reward 'vibes'"),
        (("--recipe", "bad_batch.yaml", "--data", "rl/echo"), "9 completions is not a multiple of"),
        (("--data", "rl/echo", "--vllm", "colocate"), "TRL 1.16 accepts 0.22.0 to 0.31.0"),
        (("--recipe", "rl/nope", "--data", "rl/echo"), "unknown recipe 'rl/nope'"),
    ]:
        r = run_cli("train-rl", *args, "--out", "models/bad", cwd=work)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and message in lines[0], r.stderr
