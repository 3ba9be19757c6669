"""Code answers: the program in a solution, run against a problem's tests in a sandbox.

`verify(solution, tests)` for one pair, `verify_many(tasks)` for a run. `outputs_many` runs
programs on inputs that have no expected output (S*-style selection compares what candidates
print). The pieces: `suite` reads the tests users have, `extract` finds the program, `sandbox` (with `forkserver`) runs it
one test at a time under kernel isolation, and `judge` compares what came back, in this trusted
process, on plain data. A status says what happened: passed, wrong_answer, runtime_error,
timeout, memory_limit, output_limit, no_code, or sandbox_error (an infrastructure failure is
never scored as a wrong answer).
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel

from ..pool import run_tasks
from ..verdict import Verdict
from .extract import extract_code
from .judge import call_matches, stdout_matches
from .sandbox import RunResult, Sandbox, SandboxUnavailable, detect_isolation
from .suite import SuiteError, TestSuite, parse_suite

TIMEOUT_S = 4.0  # per test
MEMORY_MB = 512
OUTPUT_BYTES = 1 << 20


class TestOutcome(BaseModel):
    __test__ = False  # not a pytest class

    status: str
    seconds: float
    max_rss_kb: int


def _run_status(r: RunResult) -> str | None:
    """The status of a run that did not finish normally; None when it did."""
    if r.oom_killed:
        return "memory_limit"
    if r.timed_out:
        return "timeout"
    if r.output_overflow:
        return "output_limit"
    if r.exit_code == 0 and r.signal is None:
        return None
    if r.exit_code == 137:  # the child's MemoryError handler
        return "memory_limit"
    return "runtime_error"


def _reported(r: RunResult, marker: str) -> str | None:
    """What the harness reported after the marker; None when the program ended before it did."""
    for line in reversed(r.stdout.splitlines()):
        if line.startswith(marker):
            return line[len(marker) :]
    return None


_CHECK_FAILURES = {"assertion": "wrong_answer", "program": "runtime_error", "tests": "gold_unparseable"}


def _judge_checked(r: RunResult) -> str:
    """Assert mode: the program's own limits first, then what the checker saw."""
    status = _run_status(r)
    if status in ("timeout", "output_limit", "memory_limit"):
        return status
    if r.check is None:  # the checker ended without a word: killed by the program, or by a limit
        return "runtime_error"
    if r.check.passed:
        return "passed" if status is None else status
    return _CHECK_FAILURES[r.check.failure or "program"]


def _judge_run(r: RunResult, kind: str, expected: Any, marker: str) -> str:
    if kind == "assert":
        return _judge_checked(r)
    status = _run_status(r)
    if status is not None:
        return status
    if kind == "stdio":
        return "passed" if stdout_matches(r.stdout, expected) else "wrong_answer"
    report = _reported(r, marker)
    if report is None:  # sys.exit(0) before the result was reported
        return "runtime_error"
    try:
        result = json.loads(report)
    except (ValueError, RecursionError):  # a report the harness did not write
        return "runtime_error"
    return "passed" if call_matches(result, expected) else "wrong_answer"


def run_tests(sandbox: Sandbox, code: str, suite: TestSuite, timeout_s: float = TIMEOUT_S,
              memory_mb: int = MEMORY_MB, stop_on_failure: bool = True) -> list[TestOutcome]:
    """One outcome per test run, in order; with `stop_on_failure`, none after the first failure."""
    marker = f"@@rfactory-{secrets.token_hex(16)}@@"  # per run: a program cannot print it in advance
    limits = {"timeout_s": timeout_s, "memory_mb": memory_mb, "output_bytes": OUTPUT_BYTES}
    if suite.kind == "stdio":
        runs = [({"stdin": case.input}, case.output) for case in suite.stdio]
    elif suite.kind == "call":
        runs = [({"harness": {"mode": "call", "fn_name": suite.fn_name, "args": c.args, "marker": marker}}, c.expected)
                for c in suite.calls]
    else:
        runs = [({"harness": {"mode": "assert", "test_code": suite.test_code, "entry_point": suite.entry_point,
                              "setup": suite.setup}}, None)]
    outcomes = []
    for args, expected in runs:
        r = sandbox.run(code, **args, **limits)
        status = _judge_run(r, suite.kind, expected, marker)
        outcomes.append(TestOutcome(status=status, seconds=r.seconds, max_rss_kb=r.max_rss_kb))
        if stop_on_failure and status != "passed":
            break
    return outcomes


