"""The `openai` teacher against real HTTP servers on 127.0.0.1: llama.cpp's, and a fault-injecting one."""

import asyncio
import socket
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import ECHO_RECIPE, json_out, load_openthoughts, run_cli, write_jsonl, write_recipe

FAULTS = [
    {"id": "plain", "question": "What is 1+1? [answer=2]", "gold": "2"},
    {"id": "ratelimited", "question": "Slow down [429] [answer=\\frac{1}{2}]", "gold": "0.5"},
    {"id": "error500", "question": "Flaky [500] [answer=3]", "gold": "3"},
    {"id": "hang", "question": "Stuck [hang] [answer=4]", "gold": "4"},
    {"id": "drop", "question": "Dropped [drop] [answer=5]", "gold": "5"},
    {"id": "garbage", "question": "Garbled [garbage]", "gold": "6"},
    {"id": "length", "question": "Cut off [length] [answer=7]", "gold": "7"},
    {"id": "think", "question": "Think tags [think] [answer=8]", "gold": "8"},
    {"id": "down", "question": "Broken [always500]", "gold": "9"},
]

FAULT_RECIPE = """
name: faults
problems:
  source: problems.jsonl
  columns: {id: id, problem: question, answer: gold}
teacher:
  spec: openai:fake
  concurrency: 4
  options: {timeout_s: 1.5, max_attempts: 3, backoff_base_s: 0.05, backoff_max_s: 2}
sampling: {samples: 2, max_tokens: 64}
"""


def _rows(run: Path) -> list[dict]:
    rows = []
    for part in sorted((run / "samples").glob("part-*.parquet")):
        rows += pq.read_table(part).to_pylist()
    return rows


def test_every_pair_is_a_sample_or_a_recorded_failure(tmp_path: Path, fake_api):
    write_jsonl(tmp_path / "problems.jsonl", FAULTS)
    write_recipe(tmp_path / "faults.yaml", FAULT_RECIPE)
    started = time.monotonic()
    summary = json_out(run_cli("generate", "-r", "faults.yaml", "--base-url", fake_api.base_url, "--out", "run", "--json", cwd=tmp_path))
    elapsed = time.monotonic() - started

    rows = {(r["problem_id"], r["sample_index"]): r for r in _rows(tmp_path / "run")}
    assert len(rows) == len(FAULTS) * 2 == len(_rows(tmp_path / "run"))
    for (pid, _), row in rows.items():
        if pid == "garbage":
            assert (row["status"], row["error_reason"], row["attempts"]) == ("failed", "malformed_response", 3)
        elif pid == "down":
            assert (row["status"], row["error_reason"], row["attempts"]) == ("failed", "http_500", 3)
        else:
            assert row["status"] == "ok", row
    assert rows[("ratelimited", 0)]["attempts"] == 2
    assert rows[("error500", 1)]["attempts"] == 3
    assert rows[("hang", 0)]["attempts"] == 2 and rows[("drop", 0)]["attempts"] == 2
    # Retry-After: 1 was honoured (the retry waited at least that long), and the hang cost one timeout.
    assert rows[("ratelimited", 0)]["latency_s"] >= 1.0
    assert rows[("hang", 0)]["latency_s"] >= 1.5
    assert elapsed < 60

    length = rows[("length", 0)]
    assert length["truncated"] and length["finish_reason"] == "length"
    think = rows[("think", 0)]
    assert think["split_method"] == "think_tags" and "carefully" in think["thought"] and "<think>" not in think["solution"]
    plain = rows[("plain", 0)]
    assert plain["split_method"] == "reasoning_content" and plain["prompt_tokens"] > 0 and plain["model"] == "fake"

    ver = summary["verify"]
    assert ver["failures_by_reason"] == {"generation_failed": 4, "no_answer": 2}
    assert ver["passed"] == 12 and ver["kept"] == 12
    data, meta = load_openthoughts(tmp_path / "run/dataset", tmp_path / "hf")
    assert sorted(set(meta["problem_id"])) == ["drop", "error500", "hang", "plain", "ratelimited", "think"]


def test_failed_pairs_are_retried_on_the_next_run(tmp_path: Path, fake_api):
    write_jsonl(tmp_path / "problems.jsonl", FAULTS)
    write_recipe(tmp_path / "faults.yaml", FAULT_RECIPE)
    args = ("generate", "-r", "faults.yaml", "--base-url", fake_api.base_url, "--out", "run", "--json", "--no-verify")
    first = json_out(run_cli(*args, cwd=tmp_path))
    assert first["failed"] == 4
    second = json_out(run_cli(*args, cwd=tmp_path))
    assert second["pairs_already_done"] == 14 and second["failed"] == 4 and second["new_samples"] == 0
    # Two records for each failed pair now; `verify` counts each pair once, by its latest record.
    ver = json_out(run_cli("verify", "run", "--json", cwd=tmp_path))
    assert ver["samples"] == 18


