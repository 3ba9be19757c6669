"""`generate --batch` against the fault server's Batch API on 127.0.0.1, driven by the real
`openai` client in a real `rfactory` process: the same records as online at the batch price, a
kill -9 while batches run, expired and failed batches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from conftest import json_out, paid_recipe, run_cli, write_jsonl, write_recipe
from rfactory.testing.fake_openai import FakeOpenAIThread

RECIPE = paid_recipe("batched", samples=2, options=", batch_poll_s: POLL, batch_max_requests: 4", price=", batch_factor: 0.5")


def _setup(tmp_path: Path, problems: list[str], poll: float = 0.05) -> None:
    write_jsonl(tmp_path / "problems.jsonl", [{"id": f"p{i}", "problem": text, "answer": str(i)}
                                             for i, text in enumerate(problems)])
    write_recipe(tmp_path / "batched.yaml", RECIPE.replace("POLL", str(poll)))


def _records(run: Path) -> list[dict]:
    return [r for p in sorted((run / "samples").glob("part-*.parquet")) for r in pq.read_table(p).to_pylist()]


def _latest(run: Path) -> dict[tuple[str, int], dict]:
    return {(r["problem_id"], r["sample_index"]): r for r in _records(run)}


SAME = ["content", "reasoning_content", "thought", "solution", "finish_reason", "prompt_tokens", "completion_tokens",
        "cached_prompt_tokens", "reasoning_tokens", "seed", "problem", "reference_answer", "status"]


def test_a_batch_run_stores_what_the_online_run_does_at_the_batch_price(tmp_path: Path):
    _setup(tmp_path, [f"What is {i} + 0? [answer={i}]" for i in range(5)] + ["Broken [always500]"])
    with FakeOpenAIThread() as api:
        online = json_out(run_cli("generate", "-r", "batched.yaml", "--base-url", api.base_url, "--out", "online",
                                  "--json", cwd=tmp_path))
        batched = json_out(run_cli("generate", "-r", "batched.yaml", "--base-url", api.base_url, "--out", "batched",
                                   "--batch", "--json", cwd=tmp_path))
        answers = Counter(api.fake.batch_answers)
        batches = len(api.fake.batches)
    a, b = _latest(tmp_path / "online"), _latest(tmp_path / "batched")
    assert a.keys() == b.keys() and len(b) == 12
    for key in a:
        assert {f: a[key][f] for f in SAME} == {f: b[key][f] for f in SAME}, key
    assert b[("p5", 0)]["error_reason"] == "http_500" and b[("p5", 0)]["status"] == "failed"
    assert batches == 3 and set(answers.values()) == {1} and len(answers) == 12  # 4 lines a batch, each asked once
    ok = [k for k in a if a[k]["status"] == "ok"]
    assert abs(sum(b[k]["cost_usd"] for k in ok) - 0.5 * sum(a[k]["cost_usd"] for k in ok)) < 1e-12
    # verify and the dataset cannot tell the difference
    assert online["verify"]["kept"] == batched["verify"]["kept"] == 10
    assert batched["generate"]["batches"] and all("completed" in v for v in batched["generate"]["batches"].values())
    status = run_cli("status", "batched", cwd=tmp_path)
    assert status.returncode == 0 and "chunk-000002" in status.stdout and "collected" in status.stdout


def test_kill_9_while_batches_run_loses_nothing_and_asks_nothing_twice(tmp_path: Path):
    _setup(tmp_path, [f"Question {i} [answer={i}]" for i in range(6)], poll=1.0)  # 12 pairs, 3 batches of 4
    with FakeOpenAIThread() as api:
        proc = subprocess.Popen([sys.executable, "-m", "rfactory", "generate", "-r", "batched.yaml", "--base-url",
                                 api.base_url, "--out", "run", "--batch", "--no-verify"], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        state_path = tmp_path / "run" / "batches" / "state.json"
        deadline = time.monotonic() + 60
        while not (state_path.exists() and sum(bool(c["batch_id"]) for c in json.loads(state_path.read_text())["chunks"]) == 3):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not _records(tmp_path / "run")  # killed while every batch was still running
        assert {b["status"] for b in api.fake.batches.values()} <= {"validating", "in_progress", "finalizing"}

        # as if the run had died between creating chunk 1's batch and saving its id
        state = json.loads(state_path.read_text())
        state["chunks"][1]["batch_id"], state["chunks"][1]["status"] = None, "prepared"
        state_path.write_text(json.dumps(state))

        status = run_cli("status", "run", cwd=tmp_path)
        assert "in_progress" in status.stdout or "validating" in status.stdout

        out = json_out(run_cli("generate", "-r", "batched.yaml", "--base-url", api.base_url, "--out", "run", "--batch",
                               "--no-verify", "--json", cwd=tmp_path))
        assert len(api.fake.batches) == 3  # chunk 1's batch was found by its metadata, not sent again
        assert set(api.fake.batch_answers.values()) == {1} and len(api.fake.batch_answers) == 12
    records = _records(tmp_path / "run")
    assert sorted((r["problem_id"], r["sample_index"]) for r in records) == sorted((f"p{i}", s) for i in range(6) for s in range(2))
    assert all(r["status"] == "ok" for r in records) and out["new_samples"] == 12


def test_expired_and_failed_batches_go_back_to_pending(tmp_path: Path):
    # batch 0 (p0, p1) expires half done; batch 1 (p2, p3) fails validation; batch 2 (p4, p5) completes
    _setup(tmp_path, ["A [batchexpire] [answer=0]", "B [answer=1]", "C [batchfail] [answer=2]", "D [answer=3]",
                      "E [answer=4]", "F [answer=5]"])
    with FakeOpenAIThread() as api:
        first = json_out(run_cli("generate", "-r", "batched.yaml", "--base-url", api.base_url, "--out", "run",
                                 "--batch", "--no-verify", "--json", cwd=tmp_path))
        latest = _latest(tmp_path / "run")
        assert first["new_samples"] == 2 + 4 and first["failures"] == {"batch_expired": 2, "batch_failed": 4}
        assert "bad model" in latest[("p2", 0)]["error_detail"]
        statuses = sorted(v.split(",")[0] for v in first["batches"].values())
        assert statuses == ["completed", "expired", "failed"]
        # the next run sends only what is not done, in new batches
        lines_before = sum(len(v) for v in api.fake.batch_lines.values())
        second = json_out(run_cli("generate", "-r", "batched.yaml", "--base-url", api.base_url, "--out", "run",
                                  "--batch", "--no-verify", "--json", cwd=tmp_path))
        assert sum(len(v) for v in api.fake.batch_lines.values()) - lines_before == 6
        assert second["pairs_already_done"] == 6
