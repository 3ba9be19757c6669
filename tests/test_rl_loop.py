"""One turn of the loop the README shows, with rfactory's commands alone, on the embedded model:
traces from a teacher → SFT → RL data from the run's pass rates → GRPO → the RL'd model as the
next teacher (vLLM's CPU build) → verify → SFT on both rounds."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import json_out, run_cli, write_jsonl, write_recipe
from test_vllm_teacher import CPU_ENV

# SmolLM2 echoes "Echo: \boxed{k}" when shown it (tests/conftest.py); some references are wrong on
# purpose, so the run has pass rates between 0 and 1.
PROBLEMS = [{"id": f"e{k}", "problem": f"Echo: \\boxed{{{k}}}", "answer": str(k if k % 3 else k + 100)}
            for k in range(1, 7)]

TEACHER = """
name: {name}
problems: {{source: problems.jsonl, columns: {{id: id}}}}
teacher: {{spec: "{teacher}", options: {options}}}
prompt: {{teacher_system: null, user_template: "{{problem}}"}}
sampling: {{samples: 2, max_tokens: 40, temperature: 0.7, stop: ["\\n"]}}
output: {{require_thought: false}}  # SmolLM2 does not think, before RL or after
"""


def rfactory(root: Path, *args: str) -> dict:
    """A step of the loop, with a datasets cache of this test's own."""
    return json_out(run_cli(*args, "--json", cwd=root, env={**CPU_ENV, "HF_DATASETS_CACHE": str(root / "hfd")},
                            timeout=900))


def generate(root: Path, name: str, teacher: str, options: str) -> dict:
    write_recipe(root / f"{name}.yaml", TEACHER.format(name=name, teacher=teacher, options=options))
    return rfactory(root, "generate", "-r", f"{name}.yaml", "--out", f"runs/{name}")


def test_sft_then_rl_then_the_new_model_as_teacher_then_sft_again(tmp_path: Path):
    write_jsonl(tmp_path / "problems.jsonl", PROBLEMS)
    r0 = generate(tmp_path, "r0", "llamacpp:smollm2", "{n_ctx: 1024}")
    assert r0["verify"]["passed"] > 0

    sft0 = rfactory(tmp_path, "train-sft", "--recipe", "sft/smoke", "--data", "runs/r0", "--max-steps", "1",
                    "--out", "models/sft0")
    assert sft0["steps"] == 1

    rl = rfactory(tmp_path, "rl-data", "runs/r0", "--system", "", "--out", "rl/r1")
    assert rl["rows"] == len(PROBLEMS) and rl["pass_rates"]["known"] == len(PROBLEMS)

    rl1 = rfactory(tmp_path, "train-rl", "--recipe", "rl/smoke", "--model", "models/sft0", "--data", "rl/r1",
                   "--max-steps", "1", "--out", "models/rl1")
    assert rl1["steps"] == 1 and (tmp_path / "models/rl1/model.safetensors").is_file()

    r1 = generate(tmp_path, "r1", "vllm:models/rl1", "{dtype: float32, max_model_len: 1024, enforce_eager: true}")
    assert r1["generate"]["new_samples"] == 2 * len(PROBLEMS) and r1["verify"]["samples"] == 2 * len(PROBLEMS)
    run = json.loads((tmp_path / "runs/r1/run.json").read_text())
    assert run["recipe"]["teacher"]["spec"] == "vllm:models/rl1"

    sft1 = rfactory(tmp_path, "train-sft", "--recipe", "sft/smoke", "--data", "runs/r0", "--data", "runs/r1",
                    "--max-steps", "1", "--out", "models/sft1")
    assert sft1["steps"] == 1 and sft1["examples"] == r0["verify"]["kept"] + r1["verify"]["kept"]
