"""A coding problem's tests, read from the formats users have, into one typed suite.

- TACO / APPS `input_output`: {"inputs": [...], "outputs": [...], "fn_name"?: "..."}; with
  `fn_name` each input is an argument list and the problem is call-based.
- CodeContests: {"public_tests": {"input": [...], "output": [...]}, "private_tests": …,
  "generated_tests": …}, all stdin/stdout.
- HumanEval: {"test": "def check(candidate): ...", "entry_point": "...", "prompt"?: "..."}; the
  prompt, when given, runs before the tests (some use helpers it defines, such as `poly`).
- open-r1's `verification_info`: {"language": "python", "test_cases": [{"input": ..., "output": ...,
  "type": "stdin_stdout"}]}.
- Our own form, as written back to the metadata shards: {"kind": ..., ...}.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class StdioCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str
    output: str


class CallCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    args: list[Any]
    expected: Any


class TestSuite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False  # not a pytest class

    kind: Literal["stdio", "call", "assert"]
    stdio: list[StdioCase] = Field(default_factory=list)
    fn_name: str | None = None
    calls: list[CallCase] = Field(default_factory=list)
    test_code: str | None = None  # HumanEval: defines check(candidate)
    entry_point: str | None = None
    setup: str | None = None  # HumanEval's prompt: trusted code the tests may lean on

    def size(self) -> int:
        return {"stdio": len(self.stdio), "call": len(self.calls), "assert": 1}[self.kind]


class SuiteError(ValueError):
    """The tests cannot be read; the message names the field."""


def _as_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)  # some sets store a test's lines as a list
    raise SuiteError(f"{where}: expected text, got {type(value).__name__}")


def _taco(data: dict[str, Any]) -> TestSuite:
    inputs, outputs = data.get("inputs"), data.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise SuiteError("input_output: 'inputs' and 'outputs' must be lists")
    if len(inputs) != len(outputs):
        raise SuiteError(f"input_output: {len(inputs)} inputs but {len(outputs)} outputs")
    if fn_name := data.get("fn_name"):
        calls = []
        for i, args in enumerate(inputs):
            if not isinstance(args, list):
                raise SuiteError(f"input_output.inputs[{i}]: a call-based test's input must be an argument list")
            calls.append(CallCase(args=args, expected=outputs[i]))
        return TestSuite(kind="call", fn_name=str(fn_name), calls=calls)
    cases = [
        StdioCase(input=_as_text(i, f"input_output.inputs[{n}]"), output=_as_text(o, f"input_output.outputs[{n}]"))
        for n, (i, o) in enumerate(zip(inputs, outputs))
    ]
    return TestSuite(kind="stdio", stdio=cases)


def _code_contests(data: dict[str, Any]) -> TestSuite:
    cases = []
    for group in ("public_tests", "private_tests", "generated_tests"):
        tests = data.get(group) or {}
        ins, outs = tests.get("input") or [], tests.get("output") or []
        if len(ins) != len(outs):
            raise SuiteError(f"{group}: {len(ins)} inputs but {len(outs)} outputs")
        cases += [StdioCase(input=_as_text(i, group), output=_as_text(o, group)) for i, o in zip(ins, outs)]
    return TestSuite(kind="stdio", stdio=cases)


def _open_r1(data: dict[str, Any]) -> TestSuite:
    language = str(data.get("language") or "python").lower()
    if language not in ("python", "python3", "py"):
        raise SuiteError(f"verification_info: language {language!r}, only Python programs are run")
    cases = data["test_cases"]
    if not isinstance(cases, list):
        raise SuiteError("verification_info: 'test_cases' must be a list")
    stdio = []
    for n, case in enumerate(cases):
        if not isinstance(case, dict) or case.get("type", "stdin_stdout") != "stdin_stdout":
            raise SuiteError(f"verification_info.test_cases[{n}]: only stdin_stdout tests are supported")
        stdio.append(StdioCase(input=_as_text(case.get("input"), f"verification_info.test_cases[{n}].input"),
                               output=_as_text(case.get("output"), f"verification_info.test_cases[{n}].output")))
    return TestSuite(kind="stdio", stdio=stdio)


def parse_suite(raw: str | dict[str, Any]) -> TestSuite:
    """One suite from any supported format (a dict, or its JSON text); raises SuiteError."""
    data = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise SuiteError(f"tests: invalid JSON ({e.msg})") from None
        except (ValueError, RecursionError) as e:  # a 5000-digit number, nesting too deep
            raise SuiteError(f"tests: unreadable JSON ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise SuiteError(f"tests: expected a JSON object, got {type(data).__name__}")
    if "kind" in data:
        try:
            suite = TestSuite.model_validate(data)
        except ValidationError as e:
            first = e.errors()[0]
            raise SuiteError(f"tests.{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    elif "input_output" in data:
        return parse_suite(data["input_output"])
    elif "inputs" in data or "outputs" in data:
        suite = _taco(data)
    elif any(k in data for k in ("public_tests", "private_tests", "generated_tests")):
        suite = _code_contests(data)
    elif "test_cases" in data:
        suite = _open_r1(data)
    elif "test" in data and "entry_point" in data:
        setup = data.get("prompt")
        suite = TestSuite(kind="assert", test_code=str(data["test"]), entry_point=str(data["entry_point"]),
                          setup=str(setup) if setup else None)
    else:
        raise SuiteError(f"tests: no known format among keys {sorted(data)[:6]}")
    if suite.size() == 0:
        raise SuiteError("tests: the suite has no test cases")
    return suite
