"""`rfactory train-sft` on CPU: real TRL steps on a tiny random Qwen2 (SmolLM2's tokenizer, built
here from the embedded GGUF), over shards made by the real `generate` + `verify` commands."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from rfactory.sft.prepare import prepare
from rfactory.sft.recipe import load_sft_recipe
from rfactory.sft.train import build_trainer
from rfactory.testing.fake_hub import FakeHub
from rfactory.testing.fake_openai import FakeOpenAIThread
from rfactory.testing.tiny_model import build_model_folder, smollm2_tokenizer

from conftest import RFACTORY, json_out, run_cli, write_jsonl

GENERATE = """
name: traces
problems: {{source: problems.jsonl, columns: {{id: id}}}}
teacher: {{spec: "openai:fake", options: {{base_url: "{base_url}"}}}}
sampling: {{samples: 2}}
"""

# The smoke recipe, shrunk so a step takes a fraction of a second on two cores.
TINY = """
name: tiny
model: {{name: tiny}}
data: [{{source: m1, weight: {weight}}}]
train:
  max_steps: {steps}
  learning_rate: 3.0e-3
  warmup_ratio: 0.0
  lr_scheduler: constant
  global_batch: 2
  micro_batch: 1
  max_length: 512
  packing: {packing}
  gradient_checkpointing: false
checkpoints: {{every_steps: 2, keep: 2}}
"""

# Qwen2.5-32B-Instruct's published shape: the plan needs only its config, never its weights.
QWEN25_32B = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 5120, "intermediate_size": 27648,
    "num_hidden_layers": 64, "num_attention_heads": 40, "num_key_value_heads": 8, "vocab_size": 152064,
    "max_position_embeddings": 32768, "tie_word_embeddings": False, "rms_norm_eps": 1e-6,
}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A tiny model, and run m1: 40 problems × 2 samples, generated and verified."""
    root = tmp_path_factory.mktemp("sft")
    tokenizer = smollm2_tokenizer()
    build_model_folder(root / "tiny", tokenizer=tokenizer)
    tokenizer.save_pretrained(root / "tokenizer-only")
    write_jsonl(root / "problems.jsonl", [
        {"id": f"p{i}", "problem": f"What is {i} + {i}? [answer={2 * i}]", "answer": str(2 * i)} for i in range(1, 41)
    ])
    with FakeOpenAIThread() as api:
        (root / "gen.yaml").write_text(GENERATE.format(base_url=api.base_url))
        assert run_cli("generate", "-r", "gen.yaml", "--out", "m1", "-q", cwd=root).returncode == 0
    return root


def write_recipe(root: Path, name: str, weight: float = 1.0, steps: int = 8, packing: bool = True) -> str:
    (root / name).write_text(TINY.format(weight=weight, steps=steps, packing=str(packing).lower()))
    return name


def shard_rows(root: Path) -> list[dict]:
    rows = []
    for shard in sorted((root / "m1" / "dataset" / "data").glob("*.parquet")):
        rows.extend(pq.read_table(shard).to_pylist())
    return rows


def losses(out: Path) -> list[float]:
    newest = max(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    state = json.loads((newest / "trainer_state.json").read_text())
    return [h["loss"] for h in state["log_history"] if "loss" in h]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


@pytest.fixture(scope="module")
def reference(work) -> dict:
    """12 steps, uninterrupted, on 8 examples seen 3 times: the run the others are compared with."""
    recipe = write_recipe(work, "ref.yaml", weight=0.1, steps=12)
    return json_out(run_cli("train-sft", "-r", recipe, "--out", "ref", "--json", cwd=work))


def test_loss_is_finite_and_falls_on_repeated_data(work, reference):
    assert reference["steps"] == 12 and reference["resumed_from"] is None and reference["examples"] == 8
    history = losses(work / "ref")
    assert len(history) == 12 and all(math.isfinite(x) for x in history)
    assert sum(history[-3:]) / 3 < sum(history[:3]) / 3 - 1.0, history
    # The saved model is the trained one: it fits a training example better than the initial weights.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(work / "ref")
    row = shard_rows(work)[0]
    messages = [{"role": "system", "content": row["system"]}] + [
        {"role": "user" if t["from"] == "user" else "assistant", "content": t["value"]} for t in row["conversations"]
    ]
    ids = torch.tensor([tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]])
    with torch.no_grad():
        before = AutoModelForCausalLM.from_pretrained(work / "tiny")(input_ids=ids, labels=ids).loss
        after = AutoModelForCausalLM.from_pretrained(work / "ref")(input_ids=ids, labels=ids).loss
    assert after < before - 1.0