def judge_solution(sandbox: Sandbox, solution: str, tests: str, timeout_s: float = TIMEOUT_S,
                   stop_on_failure: bool = True, memory_mb: int = MEMORY_MB) -> Verdict:
    code = extract_code(solution)
    if code is None:
        return Verdict(passed=False, status="no_code", reason="no Python block in the solution")
    try:
        suite = parse_suite(tests)
    except SuiteError as e:
        return Verdict(passed=False, status="gold_unparseable", reason=str(e)[:200], extracted=code[:2000])
    outcomes = run_tests(sandbox, code, suite, timeout_s, memory_mb, stop_on_failure)
    failed = next((i for i, o in enumerate(outcomes) if o.status != "passed"), None)
    detail = json.dumps([o.model_dump() for o in outcomes])
    common = {"extracted": code[:2000], "expected": f"{suite.size()} {suite.kind} tests", "detail": detail}
    if failed is None:
        return Verdict(passed=True, status="passed", reason=f"{len(outcomes)}/{suite.size()} tests passed", **common)
    status = outcomes[failed].status
    return Verdict(passed=False, status=status, reason=f"test {failed + 1} of {suite.size()}: {status}", **common)


class ProgramOutputs(BaseModel):
    """What a program gave for each input: ("ok", what it printed or returned) or (status, "")."""

    outputs: list[tuple[str, str]]


def _canonical_stdout(text: str) -> str:
    """Trailing spaces and blank lines are not part of an answer (as `stdout_matches` judges)."""
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def program_outputs(sandbox: Sandbox, solution: str, kind: str, fn_name: str | None, inputs: list[str],
                    timeout_s: float = TIMEOUT_S, memory_mb: int = MEMORY_MB) -> ProgramOutputs:
    """Run the solution's program on each input: stdin text (`kind` "stdio") or a JSON array of
    the arguments of `fn_name` ("call"). Outputs are canonical text, so equal answers compare equal."""
    code = extract_code(solution)
    if code is None:
        return ProgramOutputs(outputs=[("no_code", "")] * len(inputs))
    limits = {"timeout_s": timeout_s, "memory_mb": memory_mb, "output_bytes": OUTPUT_BYTES}
    marker = f"@@rfactory-{secrets.token_hex(16)}@@"
    outputs: list[tuple[str, str]] = []
    for text in inputs:
        if kind == "stdio":
            r = sandbox.run(code, stdin=text, **limits)
        else:
            r = sandbox.run(code, harness={"mode": "call", "fn_name": fn_name, "args": json.loads(text),
                                           "marker": marker}, **limits)
        status = _run_status(r)
        if status is not None:
            outputs.append((status, ""))
        elif kind == "stdio":
            outputs.append(("ok", _canonical_stdout(r.stdout)))
        else:
            report = _reported(r, marker)
            try:
                outputs.append(("ok", json.dumps(json.loads(report), sort_keys=True)) if report is not None
                               else ("runtime_error", ""))
            except (ValueError, RecursionError):
                outputs.append(("runtime_error", ""))
    return ProgramOutputs(outputs=outputs)


_sandbox: Sandbox | None = None  # one per worker process, started on first use


def _worker_sandbox(options: dict[str, Any]) -> Sandbox:
    global _sandbox
    if _sandbox is None:
        _sandbox = Sandbox(allow_unsandboxed=options["allow_unsandboxed"])
    return _sandbox


def _verify_task(solution: str, tests: str, timeout_s: float, options: dict[str, Any]) -> Verdict:
    return judge_solution(_worker_sandbox(options), solution, tests, timeout_s, options["stop_on_first_failure"],
                          options["memory_mb"])


def _outputs_task(solution: str, kind: str, fn_name: str | None, inputs: list[str], timeout_s: float,
                  options: dict[str, Any]) -> ProgramOutputs:
    return program_outputs(_worker_sandbox(options), solution, kind, fn_name, inputs, timeout_s, options["memory_mb"])


