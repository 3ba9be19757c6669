"""Resume: kill -9 mid-run, run again, and get exactly problems × samples unique records."""

import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq

from conftest import RFACTORY, journal_lines, json_out, kill_when, run_cli, write_jsonl
from rfactory.testing.fake_openai import FakeOpenAIThread

N_PROBLEMS, SAMPLES = 120, 2


def test_kill_9_then_resume(tmp_path: Path):
    write_jsonl(tmp_path / "problems.jsonl", [{"problem": f"Problem {i} [answer={i}]", "answer": str(i)} for i in range(N_PROBLEMS)])
    run = tmp_path / "run"
    with FakeOpenAIThread(delay_s=0.05) as server:
        args = ["generate", "-t", "openai:fake", "--base-url", server.base_url, "-p", "problems.jsonl",
                "--samples", str(SAMPLES), "--concurrency", "4", "--out", "run", "--no-verify", "--json"]
        kill_when(args, tmp_path, run, at_least=40)
        assert not list((run / "samples").glob("part-*.parquet"))  # everything so far lives in the journal
        kill_when(args, tmp_path, run, at_least=40)  # the second start folded the first journal into a part
        assert len(list((run / "samples").glob("part-*.parquet"))) == 1
        final = json_out(run_cli(*args, cwd=tmp_path))
        requests_after_kills = server.fake.requests

    assert final["pairs_already_done"] >= 80
    assert final["pairs_already_done"] + final["new_samples"] == N_PROBLEMS * SAMPLES
    assert not list((run / "samples").glob("journal-*")) and not list((run / "samples").glob(".*.tmp"))
    keys = []
    for part in sorted((run / "samples").glob("part-*.parquet")):
        table = pq.read_table(part)  # every part is a complete, readable Parquet file
        keys += list(zip(table["problem_id"].to_pylist(), table["sample_index"].to_pylist()))
    assert len(keys) == len(set(keys)) == N_PROBLEMS * SAMPLES
    # Nothing was asked twice beyond the requests in flight when each kill landed (4 each).
    assert requests_after_kills <= N_PROBLEMS * SAMPLES + 2 * 4

    again = json_out(run_cli(*args, cwd=tmp_path))
    assert again["new_samples"] == 0 and again["pairs_already_done"] == N_PROBLEMS * SAMPLES


def test_changed_generation_setting_is_refused(tmp_path: Path, fake_api):
    write_jsonl(tmp_path / "problems.jsonl", [{"problem": "What is 1+1? [answer=2]", "answer": "2"}])
    base = ["generate", "-t", "openai:fake", "--base-url", fake_api.base_url, "-p", "problems.jsonl", "--out", "run", "--no-verify"]
    assert run_cli(*base, "-q", cwd=tmp_path).returncode == 0
    before = sorted(p.read_bytes() for p in (tmp_path / "run/samples").iterdir())
    refused = run_cli(*base, "--temperature", "0.2", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: run was generated with sampling.temperature=0.7, this command asks for 0.2; "
        "to change it start a new run with --out run-2"
    ]
    assert sorted(p.read_bytes() for p in (tmp_path / "run/samples").iterdir()) == before
    # More samples per problem extend the run instead: each new pair has its own seed.
    more = json_out(run_cli(*base, "--samples", "3", "--json", cwd=tmp_path))
    assert more["pairs_already_done"] == 2 and more["new_samples"] == 1


def test_ctrl_c_saves_finished_samples_and_says_how_to_resume(tmp_path: Path):
    write_jsonl(tmp_path / "problems.jsonl", [{"problem": f"Problem {i} [answer={i}]", "answer": str(i)} for i in range(200)])
    run = tmp_path / "run"
    with FakeOpenAIThread(delay_s=0.05) as server:
        args = ["generate", "-t", "openai:fake", "--base-url", server.base_url, "-p", "problems.jsonl",
                "--concurrency", "2", "--samples", "1", "--out", "run", "--no-verify"]
        # A terminal's Ctrl-C: SIGINT at its default, even when this suite runs as a background
        # job (a non-interactive shell starts those with SIGINT ignored, and children inherit it).
        proc = subprocess.Popen([*RFACTORY, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while journal_lines(run, set()) < 10:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130
        assert err.strip().splitlines()[-1] == "interrupted: finished samples are saved; run the same command again to resume"
        # On Ctrl-C the open journal is written out as a Parquet part at once.
        assert not list((run / "samples").glob("journal-*"))
        saved = sum(pq.read_metadata(p).num_rows for p in (run / "samples").glob("part-*.parquet"))
        assert saved >= 10
        final = json_out(run_cli(*args, "--json", cwd=tmp_path))
    assert final["pairs_already_done"] == saved and final["pairs_already_done"] + final["new_samples"] == 200
