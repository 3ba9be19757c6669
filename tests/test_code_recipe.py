"""The code recipe: built-in problem sets, the formats users bring, and `generate --recipe code`
→ verify on the embedded teacher."""

import json
from pathlib import Path

from conftest import json_out, load_openthoughts, run_cli, write_jsonl

from rfactory.builtin_code import reference_solutions
from rfactory.problems import iter_problems
from rfactory.recipe import ProblemsConfig, load_recipe
from rfactory.verifiers.code import judge_solution
from rfactory.verifiers.code.sandbox import Sandbox

CODE_STATUSES = {"passed", "wrong_answer", "runtime_error", "timeout", "memory_limit", "output_limit", "no_code",
                 "sandbox_error", "generation_failed"}


def test_the_built_in_set_is_right_about_its_own_reference_solutions():
    problems = list(iter_problems(ProblemsConfig(source="builtin:code")))
    solutions = reference_solutions()
    assert len(problems) == len(solutions) >= 10
    kinds = {json.loads(p.answer).get("fn_name") is None for p in problems}
    assert kinds == {True, False}  # both stdin/stdout and call-based problems
    with Sandbox() as sandbox:
        for p in problems:
            v = judge_solution(sandbox, f"```python\n{solutions[p.id]}```", p.answer)
            assert v.passed, (p.id, v)
            wrong = judge_solution(sandbox, "```python\nprint(0)\n```", p.answer)
            assert not wrong.passed


def test_humaneval_is_a_source_with_starter_code():
    problems = list(iter_problems(ProblemsConfig(source="builtin:humaneval")))
    assert len(problems) == 164 and all(p.starter_code and "def " in p.starter_code for p in problems)
    assert json.loads(problems[0].answer)["entry_point"]


def test_taco_rows_with_object_tests_and_starter_code(tmp_path: Path):
    rows = [{"question": "Add.", "input_output": {"fn_name": "add", "inputs": [[1, 2]], "outputs": [[3]]},
             "starter_code": "def add(a, b):\n"}]
    write_jsonl(tmp_path / "taco.jsonl", rows)
    cfg = ProblemsConfig(source=str(tmp_path / "taco.jsonl"),
                         columns={"problem": "question", "answer": "input_output", "starter_code": "starter_code"})
    (p,) = iter_problems(cfg)
    assert json.loads(p.answer)["fn_name"] == "add" and p.starter_code == "def add(a, b):\n"


def _echo(code: str) -> str:
    # SmolLM2 at temperature 0 copies a code block it is shown twice: a deterministic teacher
    block = f"```python\n{code}\n```"
    return f"Copy this code block exactly:\n{block}\n\n{block}"


ECHO_CODE_RECIPE = """
name: echo
domain: code
problems: {source: problems.jsonl, columns: {id: id, starter_code: starter_code}}
teacher: {spec: "llamacpp:smollm2", options: {n_ctx: 1024}}
prompt: {teacher_system: null, user_template: "{problem}"}
sampling: {samples: 1, max_tokens: 60, temperature: 0}
verifier: {name: code, timeout_s: 2}
"""


def test_generate_code_end_to_end_on_the_embedded_teacher(tmp_path: Path):
    tests = {"inputs": ["1\n", "41\n"], "outputs": ["2\n", "42\n"]}
    write_jsonl(tmp_path / "problems.jsonl", [
        {"id": "inc", "problem": _echo("print(int(input()) + 1)"), "answer": tests, "starter_code": None},
        {"id": "off-by-one", "problem": _echo("print(int(input()) + 2)"), "answer": tests, "starter_code": None},
        {"id": "add", "problem": _echo("def add(a, b):\n    return a + b"), "starter_code": "def add(a, b):\n",
         "answer": {"fn_name": "add", "inputs": [[1, 2], [5, 5]], "outputs": [[3], [10]]}},
    ])
    (tmp_path / "echo.yaml").write_text(ECHO_CODE_RECIPE)
    ver = json_out(run_cli("generate", "--recipe", "echo.yaml", "--out", "runs/e", "--json", cwd=tmp_path))["verify"]
    assert (ver["samples"], ver["passed"], ver["failures_by_reason"]) == (3, 2, {"wrong_answer": 1})

    import pyarrow.parquet as pq

    verdicts = {v["problem_id"]: v for v in pq.read_table(tmp_path / "runs/e/verdicts").to_pylist()}
    assert verdicts["off-by-one"]["reason"] == "test 1 of 2: wrong_answer"
    assert [t["status"] for t in json.loads(verdicts["inc"]["detail"])] == ["passed", "passed"]

    data, meta = load_openthoughts(tmp_path / "runs/e/dataset", tmp_path / "hf")
    rows = {m["problem_id"]: m for m in meta}
    assert set(rows) == {"inc", "add"}
    assert json.loads(rows["add"]["test_cases"])["fn_name"] == "add" and rows["add"]["starter_code"] == "def add(a, b):\n"
    assert rows["inc"]["starter_code"] is None and rows["inc"]["verdict"] == "passed"
    assert "```python" in data[0]["conversations"][1]["value"]


def test_the_shipped_code_recipe_runs_on_the_embedded_default(tmp_path: Path):
    assert load_recipe("code", {}).verifier.name == "code"
    result = run_cli("generate", "--recipe", "code", "--limit", "3", "--samples", "1", "--out", "runs/c", "--json",
                     cwd=tmp_path)
    ver = json_out(result)["verify"]
    assert ver["samples"] == 3 and ver["passed"] + sum(ver["failures_by_reason"].values()) == 3
    assert set(ver["failures_by_reason"]) <= CODE_STATUSES


def test_tests_spread_over_several_columns(tmp_path: Path):
    """CodeContests keeps its tests in three columns, HumanEval in two: named together, they travel as one."""
    write_jsonl(tmp_path / "cc.jsonl", [{
        "description": "Echo the number.",
        "public_tests": {"input": ["1\n"], "output": ["1\n"]},
        "private_tests": {"input": ["2\n"], "output": ["2\n"]},
        "generated_tests": {"input": [], "output": []},
    }])
    cfg = ProblemsConfig(source=str(tmp_path / "cc.jsonl"),
                         columns={"problem": "description", "answer": "public_tests,private_tests,generated_tests"})
    (p,) = iter_problems(cfg)
    with Sandbox() as sandbox:
        assert judge_solution(sandbox, "```python\nprint(input())\n```", p.answer).reason == "2/2 tests passed"
