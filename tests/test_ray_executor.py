"""`--executor ray` on a local Ray with 2 workers: every pair exactly once in the run store, with a
worker killed mid-run, and with the driver killed and the run resumed. The teacher is the fake
OpenAI server (the executor is what is tested; the vLLM teacher has its own real-engine tests)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq

from conftest import RFACTORY, journal_lines, json_out, kill_when, run_cli, write_jsonl
from rfactory.testing.fake_openai import FakeOpenAIThread

N_PROBLEMS, SAMPLES = 150, 2


def _args(server) -> list[str]:  # noqa: ANN001
    return ["generate", "-t", "openai:fake", "--base-url", server.base_url, "-p", "problems.jsonl",
            "--samples", str(SAMPLES), "--concurrency", "4", "--out", "run", "--no-verify", "--json",
            "--executor", "ray", "--workers", "2"]


def _keys(run: Path) -> list[tuple[str, int]]:
    keys = []
    for part in sorted((run / "samples").glob("part-*.parquet")):
        table = pq.read_table(part, columns=["problem_id", "sample_index", "status"])
        assert set(table["status"].to_pylist()) == {"ok"}
        keys += list(zip(table["problem_id"].to_pylist(), table["sample_index"].to_pylist()))
    return keys


def _workers() -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any("TeacherWorker" in part for part in p.info["cmdline"] or []):
            found.append(p)
    return found


def test_a_killed_worker_has_its_pairs_redone_by_the_others(tmp_path: Path):
    write_jsonl(tmp_path / "problems.jsonl", [{"problem": f"Problem {i} [answer={i}]", "answer": str(i)} for i in range(N_PROBLEMS)])
    run = tmp_path / "run"
    with FakeOpenAIThread(delay_s=0.05) as server:
        proc = subprocess.Popen([*RFACTORY, *_args(server)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while journal_lines(run, set()) < 40 or len(_workers()) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        victim = _workers()[0]
        victim.kill()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        summary = json_out(subprocess.CompletedProcess(proc.args, 0, out, err))
    assert not victim.is_running()
    assert summary["new_samples"] == N_PROBLEMS * SAMPLES and summary["failed"] == 0
    keys = _keys(run)
    assert len(keys) == len(set(keys)) == N_PROBLEMS * SAMPLES  # nothing lost, nothing twice


def test_the_driver_killed_then_resumed(tmp_path: Path):
    write_jsonl(tmp_path / "problems.jsonl", [{"problem": f"Problem {i} [answer={i}]", "answer": str(i)} for i in range(N_PROBLEMS)])
    run = tmp_path / "run"
    with FakeOpenAIThread(delay_s=0.05) as server:
        kill_when(_args(server), tmp_path, run, at_least=40)
        final = json_out(run_cli(*_args(server), cwd=tmp_path))
        requests = server.fake.requests
    assert final["pairs_already_done"] >= 40
    assert final["pairs_already_done"] + final["new_samples"] == N_PROBLEMS * SAMPLES
    keys = _keys(run)
    assert len(keys) == len(set(keys)) == N_PROBLEMS * SAMPLES
    # Only what was in flight at the kill was asked twice: 2 workers x 2 streams x 4 in flight each.
    assert requests <= N_PROBLEMS * SAMPLES + 16
    deadline = time.monotonic() + 60
    while _workers():  # the killed driver's workers do not linger
        assert time.monotonic() < deadline, [w.info["cmdline"] for w in _workers()]
        time.sleep(0.5)


def test_a_fatal_teacher_error_in_a_worker_stops_the_run_with_one_line(tmp_path: Path):
    from rfactory.testing.fake_hub import FakeHub

    write_jsonl(tmp_path / "problems.jsonl", [{"problem": f"Problem {i}", "answer": str(i)} for i in range(20)])
    with FakeHub() as wrong_server:  # an HTTP server with no /v1/chat/completions: 404, which no retry fixes
        result = run_cli("generate", "-t", "openai:fake", "--base-url", f"{wrong_server.url}/v1", "-p", "problems.jsonl",
                         "--out", "run", "--no-verify", "--executor", "ray", "--workers", "2", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: teacher openai:fake refused the request, stopping: NotFoundError: Error code: 404")


def test_cpu_engines_get_cores_of_their_own(tmp_path: Path):
    """Each llama.cpp worker takes the cores its threads compute on: two engines on the same cores
    fight (4x slower on 2 cores). Workers the cluster cannot seat are refused before any starts,
    rather than left waiting forever; with fewer threads each, they all fit and share the run."""
    import os

    from conftest import ECHO_RECIPE, write_recipe

    cores = len(os.sched_getaffinity(0))  # a local Ray holds os.cpu_count() CPUs; the engine's default threads
    write_jsonl(tmp_path / "problems.jsonl", [{"id": f"e{i}", "problem": f"Echo: \\boxed{{{i}}}", "answer": str(i)}
                                              for i in range(6)])
    write_recipe(tmp_path / "tiny.yaml", ECHO_RECIPE)
    refused = run_cli("generate", "-r", "tiny.yaml", "--out", "run", "--no-verify", "--executor", "ray",
                      "--workers", "2", cwd=tmp_path)
    if cores == os.cpu_count():  # each worker then takes every CPU Ray has: one fits
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines()[-1] == (
            f"error: --workers 2: each llamacpp:smollm2 worker takes {cores} CPU, and the Ray cluster's nodes have "
            "room for 1; use --workers 1 or fewer threads per engine (teacher.options.n_threads)")
    write_recipe(tmp_path / "one.yaml", ECHO_RECIPE.replace("n_ctx: 1024", "n_ctx: 1024, n_threads: 1"))
    summary = json_out(run_cli("generate", "-r", "one.yaml", "--out", "run1", "--no-verify", "--json",
                               "--executor", "ray", "--workers", "2", cwd=tmp_path))
    assert summary["new_samples"] == 12 and summary["failed"] == 0
    assert sorted(_keys(tmp_path / "run1")) == sorted((f"e{i}", s) for i in range(6) for s in range(2))


def test_eval_on_ray_workers_scores_as_a_local_eval_does(tmp_path: Path):
    # two benchmarks, each an ordinary run generated on the same two workers
    for name, answers in (("one.jsonl", "5|5|4|5"), ("two.jsonl", "1|7|7|1")):
        write_jsonl(tmp_path / name, [{"id": f"p{i}", "problem": f"Problem {i} [answers={answers}]", "answer": "5" if
                                       name == "one.jsonl" else "7"} for i in range(20)])
    with FakeOpenAIThread() as server:
        args = ["eval", "--model", "openai:fake", "--base-url", server.base_url, "--bench", "one.jsonl", "--bench",
                "two.jsonl", "-n", "4", "--json"]
        on_ray = json_out(run_cli(*args, "--out", "ray", "--executor", "ray", "--workers", "2", cwd=tmp_path))
        local = json_out(run_cli(*args, "--out", "local", cwd=tmp_path))
    def counted(res):  # which sample got which planted answer depends on arrival order; the counts do not
        return [(s["avg_at_n"], s["pass_at"], s["rates"], s["maj_at"]["4"]) for s in (r["scores"] for r in res["benchmarks"])]

    assert counted(on_ray) == counted(local)
    assert [r["scores"]["avg_at_n"]["mean"] for r in on_ray["benchmarks"]] == [0.75, 0.5]
    for name in ("one.jsonl", "two.jsonl"):
        keys = _keys(tmp_path / "ray" / name)
        assert len(keys) == len(set(keys)) == 80  # every pair once