def _close_sandbox() -> None:
    global _sandbox
    if _sandbox is not None:
        _sandbox.close()
        _sandbox = None


def verify(solution: str, tests: str, timeout_s: float = TIMEOUT_S) -> Verdict:
    """Run the solution's program against `tests` (any format `suite` reads) in a fresh sandbox;
    returns once every process the call started has exited."""
    with Sandbox() as sandbox:
        return judge_solution(sandbox, solution, tests, timeout_s)


def verify_many(tasks: Iterable[tuple[Any, str, str]], timeout_s: float = TIMEOUT_S, workers: int = 1,
                memory_mb: int = MEMORY_MB, stop_on_first_failure: bool = True,
                allow_unsandboxed: bool = False, persistent: bool = False) -> Iterator[tuple[Any, Verdict]]:
    """(key, Verdict) for each (key, solution, tests), judged by `workers` sandboxes.

    Raises SandboxUnavailable before any work when no isolation works here and the caller did
    not opt in. A pair whose whole run overstays (every test at its limit, and more) is killed
    with its worker: a `sandbox_error`, never a wrong answer. When the iteration ends, every
    process it started (workers, sandboxes, programs) has exited; with `persistent`, the workers
    and their sandboxes are instead this process's shared pool, kept for the next call.
    """
    options = {"memory_mb": memory_mb, "stop_on_first_failure": stop_on_first_failure,
               "allow_unsandboxed": allow_unsandboxed}
    for key, status, payload in _in_sandboxes(
            _verify_task, ((k, (s, t, timeout_s, options)) for k, s, t in tasks), timeout_s, workers, allow_unsandboxed,
            persistent):
        if status == "ok":
            yield key, Verdict(**payload)
        else:
            yield key, Verdict(passed=False, status="sandbox_error", reason=str(payload)[:200])


def outputs_many(tasks: Iterable[tuple[Any, str, str, str | None, list[str]]], timeout_s: float = TIMEOUT_S,
                 workers: int = 1, memory_mb: int = MEMORY_MB, allow_unsandboxed: bool = False
                 ) -> Iterator[tuple[Any, list[tuple[str, str]]]]:
    """(key, outputs) for each (key, solution, kind, fn_name, inputs), as `program_outputs` gives
    them, under the same isolation and deadlines as `verify_many`; a sandbox failure gives every
    input the status `sandbox_error`."""
    options = {"memory_mb": memory_mb, "allow_unsandboxed": allow_unsandboxed}
    jobs = {}

    def args() -> Iterator[tuple[Any, tuple[Any, ...]]]:
        for key, solution, kind, fn_name, inputs in tasks:
            jobs[key] = len(inputs)
            yield key, (solution, kind, fn_name, inputs, timeout_s, options)

    for key, status, payload in _in_sandboxes(_outputs_task, args(), timeout_s, workers, allow_unsandboxed):
        yield key, ([tuple(o) for o in payload["outputs"]] if status == "ok" else [("sandbox_error", "")] * jobs[key])


# a probe starts a sandbox (tens of ms): a pool kept for the process's life probes once
_isolation_here = functools.cache(detect_isolation)


def _in_sandboxes(fn: Any, tasks: Iterable[tuple[Any, tuple[Any, ...]]], timeout_s: float, workers: int,
                  allow_unsandboxed: bool, persistent: bool = False) -> Iterator[tuple[Any, str, Any]]:
    isolation = _isolation_here() if persistent else detect_isolation()
    if isolation.level == "none" and not allow_unsandboxed:
        raise SandboxUnavailable(f"refusing to run untrusted code without isolation ({isolation.detail})")
    hard = 60 * timeout_s + 30  # the per-test limits stop programs; this stops a stuck sandbox
    # a worker's sandbox is made with its first task's isolation choice: one shared pool per choice
    yield from run_tasks(fn, tasks, hard, workers, _close_sandbox, persistent, tag=allow_unsandboxed)


__all__ = ["ProgramOutputs", "TestOutcome", "outputs_many", "program_outputs", "run_tests", "verify", "verify_many"]