def test_fatal_status_stops_the_run_with_one_line(tmp_path: Path):
    from rfactory.testing.fake_openai import FakeOpenAIThread

    write_jsonl(tmp_path / "problems.jsonl", [{"problem": "hi", "answer": "1"}])
    with FakeOpenAIThread() as server:
        # No /v1 prefix: every request 404s, as with a wrong base URL.
        result = run_cli("generate", "-t", "openai:m", "-p", "problems.jsonl", "--base-url", server.base_url[:-3] + "/nope",
                         "--out", "run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "error: teacher openai:m refused the request" in result.stderr
    assert "Traceback" not in result.stderr


def _ask(base_url: str, problem: str, **options):  # noqa: ANN003, ANN202 - a Completion or a TeacherFailure
    from rfactory.teachers.base import ChatRequest, TeacherFailure
    from rfactory.teachers.openai_api import OpenAIOptions, OpenAITeacher

    async def go():  # noqa: ANN202
        teacher = OpenAITeacher("fake", OpenAIOptions(base_url=base_url, backoff_base_s=0.05, **options))
        try:
            return await teacher.generate(ChatRequest(messages=[{"role": "user", "content": problem}], temperature=0.7,
                                                      top_p=0.95, max_tokens=16, seed=1))
        except TeacherFailure as failure:
            return failure
        finally:
            await teacher.aclose()

    return asyncio.run(go())


def test_a_lost_connection_is_not_taken_for_an_unreachable_endpoint(fake_api):
    # aiohttp's adapter reports a server that hung up as a connect timeout; a fresh teacher (nothing
    # answered yet) would then give up after one attempt as if the URL were wrong
    assert _ask(fake_api.base_url, "Dropped [drop]", max_attempts=3).attempts == 2
    dropped = _ask(fake_api.base_url, "Dropped again [drop]", max_attempts=1)
    assert (dropped.reason, dropped.detail) == ("connection_error", "ServerDisconnectedError: Server disconnected")
    hung = _ask(fake_api.base_url, "Stuck [hang]", max_attempts=1, timeout_s=0.5)
    assert hung.reason == "timeout" and hung.attempts == 1
    assert _ask(fake_api.base_url, "Stuck again [hang]", max_attempts=3, timeout_s=0.5).attempts == 2


def test_a_connect_timeout_is_told_apart_and_not_retried_before_any_answer():
    # a listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs
    with socket.create_server(("127.0.0.1", 0), backlog=0) as full:
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(full.getsockname())
        try:
            started = time.monotonic()
            failure = _ask(f"http://127.0.0.1:{full.getsockname()[1]}/v1", "hi", max_attempts=3, connect_timeout_s=0.5)
            elapsed = time.monotonic() - started
        finally:
            for filler in fillers:
                filler.close()
    assert (failure.reason, failure.attempts, failure.detail) == ("connect_timeout", 1, "no connection within 0.5 s")
    assert elapsed < 5


def test_credentials_in_the_base_url_are_sent_as_basic_auth(fake_api):
    # as httpx sent them; aiohttp alone refuses them beside the SDK's Authorization header
    url = fake_api.base_url.replace("http://", "http://us%40er:p%3Ass@")
    assert _ask(url, "What is 1+1? [answer=2]", max_attempts=1).attempts == 1
    assert fake_api.fake.auth_headers[-1] == "Basic dXNAZXI6cDpzcw=="  # us@er:p:ss


@pytest.mark.slow
def test_end_to_end_through_llama_cpp_server(tmp_path: Path, llama_server):
    write_jsonl(tmp_path / "problems.jsonl", [
        {"id": "echo12", "problem": "Echo: \\boxed{12}", "answer": "12"},
        {"id": "add", "problem": "What is 2 + 3?", "answer": "5"},
    ])
    # SmolLM2 behind an API is a teacher like any other, and it does not reason: keep its rows anyway
    write_recipe(tmp_path / "echo.yaml", ECHO_RECIPE + "output: {require_thought: false}\n")
    summary = json_out(run_cli(
        "generate", "-r", "echo.yaml", "-t", "openai:teacher", "--base-url", llama_server, "-p", "problems.jsonl",
        "--concurrency", "2", "--out", "run", "--json", cwd=tmp_path,
    ))
    gen, ver = summary["generate"], summary["verify"]
    assert gen["new_samples"] == 4 and gen["failed"] == 0 and gen["completion_tokens"] > 0
    rows = _rows(tmp_path / "run")
    assert {r["model"] for r in rows} == {"teacher"}
    assert all(r["finish_reason"] in ("stop", "length") for r in rows)
    assert len({r["seed"] for r in rows}) == 4  # distinct seeds per sample
    assert ver["passed"] >= 2
    data, meta = load_openthoughts(tmp_path / "run/dataset", tmp_path / "hf")
    assert len(data) == ver["kept"] == ver["passed"]