def test_a_finished_run_is_reported_not_repeated_and_other_settings_are_refused(work, reference):
    again = json_out(run_cli("train-sft", "-r", "ref.yaml", "--out", "ref", "--json", cwd=work))
    assert again["already_done"] is True and again["steps"] == 12
    other = run_cli("train-sft", "-r", "ref.yaml", "--out", "ref", "--lr", "0.01", cwd=work)
    assert other.returncode == 2
    assert other.stderr.strip().splitlines()[-1] == (
        "error: ref: holds a training run with other settings (train.learning_rate: 0.003 then, 0.01 now); "
        "give another --out, or delete the folder to start over"
    )


def _prepared_trainer(work: Path, tmp_path: Path, packing: bool):
    recipe = load_sft_recipe(str(work / write_recipe(work, f"mask-{packing}.yaml", packing=packing)), {
        "model.name": str(work / "tiny"), "data": [{"source": str(work / "m1")}], "train.micro_batch": 2,
        "train.global_batch": 2, "train.max_length": 2048,  # ~6 examples to a packed sequence
    })
    prepared = prepare(recipe)
    return prepared, build_trainer(prepared, tmp_path / "out", cuda=False)


def _segments(row: dict) -> list[tuple[list[int], list[int]]]:
    """(input_ids, labels) of each example in a prepared row: one, or several when packed."""
    ids, labels = row["input_ids"], row["labels"]
    bounds = row.get("seq_lengths") or [len(ids)]
    out, start = [], 0
    for n in bounds:
        out.append((ids[start:start + n], labels[start:start + n]))
        start += n
    return out


@pytest.mark.parametrize("packing", [False, True], ids=["unpacked", "packed"])
def test_only_assistant_tokens_carry_the_loss(work, tmp_path, packing):
    prepared, trainer = _prepared_trainer(work, tmp_path, packing)
    tokenizer = prepared.tokenizer
    expected = {}
    for row in shard_rows(work):
        user, assistant = row["conversations"][0]["value"], row["conversations"][1]["value"]
        prompt = f"<|im_start|>system\n{row['system']}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
        expected[prompt] = assistant + "<|im_end|>"
    seen = 0
    rows = trainer.train_dataset
    assert ("seq_lengths" in rows.column_names) == packing
    for row in rows:
        for ids, labels in _segments(row):
            trained = tokenizer.decode([t for t, label in zip(ids, labels) if label != -100])
            untrained = tokenizer.decode([t for t, label in zip(ids, labels) if label == -100])
            # System and user turns (and the assistant header) are all masked; the answer and its
            # end-of-turn token are all trained; only the newline after it is left out.
            assert untrained.endswith("\n") and expected[untrained[:-1]] == trained
            seen += 1
    assert seen == prepared.plan.examples == 80
    if packing:
        assert len(rows) == prepared.plan.sequences < 80

    # The trainer's own loss on a real batch is cross-entropy over exactly those tokens.
    batch = next(iter(trainer.get_train_dataloader()))
    model = trainer.model.eval()
    with torch.no_grad():
        loss = trainer.compute_loss(model, dict(batch))
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[0 if packing else slice(None)]
    labels = batch["labels"]
    targets = labels[..., 1:].reshape(-1)
    manual = torch.nn.functional.cross_entropy(
        logits.reshape(*labels.shape, -1)[..., :-1, :].reshape(targets.numel(), -1), targets, ignore_index=-100
    )
    assert (targets != -100).sum() < targets.numel() / 2  # most tokens are prompt: the mask matters
    assert torch.allclose(loss, manual, atol=1e-5)


def test_packed_examples_do_not_attend_to_each_other(work, tmp_path):
    prepared, trainer = _prepared_trainer(work, tmp_path, packing=True)
    batch = next(iter(trainer.get_train_dataloader()))
    model = trainer.model.eval()
    positions = batch["position_ids"][0]
    starts = (positions == 0).nonzero().flatten().tolist() + [len(positions)]
    assert len(starts) > 3  # several examples share this sequence
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        for a, b in zip(starts, starts[1:]):
            alone = model(input_ids=batch["input_ids"][:, a:b]).logits[0]
            assert (packed[a:b] - alone).abs().max() < 1e-4


