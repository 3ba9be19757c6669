"""Code problems on plain data: test suites from the formats users have, the program in a
solution, and judging what a run printed or returned."""

import json

import pytest

from rfactory.verifiers.code.extract import extract_code
from rfactory.verifiers.code.judge import call_matches, stdout_matches, value_matches
from rfactory.verifiers.code.suite import SuiteError, TestSuite, parse_suite


def test_taco_stdio_and_call_based_and_code_contests_and_humaneval():
    stdio = parse_suite(json.dumps({"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "7\n"]}))
    assert stdio.kind == "stdio" and [c.output for c in stdio.stdio] == ["3\n", "7\n"]
    call = parse_suite({"input_output": {"fn_name": "add", "inputs": [[1, 2]], "outputs": [[3]]}})
    assert call.kind == "call" and call.fn_name == "add" and call.calls[0].args == [1, 2]
    cc = parse_suite({"public_tests": {"input": ["1\n"], "output": ["1\n"]},
                      "private_tests": {"input": ["2\n"], "output": ["4\n"]}, "generated_tests": None})
    assert [c.input for c in cc.stdio] == ["1\n", "2\n"]
    he = parse_suite({"test": "def check(candidate):\n    assert candidate(1) == 2\n", "entry_point": "inc"})
    assert he.kind == "assert" and he.entry_point == "inc"
    assert parse_suite(he.model_dump_json()) == he  # our own form, as the metadata shards carry it


@pytest.mark.parametrize("raw,message", [
    ("{not json", "invalid JSON"),
    ({"inputs": ["1"], "outputs": []}, "1 inputs but 0 outputs"),
    ({"fn_name": "f", "inputs": ["1"], "outputs": [1]}, "inputs[0]: a call-based test's input must be an argument list"),
    ({"inputs": [], "outputs": []}, "no test cases"),
    ({"question": "?"}, "no known format"),
    ({"kind": "stdio", "stdio": [{"input": 1}]}, "tests.stdio.0"),
])
def test_bad_suites_say_where(raw, message):
    with pytest.raises(SuiteError) as e:
        parse_suite(raw)
    assert message in str(e.value)


def test_the_last_python_block_of_the_solution_section():
    trace = (
        "<|begin_of_thought|>\n```python\nprint('draft')\n```\n<|end_of_thought|>\n"
        "<|begin_of_solution|>\nFirst:\n```python\nprint(1)\n```\nBetter:\n```py\nprint(2)\n```\n"
        "And a shell line:\n```bash\necho 3\n```\n<|end_of_solution|>"
    )
    assert extract_code(trace) == "print(2)\n"
    assert extract_code("no code here") is None
    assert extract_code("```python\nprint(1)\n") is None  # cut off before the closing fence
    assert extract_code("```\nx = 1\n```") == "x = 1\n"


@pytest.mark.parametrize("got,want,ok", [
    ("3\n", "3", True),
    ("3 \n\n\n", "3\n", True),
    ("1 2\n3\n", "1  2\n3", True),
    ("1 2\n", "1 2\n3\n", False),  # a missing line
    ("1 2\n3\n4\n", "1 2\n3\n", False),  # an extra line
    ("2 1\n", "1 2\n", False),  # reordered
    ("1\n", "1 1\n", False),  # deduplicated
    ("0.3333333\n", "0.333333333\n", True),
    ("0.33\n", "0.333333333\n", False),
    ("10\n", "11\n", False),
    ("007\n", "7\n", False),
    ("1e-9\n", "0.0\n", True),  # within the absolute tolerance
    ("YES\n", "yes\n", False),
    ("nan\n", "nan\n", True),
    ("inf\n", "1e308\n", False),
])
def test_stdout_is_compared_line_by_line(got, want, ok):
    assert stdout_matches(got, want) is ok


def test_call_results_are_plain_values():
    assert value_matches([1, 2], (1, 2))
    assert value_matches({"a": [1.0000000001]}, {"a": [1.0]})
    assert not value_matches(True, 1) and not value_matches(1, True)
    assert not value_matches([1, 2], [1, 2, 3])
    assert not value_matches("1", 1)
    assert call_matches(3, [3]) and call_matches([1, 2], [[1, 2]]) and not call_matches(3, [4])


def test_a_suite_is_not_collected_as_a_test_class():
    assert TestSuite.__test__ is False
