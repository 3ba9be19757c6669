"""Paying for a teacher: cost from the server's usage, a hard budget over the whole run, and runs
that stop within seconds when the endpoint is wrong. Real `rfactory` processes against the fault
server on 127.0.0.1 (and a closed port, an unknown host, a TLS handshake with a plain-HTTP server)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

from conftest import free_port, json_out, paid_recipe, run_cli, write_jsonl, write_recipe
from rfactory.testing.fake_openai import FakeOpenAI, FakeOpenAIThread

PRICE = {"input": 2.0, "cached": 0.5, "output": 8.0}  # USD per million tokens
RECIPE = paid_recipe("paid", samples=1)


def _problems(tmp_path: Path, n: int) -> None:
    write_jsonl(tmp_path / "problems.jsonl",
                [{"id": f"p{i}", "problem": f"Question number {i}: what is {i} + {i}? [answer={2 * i}]", "answer": str(2 * i)}
                 for i in range(n)])
    write_recipe(tmp_path / "paid.yaml", RECIPE)


def _records(run: Path) -> list[dict]:
    return [r for p in sorted((run / "samples").glob("part-*.parquet")) for r in pq.read_table(p).to_pylist()]


def _by_hand(usage: dict) -> float:
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    return ((usage["prompt_tokens"] - cached) * PRICE["input"] + cached * PRICE["cached"]
            + usage["completion_tokens"] * PRICE["output"]) / 1e6


def test_cost_of_every_sample_and_of_the_run_matches_the_servers_usage(tmp_path: Path):
    _problems(tmp_path, 6)
    with FakeOpenAIThread() as api:
        out = json_out(run_cli("generate", "-r", "paid.yaml", "--base-url", api.base_url, "--out", "run", "--json",
                               cwd=tmp_path))
        usages = list(api.fake.usages)
    records = _records(tmp_path / "run")
    assert len(records) == len(usages) == 6
    # each record holds its own usage: cached and reasoning tokens as the server reported them
    for r in records:
        assert r["cached_prompt_tokens"] == r["prompt_tokens"] // 2 and r["reasoning_tokens"] == 12
        assert abs(r["cost_usd"] - _by_hand({"prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"],
                                             "prompt_tokens_details": {"cached_tokens": r["cached_prompt_tokens"]}})) < 1e-12
    total = sum(_by_hand(u) for u in usages)
    assert abs(out["generate"]["cost_usd"] - total) < 1e-9
    assert out["generate"]["cached_prompt_tokens"] == sum(u["prompt_tokens_details"]["cached_tokens"] for u in usages)
    cost = json.loads((tmp_path / "run" / "stats.json").read_text())["cost"]
    assert abs(cost["total_usd"] - total) < 1e-6 and cost["priced_samples"] == 6
    kept = out["verify"]["kept"]
    assert kept and abs(cost["per_kept_trace_usd"] - total / kept) < 1e-6
    status = run_cli("status", "run", cwd=tmp_path)
    assert status.returncode == 0 and f"${total:,.4f}" in status.stdout and "per kept trace" in status.stdout
    assert "{" not in status.stdout  # nested values are sub-rows, not Python reprs
    pushed = run_cli("push", "run", "--to", "export", cwd=tmp_path)
    assert pushed.returncode == 0, pushed.stderr
    card = (tmp_path / "export" / "README.md").read_text()
    assert "### Cost" in card and f"{total:,.4f}" in card


def test_a_budget_stops_the_run_short_of_the_cap_and_a_larger_one_continues_it(tmp_path: Path):
    _problems(tmp_path, 24)
    with FakeOpenAIThread() as api:
        full = run_cli("generate", "-r", "paid.yaml", "--base-url", api.base_url, "--out", "whole", "--no-verify",
                       "--json", cwd=tmp_path)
        whole = json_out(full)["cost_usd"]
        one_request = max(_by_hand(u) for u in api.fake.usages)
        cap = whole * 0.4
        capped = run_cli("generate", "-r", "paid.yaml", "--base-url", api.base_url, "--out", "run", "--no-verify",
                         "--max-cost", f"{cap:.10f}", cwd=tmp_path)
        assert capped.returncode == 3, capped.stderr
        assert "stopped at the budget" in capped.stderr and "higher cap" in capped.stderr
        spent = sum(r["cost_usd"] for r in _records(tmp_path / "run"))
        # never over the cap, and short of it by less than one request's worst case (its prompt
        # and its whole max_tokens of output, a little more than any answer here cost)
        assert spent <= cap and cap - spent < 2 * one_request, (spent, cap, one_request)
        assert 0 < len(_records(tmp_path / "run")) < 24

        before = len(_records(tmp_path / "run"))
        again = run_cli("generate", "-r", "paid.yaml", "--base-url", api.base_url, "--out", "run", "--no-verify",
                        "--max-cost", f"{cap:.10f}", "--json", cwd=tmp_path)
        assert again.returncode == 3 and len(_records(tmp_path / "run")) == before  # the cap counts earlier spend

        done = json_out(run_cli("generate", "-r", "paid.yaml", "--base-url", api.base_url, "--out", "run",
                                "--no-verify", "--max-cost", f"{whole * 2:.10f}", "--json", cwd=tmp_path))
    records = _records(tmp_path / "run")
    assert sorted(r["problem_id"] for r in records) == sorted(f"p{i}" for i in range(24))  # every pair exactly once
    assert all(r["status"] == "ok" for r in records) and done["pairs_already_done"] == 24 - done["new_samples"]
    assert abs(sum(r["cost_usd"] for r in records) - whole) < 1e-9


def test_a_token_cap_works_without_a_price(tmp_path: Path):
    _problems(tmp_path, 10)
    write_recipe(tmp_path / "paid.yaml", "\n".join(line for line in RECIPE.splitlines() if "price:" not in line))
    with FakeOpenAIThread() as api:
        r = run_cli("generate", "-r", "paid.yaml", "--base-url", api.base_url, "--out", "run", "--no-verify",
                    "--max-tokens-total", "300", cwd=tmp_path)
        assert r.returncode == 3 and "300 tokens" in r.stderr
        used = sum(x["prompt_tokens"] + x["completion_tokens"] for x in _records(tmp_path / "run"))
        assert 0 < used <= 300 and len(_records(tmp_path / "run")) < 10
        priced = run_cli("generate", "-r", "paid.yaml", "--base-url", api.base_url, "--out", "run2", "--max-cost", "1",
                         cwd=tmp_path)
    assert priced.returncode == 2 and "no price known" in priced.stderr and len(priced.stderr.strip().splitlines()) == 1


def _fails_fast(tmp_path: Path, base_url: str, words: str, env: dict[str, str] | None = None) -> None:
    started = time.monotonic()
    r = run_cli("generate", "-r", "paid.yaml", "--base-url", base_url, "--out", "run", cwd=tmp_path, env=env)
    elapsed = time.monotonic() - started
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and re.search(r"the first (8|9|10|11) requests", lines[0]), lines
    assert elapsed < 20, elapsed  # not 40 problems x every retry: the start-up (~3 s) and eight failures
    assert not (tmp_path / "run" / "stats.json").exists()  # nothing verified, no tables printed
    assert r.stdout == ""


def test_a_refused_connection_stops_within_seconds_and_the_run_continues_once_the_server_is_up(tmp_path: Path):
    _problems(tmp_path, 40)
    port = free_port()
    _fails_fast(tmp_path, f"http://127.0.0.1:{port}/v1", "connection refused")
    failed = _records(tmp_path / "run")
    assert failed and all(r["status"] == "failed" and r["error_reason"] == "connection_refused" and r["attempts"] == 1
                          for r in failed)
    # the same command, once the endpoint is there, continues the same run and completes it
    fake, loop = FakeOpenAI(), asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(fake.start(port), loop).result(10)
    try:
        out = json_out(run_cli("generate", "-r", "paid.yaml", "--base-url", f"http://127.0.0.1:{port}/v1", "--out",
                               "run", "--json", "--no-verify", cwd=tmp_path))
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    assert out["new_samples"] == 40 and out["failed"] == 0


def test_an_unknown_host_stops_within_seconds(tmp_path: Path):
    _problems(tmp_path, 40)
    _fails_fast(tmp_path, "http://no-such-host.invalid/v1", "unknown host", env={"OPENAI_API_KEY": "sk-test"})


def test_a_tls_failure_stops_within_seconds(tmp_path: Path):
    _problems(tmp_path, 40)
    # a plain-HTTP server that answers the TLS hello at once: the handshake fails
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        _fails_fast(tmp_path, f"https://127.0.0.1:{listener.getsockname()[1]}/v1", "TLS failed")
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_the_official_endpoint_without_a_key_is_refused_before_any_request(tmp_path: Path):
    _problems(tmp_path, 4)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    started = time.monotonic()
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "rfactory", "generate", "-p", "problems.jsonl", "--teacher",
                        "openai:gpt-4o", "--out", "run"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and time.monotonic() - started < 30
    (line,) = r.stderr.strip().splitlines()
    assert "$OPENAI_API_KEY is not set" in line and "api.openai.com" in line
    assert not (tmp_path / "run").exists()


def test_the_packaged_price_table_prices_a_known_model_and_leaves_others_unknown():
    from rfactory.cost import PriceConfig, resolve_price

    gpt = resolve_price(None, ("api.openai.com", "gpt-4o-2024-08-06"))  # a dated snapshot: its model's price
    assert gpt is not None and gpt.batch_factor == 0.5 and gpt.source.startswith("prices.json")
    assert abs(gpt.cost(1_000_000, 400_000, 1_000_000) - (0.6 * 2.5 + 0.4 * 1.25 + 10.0)) < 1e-9
    assert abs(gpt.cost(1_000_000, 0, 0, batch=True) - 1.25) < 1e-9
    assert resolve_price(None, ("api.openai.com", "gpt-4o-turbo-ultra")) is None  # never guessed from a name
    assert resolve_price(None, None) is None  # a local engine bills nothing per token
    mine = resolve_price(PriceConfig(output_per_mtok=3.0), ("api.deepseek.com", "deepseek-reasoner"))
    assert mine.output_per_mtok == 3.0 and mine.input_per_mtok == resolve_price(None, ("api.deepseek.com", "deepseek-reasoner")).input_per_mtok


def test_version_and_a_summary_without_python_reprs(tmp_path: Path):
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("rfactory ")
    _problems(tmp_path, 3)
    with FakeOpenAIThread() as api:
        out = run_cli("generate", "-r", "paid.yaml", "--base-url", api.base_url, "--out", "run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "{'" not in out.stdout and "None" not in out.stdout, out.stdout
    assert "pass rate band" in out.stdout  # the curation sub-rows, by name