def test_a_killed_run_resumes_from_its_last_complete_checkpoint_and_ends_where_an_unbroken_run_does(work, reference):
    recipe = write_recipe(work, "ref.yaml", weight=0.1, steps=12)  # the reference's own recipe
    proc = subprocess.Popen([*RFACTORY, "train-sft", "-r", recipe, "--out", "killed", "-q"], cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (work / "killed" / "checkpoint-4" / "trainer_state.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (work / "killed" / "sft-done.json").exists()
    newest = max(int(p.name.split("-")[1]) for p in (work / "killed").glob("checkpoint-*"))
    # A checkpoint the kill left half-written: it must be neither loaded nor kept.
    partial = work / "killed" / f"checkpoint-{newest + 1}"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"\0" * 100)

    resumed = json_out(run_cli("train-sft", "-r", recipe, "--out", "killed", "--json", cwd=work))
    assert resumed["resumed_from"].startswith("checkpoint-") and 4 <= int(resumed["resumed_from"][11:]) < 12
    assert resumed["steps"] == 12 and resumed["steps_this_run"] == 12 - int(resumed["resumed_from"][11:])
    assert not partial.exists() or (partial / "trainer_state.json").exists()
    assert losses(work / "killed") == pytest.approx(losses(work / "ref"), rel=1e-4)
    final, unbroken = weights(work / "killed"), weights(work / "ref")
    assert final.keys() == unbroken.keys()
    for name in final:
        assert torch.allclose(final[name], unbroken[name], atol=1e-5), name


def test_two_processes_train_like_one_with_the_same_global_batch(work, reference):
    # The same global batch of 2, split over two processes: the same steps (constant learning rate,
    # so 4 steps are the reference's first 4).
    two = json_out(run_cli("train-sft", "-r", "ref.yaml", "--out", "two", "--gpus", "2", "--max-steps", "4",
                           "--json", cwd=work))
    assert two["steps"] == 4
    assert losses(work / "two") == pytest.approx(losses(work / "ref")[:4], rel=1e-3)


def test_lora_trains_adapters_only_and_pushes_the_final_model(work):
    recipe = write_recipe(work, "lora.yaml", weight=0.1, steps=2)
    with FakeHub(token="hf_sft_marker_token") as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(work / "hf")}
        result = run_cli("train-sft", "-r", recipe, "--lora", "--out", "lora", "--push-to", "me/tiny-lora", "--json",
                         cwd=work, env=env)
        done = json_out(result)
        pushed = hub.files("model:me/tiny-lora")
        assert hub.repos["model:me/tiny-lora"].private  # the recipe's push.private default
    assert 0 < done["trainable"] < done["parameters"] / 10
    assert done["steps"] == 2 and math.isfinite(done["last_loss"]) and done["pushed"]
    local = work / "lora"
    assert (local / "adapter_model.safetensors").is_file() and not (local / "model.safetensors").exists()
    assert pushed["adapter_model.safetensors"] == (local / "adapter_model.safetensors").read_bytes()
    assert "adapter_config.json" in pushed and "tokenizer.json" in pushed
    assert not [p for p in pushed if p.startswith("checkpoint-")]
    assert hub.token not in result.stdout + result.stderr
    assert not [p for p in pushed if hub.token.encode() in pushed[p]]


def test_dry_run_reports_examples_over_max_length_and_packing(work):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(work / "tiny")  # the model's own, as training loads it
    lengths = []
    for row in shard_rows(work):
        messages = [{"role": "system", "content": row["system"]}] + [
            {"role": t["from"], "content": t["value"]} for t in row["conversations"]]
        lengths.append(len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]))
    limit = max(lengths) - 1  # the longest examples (two-digit problems) are over
    over = [n for n in lengths if n > limit]
    plan = json_out(run_cli("train-sft", "-r", write_recipe(work, "len.yaml"), "--max-length", str(limit),
                            "--dry-run", "--json", cwd=work))
    assert plan["overlong"]["count"] == len(over) > 0 and plan["overlong"]["longest"] == max(over)
    assert plan["overlong"]["longest_at"].startswith("m1 row ")
    assert plan["examples"] == 80 - len(over) and plan["tokens"] == sum(n for n in lengths if n <= limit)
    assert plan["longest"] <= limit and plan["sequences"] >= math.ceil(plan["tokens"] / limit)

    refused = run_cli("train-sft", "-r", "len.yaml", "--max-length", str(limit), "--overlong", "error", "--dry-run", cwd=work)
    assert refused.returncode == 2
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith("error: m1 row ") and f"{max(over):,} tokens, over train.max_length {limit:,}" in line


