import threading

import pytest

from rfactory.verifiers.math import last_boxed, verify
from rfactory.verifiers.pool import run_with_deadline


@pytest.mark.parametrize("solution,gold", [
    ("so \\boxed{\\frac{1}{2}}", "0.5"),
    ("\\boxed{\\dfrac{3}{4}}", "\\frac{3}{4}"),
    ("\\boxed{2\\sqrt{3}}", "\\sqrt{12}"),
    ("\\boxed{x = 5}", "5"),
    ("\\boxed{1,000}", "1000"),
    ("\\boxed{(1, 2)}", "(1,2)"),
    ("\\boxed{50\\%}", "50"),
    ("\\boxed{0.333}", "\\frac{1}{3}"),
    ("The answer is $\\boxed{12}$.", "$12$"),
    ("\\boxed{2x+2}", "2(x+1)"),
    ("\\boxed{\\pm 2}", "2, -2"),
    ("\\boxed{-2, 2}", "\\pm 2"),
    ("\\boxed{1 \\pm \\sqrt{2}}", "1-\\sqrt{2}, 1+\\sqrt{2}"),
    ("\\boxed{3, 1}", "1, 3"),
    ("\\boxed{\\text{(C)} 12}", "C"),
    ("\\boxed{Monday}", "monday"),
])
def test_equivalent(solution, gold):
    v = verify(solution, gold)
    assert v.passed and v.status == "correct", v


@pytest.mark.parametrize("solution,gold,status", [
    ("\\boxed{3}", "4", "mismatch"),
    ("\\boxed{0.33}", "\\frac{1}{3}", "correct"),
    ("\\boxed{0.3}", "\\frac{1}{3}", "correct"),
    ("\\boxed{0.34}", "\\frac{1}{3}", "mismatch"),
    ("the answer is 4", "4", "no_answer"),
    ("\\boxed{4", "4", "no_answer"),
    ("\\boxed{1} then finally \\boxed{2", "1", "no_answer"),
    ("\\boxed{4}", "", "gold_unparseable"),
    ("\\boxed{\\weird{4}}", "5", "parse_error"),
    ("\\boxed{1.0000001}", "1", "mismatch"),
    ("\\boxed{(2, 1)}", "(1, 2)", "mismatch"),  # an ordered pair keeps its order
    ("\\boxed{C, D}", "C", "mismatch"),  # hedging between choices is not an answer
    ("\\boxed{2}", "\\pm 2", "mismatch"),
    ("<|begin_of_thought|>draft \\boxed{7} and then the tokens ran out", "7", "no_answer"),
])
def test_rejections_say_why(solution, gold, status):
    v = verify(solution, gold)
    assert v.status == status, v
    assert v.passed == (status == "correct")
    assert v.reason


def test_only_the_solution_section_counts():
    trace = "<|begin_of_thought|>\\boxed{9}<|end_of_thought|><|begin_of_solution|>so \\boxed{4}<|end_of_solution|>"
    assert verify(trace, "4").passed
    assert not verify(trace, "9").passed


def test_last_boxed_is_balanced():
    assert last_boxed("\\boxed{\\frac{1}{2}} and \\fbox{3}") == "3"
    assert last_boxed("\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"


def _sleepy(seconds: float, tag: str):
    import time

    from rfactory.verifiers.math import Verdict

    time.sleep(seconds)
    return Verdict(passed=True, status="correct", reason=tag)


def test_deadline_kills_a_stuck_task_from_a_worker_thread():
    import multiprocessing
    import time

    tasks = [("a", (0.01, "a")), ("stuck", (60.0, "b")), ("c", (0.01, "c")), ("d", (0.01, "d"))]
    results: dict = {}

    def consume():
        for key, status, payload in run_with_deadline(_sleepy, tasks, timeout_s=2.0, workers=2):
            results[key] = (status, payload)

    started = time.monotonic()
    thread = threading.Thread(target=consume)  # signal.alarm would fail here: not the main thread
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    assert time.monotonic() - started < 30
    assert results["stuck"] == ("timeout", "no verdict within 2s")
    assert {k: v[0] for k, v in results.items() if k != "stuck"} == {"a": "ok", "c": "ok", "d": "ok"}
    assert results["c"][1]["reason"] == "c"
    assert multiprocessing.active_children() == []  # killed, replaced and finally reaped: no leaks


def test_a_crashing_verifier_is_an_error_not_a_crash():
    results = list(run_with_deadline(verify, [("k", (None, "1"))], timeout_s=5, workers=1))
    assert results[0][0] == "k" and results[0][1] == "error"
