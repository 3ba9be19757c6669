"""The step rules and the rollout search, rule by rule (`label-steps` end to end is in
test_label_steps.py)."""

from __future__ import annotations

from rfactory.prm.search import labels, monotone, needed
from rfactory.stepwise import StepRule


def test_step_rules_cut_and_refuse():
    text = "First we add.\n\n  \nThen we carry.\n\nSo 7."
    assert StepRule().cut(text) == ["First we add.", "Then we carry.", "So 7."]
    marked = "Let us go.\nStep 1: add.\nmore of step one\nstep 2) carry\nSTEP 3. done"
    assert StepRule(split="marker").cut(marked) == ["Let us go.", "Step 1: add.\nmore of step one", "step 2) carry",
                                                    "STEP 3. done"]
    assert StepRule(split="regex", pattern=r"(?m)^- ").cut("- a\n- b\n- c") == ["- a", "- b", "- c"]
    assert StepRule(max_steps=2).why_not(["a", "b", "c"]) == "too_many_steps"
    assert StepRule(max_step_chars=3).why_not(["abcd"]) == "step_too_long"
    assert StepRule().why_not([]) == "no_steps" and StepRule().why_not(["a"]) is None


def test_binary_search_asks_in_chunks_and_stops_at_a_success():
    # 8 steps, wrong trace: probe 4 first, two rollouts at a time
    assert needed(8, False, {}, "binary", rollouts=4, chunk=2) == {4: 2}
    assert needed(8, False, {4: [False, False]}, "binary", 4, 2) == {4: 4}
    assert needed(8, False, {4: [False, True]}, "binary", 4, 2) == {6: 2}  # settled right at its first success
    assert needed(8, False, {4: [False] * 4}, "binary", 4, 2) == {2: 2}  # settled wrong after all four
    done = {4: [False] * 4, 2: [True, False], 3: [False] * 4}
    assert needed(8, False, done, "binary", 4, 2) == {}
    got = labels(8, False, done, "binary")
    assert got.hard == [True, True, False, False, False, False, False, False] and got.first_error == 2
    assert got.rollouts == [0, 2, 4, 4, 0, 0, 0, 0] and got.soft[:4] == [None, 0.5, 0.0, 0.0] and got.soft[-1] == 0.0
    assert needed(8, True, {}, "binary", 4, 2) == {}  # a right trace: every prefix right already
    assert labels(3, True, {}, "binary").hard == [True, True, True]


def test_linear_search_labels_every_prefix_and_the_trace_itself_counts():
    assert needed(4, True, {1: [True]}, "linear", 2, 1) == {1: 2, 2: 2, 3: 2}
    outcomes = {1: [True, False], 2: [False, False], 3: [True, True]}
    wrong = labels(4, False, outcomes, "linear")
    assert wrong.hard == [True, False, True, False] and wrong.first_error == 1 and not monotone(wrong.hard)
    assert wrong.soft == [0.5, 0.0, 1.0, 0.0]
    right = labels(4, True, outcomes, "linear")
    assert right.hard == [True] * 4 and right.soft == [0.5, 0.0, 1.0, 1.0]  # its own ending reached the answer
    assert monotone([True, True, False, False]) and monotone([False, False]) and monotone([True])