def test_the_plan_for_sky_t1_32b_fits_8_gpus_only_with_zero3_offload(work):
    folder = work / "qwen25-32b"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(QWEN25_32B))
    for f in (work / "tokenizer-only").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    h, inter, layers, vocab, kv = 5120, 27648, 64, 152064, 8 * 128
    per_layer = h * h + h + 2 * (h * kv + kv) + h * h + 3 * h * inter + 2 * h
    expected = layers * per_layer + 2 * vocab * h + h

    # Packed into full 16k-token sequences, as long reasoning traces fill them.
    args = ["train-sft", "-r", "sft/sky-t1-32b", "--model", str(folder), "--data", "m1", "--packing", "--dry-run", "--json"]
    plan = json_out(run_cli(*args, cwd=work))
    assert plan["parameters"] == expected and 32.7e9 < expected < 32.8e9
    assert (plan["global_batch"], plan["micro_batch"], plan["processes"], plan["accumulation"]) == (96, 1, 8, 12)
    assert plan["strategy"] == "zero3_offload" and plan["fits"] and plan["memory"]["total_gb"] < 80
    assert plan["memory"]["cpu_optimizer_gb"] == pytest.approx(12 * expected / 1024**3, rel=1e-6)
    assert plan["total_steps"] == 3 and plan["examples"] == 80  # 80 examples: one step of 96 per epoch

    refused = run_cli(*args, "--strategy", "zero3", cwd=work)  # the optimizer state back on the GPUs
    assert refused.returncode == 2 and json.loads(refused.stdout)["fits"] is False
    assert refused.stderr.strip().splitlines()[-1].startswith("error: plan needs ~")



def test_hub_datasets_and_export_folders_train_as_the_rows_they_hold(work):
    from transformers import AutoTokenizer

    write_recipe(work, "len.yaml")
    with FakeHub() as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(work / "hf")}
        json_out(run_cli("push", "m1", "--repo", "me/traces", "--json", cwd=work, env=env))
        json_out(run_cli("push", "m1", "--to", "export", "--json", cwd=work))
        plan = json_out(run_cli("train-sft", "-r", "len.yaml", "--data", "me/traces", "--data", "export", "--dry-run",
                                "--json", cwd=work, env=env))
    # push drops repeated (problem, response) pairs: the fake teacher answers both samples alike.
    assert [(s["source"], s["rows"]) for s in plan["sources"]] == [("me/traces", 40), ("export", 40)]
    tokenizer = AutoTokenizer.from_pretrained(work / "tiny")
    exported = sum(
        len(tokenizer.apply_chat_template(
            [{"role": "system", "content": row["system"]}]
            + [{"role": t["from"], "content": t["value"]} for t in row["conversations"]],
            tokenize=True, return_dict=True)["input_ids"])
        for shard in sorted((work / "export" / "data").glob("*.parquet")) for row in pq.read_table(shard).to_pylist()
    )
    assert plan["examples"] == 80 and plan["tokens"] == 2 * exported  # the Hub copy is the same rows


def test_bad_input_is_one_line_naming_what_is_wrong(work):
    def error(*args: str) -> str:
        result = run_cli("train-sft", *args, cwd=work)
        assert result.returncode == 2, result.stderr
        return result.stderr.strip().splitlines()[-1]

    write_recipe(work, "len.yaml")
    (work / "typo.yaml").write_text("name: t\nmodel: {name: tiny}\ntrain: {learning_rte: 1.0}\n")
    assert error("-r", "typo.yaml", "--data", "m1") == "error: typo.yaml: unknown key 'train.learning_rte'"
    assert error("-r", "len.yaml", "--global-batch", "3", "--micro-batch", "2") == (
        "error: len.yaml: train.global_batch 3 is not a multiple of train.micro_batch × GPUs = 2 × 1")
    write_jsonl(work / "bad.jsonl", [
        {"system": "s", "conversations": [{"from": "user", "value": "q"}, {"from": "assistant", "value": "a"}]},
        {"system": "s", "conversations": [{"from": "user", "value": "q"}, {"from": "bot", "value": "a"}]},
    ])
    assert error("-r", "len.yaml", "--data", "bad.jsonl", "--dry-run") == (
        "error: bad.jsonl row 1: field conversations[1].from: unknown role 'bot'")
    write_jsonl(work / "cols.jsonl", [{"prompt": "q", "completion": "a"}])
    assert error("-r", "len.yaml", "--data", "cols.jsonl", "--dry-run") == (
        "error: cols.jsonl: no `messages` or `conversations` column (columns: prompt, completion)")
    assert error("-r", "len.yaml", "--data", "nowhere/", "--dry-run") == "error: nowhere/: no such file or folder"
    assert error("-r", "len.yaml", "--data", "gone.jsonl", "--dry-run") == "error: gone.jsonl: no such file or folder"


