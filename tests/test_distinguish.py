"""S*'s second stage, rule by rule: the knockout between clusters of tied candidates and the
inputs read from a model's answer. The whole stage, with the model, the sandbox and a rerun, is
tested end to end in test_eval_benchmarks.py."""

from __future__ import annotations

import json

from rfactory.eval.distinguish import Ask, judge_key, parse_inputs, pick
from rfactory.eval.public_tests import Candidate
from rfactory.benchmarks import EvalProblem

A, B, C = Candidate(0, False, 1), Candidate(1, True, 1), Candidate(2, False, 1)
INPUTS = ["1\n", "2\n"]


def test_a_pending_judgment_is_asked_and_its_verdict_decides():
    outputs = {0: [("ok", "1"), ("ok", "5")], 1: [("ok", "1"), ("ok", "4")]}
    ask: dict[str, Ask] = {}
    assert pick("p", [A, B], 2, INPUTS, outputs, {}, ask) is None
    (key, question), = ask.items()
    assert question == Ask("p", "2\n", "5", "4") and key == judge_key("p", "2\n", "5", "4")  # the first input they differ on
    assert pick("p", [A, B], 2, INPUTS, outputs, {key: "B"}) == B
    assert pick("p", [A, B], 2, INPUTS, outputs, {key: "A"}) == A
    assert pick("p", [A, B], 1, INPUTS, outputs, {}) == A  # alone at k = 1: nothing to ask


def test_a_program_that_fails_where_the_other_answers_loses_without_a_question():
    outputs = {0: [("timeout", ""), ("ok", "5")], 1: [("ok", "3"), ("ok", "5")]}
    ask: dict[str, Ask] = {}
    assert pick("p", [A, B], 2, INPUTS, outputs, {}, ask) == B and not ask


def test_sandbox_failures_and_two_different_crashes_say_nothing():
    outputs = {0: [("sandbox_error", ""), ("runtime_error", "")], 1: [("ok", "3"), ("timeout", "")]}
    ask: dict[str, Ask] = {}
    assert pick("p", [A, B], 2, INPUTS, outputs, {}, ask) == A and not ask  # nothing told them apart: A holds


def test_a_judgment_without_a_letter_moves_on_to_the_next_input():
    outputs = {0: [("ok", "1"), ("ok", "5")], 1: [("ok", "2"), ("ok", "4")]}
    first = judge_key("p", "1\n", "1", "2")
    ask: dict[str, Ask] = {}
    assert pick("p", [A, B], 2, INPUTS, outputs, {first: None}, ask) is None
    assert [q.input for q in ask.values()] == ["2\n"]


def test_the_largest_cluster_holds_the_title_then_the_earliest():
    outputs = {0: [("ok", "1")], 1: [("ok", "2")], 2: [("ok", "2")]}
    ask: dict[str, Ask] = {}
    pick("p", [A, B, C], 3, INPUTS[:1], outputs, {}, ask)
    assert [(q.a, q.b) for q in ask.values()] == [("2", "1")]  # B and C agree: their cluster holds the title, A challenges it
    assert pick("p", [A, B, C], 3, INPUTS[:1], outputs, {judge_key("p", "1\n", "2", "1"): "A"}) == B


def test_only_those_first_on_public_tests_take_part():
    low = Candidate(0, True, 0)
    outputs = {0: [("ok", "9")], 1: [("ok", "1")]}
    assert pick("p", [low, B], 2, INPUTS[:1], outputs, {}) == B


def problem(tests: dict) -> EvalProblem:
    return EvalProblem(id="p", problem="?", answer="{}", public_tests=json.dumps(tests))


def test_inputs_are_read_from_fenced_blocks():
    stdio = problem({"inputs": ["1 2\n"], "outputs": ["3\n"]})
    answer = "Here:\n```input\n5 7\n```\n```\n0 0\n```\n```input\n5 7\n```\n```python\nprint(1)\n```"
    assert parse_inputs(answer, stdio) == ["5 7\n", "0 0\n"]  # repeats and programs left out
    call = problem({"fn_name": "f", "inputs": [[1, 2]], "outputs": [3]})
    answer = "```input\n[1, 2]\n3\n```\n```input\n4\n```\n```input\nnot json\n1\n```\n```json\n\"a\"\n7\n```"
    assert parse_inputs(answer, call) == ["[[1, 2], 3]", '["a", 7]']  # two arguments each, as the tests pass
    assert parse_inputs(None, call) == []
