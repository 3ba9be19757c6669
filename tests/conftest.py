from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rfactory.testing.fake_openai import FakeOpenAIThread

RFACTORY = [sys.executable, "-m", "rfactory"]

# SmolLM2-135M cannot do arithmetic, but with the bare problem as the prompt and greedy decoding
# it echoes "Echo: \boxed{12}" reliably: a real engine yielding both verified and rejected samples.
ECHO_RECIPE = """
name: tiny
problems: {source: problems.jsonl, columns: {id: id}}
teacher: {spec: "llamacpp:smollm2", options: {n_ctx: 1024}}
prompt: {teacher_system: null, user_template: "{problem}"}
sampling: {samples: 2, max_tokens: 40, temperature: 0, stop: ["\\n"]}
"""


def paid_recipe(name: str, samples: int, options: str = "", price: str = "") -> str:
    """A recipe for the fault server priced like a paid API: $2 / $0.50 cached / $8 per million tokens."""
    return f"""
name: {name}
problems: {{source: problems.jsonl, columns: {{id: id}}}}
teacher:
  spec: openai:fake
  concurrency: 4
  options: {{timeout_s: 5, max_attempts: 3, backoff_base_s: 0.05{options}}}
  price: {{input_per_mtok: 2.0, cached_input_per_mtok: 0.5, output_per_mtok: 8.0{price}}}
sampling: {{samples: {samples}, max_tokens: 20}}
"""


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `rfactory` command in a subprocess, as a user would."""
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault("COLUMNS", "200")
    return subprocess.run(
        [*RFACTORY, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def journal_lines(run: Path, ignore: set[Path]) -> int:
    return sum(p.read_text().count("\n") for p in (run / "samples").glob("journal-*.jsonl") if p not in ignore)


def kill_when(args: list[str], cwd: Path, run: Path, at_least: int, within_s: float = 120,
              env: dict[str, str] | None = None) -> list[int]:
    """Start generate and SIGKILL it once its own journal holds `at_least` finished samples.
    Returns the PIDs of the processes it had started (an engine's workers), for the caller to watch."""
    import psutil

    earlier = set((run / "samples").glob("journal-*.jsonl")) if (run / "samples").exists() else set()
    proc = subprocess.Popen([*RFACTORY, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})})
    deadline = time.monotonic() + within_s
    while journal_lines(run, earlier) < at_least:
        assert proc.poll() is None, "generate finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return children


def json_out(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_recipe(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def fake_api():
    with FakeOpenAIThread(hang_s=5) as server:
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server():
    """`python -m llama_cpp.server` on the embedded SmolLM2 GGUF, shared by the tests that need it."""
    from rfactory.teachers.llama_cpp import resolve_gguf

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_gguf("smollm2")), "--host", "127.0.0.1",
         "--port", str(port), "--n_threads", "2", "--n_ctx", "2048", "--interrupt_requests", "False",
         "--model_alias", "teacher"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("llama_cpp.server did not start")
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def load_openthoughts(dataset_dir: Path, cache_dir: Path):
    """Read both configs back with `datasets`, check the exact column types, return (data, metadata)."""
    import datasets
    from datasets import Features, List, Value

    data = datasets.load_dataset(
        "parquet", data_files=str(dataset_dir / "data" / "train-*-of-*.parquet"), split="train", cache_dir=str(cache_dir)
    )
    meta = datasets.load_dataset(str(dataset_dir), "metadata", split="train", cache_dir=str(cache_dir))
    assert data.features == Features(
        {"system": Value("string"), "conversations": List({"from": Value("string"), "value": Value("string")})}
    )
    strings = ["problem", "deepseek_reasoning", "deepseek_solution", "ground_truth_solution", "domain", "source",
               "test_cases", "starter_code"]
    for name in strings:
        assert meta.features[name] == Value("string"), name
    assert meta.features["sample_index"] == Value("int32")
    assert meta.features["completion_tokens"] == Value("int64")
    assert len(data) == len(meta)
    for row, m in zip(data, meta):
        user, assistant = row["conversations"]
        assert user == {"from": "user", "value": m["problem"]}
        assert assistant["from"] == "assistant"
        assert assistant["value"].startswith("<|begin_of_thought|>")
        assert assistant["value"].endswith("<|end_of_solution|>")
        assert m["deepseek_solution"] in assistant["value"]
        assert m["verdict"] in ("correct", "passed")  # math, code
        assert "<|begin_of_solution|>" in row["system"]
    return data, meta


def sandbox_processes(sandbox) -> list[str]:
    """The PIDs a program sees in its sandbox's PID namespace: with nothing left over, the
    server (PID 1) and this probe."""
    return json.loads(sandbox.run("import os, json\nprint(json.dumps([p for p in os.listdir('/proc') if p.isdigit()]))").stdout)


@pytest.fixture(scope="module", params=["bubblewrap", "namespaces"])
def sandbox(request):
    """A code sandbox under each isolation rfactory has: bubblewrap, and the namespaces it builds
    by hand when bubblewrap will not start."""
    from rfactory.verifiers.code.sandbox import Sandbox

    with Sandbox(levels=(request.param,)) as sb:
        assert sb.isolation.level == request.param, sb.isolation.detail
        yield sb