# What vLLM needs on a small CPU machine (shared/docs/local-models.md), as in test_vllm_teacher.py.
VLLM_CPU = {"VLLM_CPU_OMP_THREADS_BIND": f"0-{(os.cpu_count() or 1) - 1}", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
            "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}


@pytest.mark.slow
def test_eval_scores_every_checkpoint_on_vllm_and_a_rerun_resumes_only_what_is_missing(work):
    # 64-wide heads: vLLM's CPU attention has no kernel for the default tiny model's 16
    build_model_folder(work / "tiny64", tokenizer=smollm2_tokenizer(), shape={
        "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 1, "max_position_embeddings": 4096, "tie_word_embeddings": True})
    recipe = write_recipe(work, "evalled.yaml", weight=0.1, steps=4)
    (work / recipe).write_text((work / recipe).read_text().replace("name: tiny}", "name: tiny64}"))
    write_jsonl(work / "bench.jsonl", [{"id": "a", "problem": "What is 1 + 1?", "answer": "2"},
                                       {"id": "b", "problem": "What is 2 + 2?", "answer": "4"}])
    args = ["train-sft", "-r", recipe, "--out", "evalled", "--eval", "bench.jsonl", "--eval-samples", "2",
            "--eval-max-tokens", "8", "--eval-option", "dtype=float32", "--eval-option", "enforce_eager=true",
            "--eval-option", "max_model_len=512", "--json"]
    summary = json_out(run_cli(*args, cwd=work, env=VLLM_CPU, timeout=900))
    evals = work / "evalled" / "evals"
    curve = json.loads((evals / "curve.json").read_text())
    # checkpoints every 2 steps, the last at step 4, which is the final model's step: no third point
    assert [(p["checkpoint"], p["step"]) for p in curve] == [("checkpoint-2", 2), ("checkpoint-4", 4)]
    for p in curve:
        res = json.loads((evals / p["checkpoint"] / "results.json").read_text())
        (r,) = res["benchmarks"]
        assert (r["problems"], r["samples"], r["max_tokens"]) == (2, 2, 8) and p["complete"]
        assert p["avg_at_n"] == r["scores"]["avg_at_n"]["mean"]
        assert res["model"]["engine"].startswith("vllm ") and res["model"]["options"]["dtype"] == "float32"
        assert res["model"]["spec"] == f"vllm:{(work / 'evalled' / p['checkpoint']).resolve()}"
    assert summary["evals"]["curve"] == "evalled/evals/curve.json"
    assert (evals / "curve.png").stat().st_size > 1000 and "| checkpoint-4 | 4 | bench.jsonl | 2 |" in (evals / "curve.md").read_text()

    # A stopped run of evals: checkpoint-4's never finished. The rerun scores it alone.
    (evals / "checkpoint-4" / "results.json").unlink()
    kept = (evals / "checkpoint-2" / "results.json").stat().st_mtime_ns
    again = json_out(run_cli(*args, cwd=work, env=VLLM_CPU, timeout=900))
    assert again["already_done"] is True
    assert (evals / "checkpoint-2" / "results.json").stat().st_mtime_ns == kept
    assert (evals / "checkpoint-4" / "results.json").is_file()
    assert json.loads((evals / "curve.json").read_text()) == curve  # the same samples, rescored: the same figures


def test_eval_refuses_lora_checkpoints(work):
    r = run_cli("train-sft", "-r", write_recipe(work, "lora-eval.yaml"), "--out", "le", "--lora", "--eval", "math500",
                cwd=work)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: --eval: LoRA checkpoints hold adapters only")
