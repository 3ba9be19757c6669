"""LiveCodeBench rows into rfactory suites: private tests decoded as the dataset encodes them,
with no pickle able to run code or exhaust memory, and converted rows judged by the real sandbox."""

import base64
import json
import pickle
import time
import zlib

import pytest

from rfactory.livecodebench import RELEASE_FILES, files_for, in_window, problem_from_row
from rfactory.safe_pickle import UnsafePickle, decode_lcb_private, loads_plain
from rfactory.verifiers.code import verify_many
from rfactory.verifiers.code.suite import parse_suite


def lcb_encode(cases: list[dict]) -> str:
    """Exactly what LiveCodeBench's dataset holds in `private_test_cases`."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode()


def fenced(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code}\n```\n"


STDIN_CASES = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"},
               {"input": "10 -4\n", "output": "6\n", "testtype": "stdin"}]
STDIN_ROW = {
    "question_title": "A+B", "question_content": "Print the sum of two integers.", "platform": "atcoder",
    "question_id": "abc000_a", "contest_id": "abc000", "contest_date": "2023-08-21T00:00:00", "starter_code": "",
    "difficulty": "easy", "public_test_cases": json.dumps(STDIN_CASES[:1]),
    "private_test_cases": lcb_encode(STDIN_CASES[1:]), "metadata": "{}",
}

STARTER = "class Solution:\n    def maxSum(self, nums: List[int], k: int) -> int:\n        "
FUNCTIONAL_ROW = {
    "question_title": "max-sum", "question_content": "Return the largest sum of k elements of nums.",
    "platform": "leetcode", "question_id": "2954", "contest_id": "weekly-contest-375",
    "contest_date": "2023-12-09T00:00:00", "starter_code": STARTER, "difficulty": "medium",
    "public_test_cases": json.dumps([{"input": "[1, 5, 3]\n2", "output": "8", "testtype": "functional"}]),
    "private_test_cases": lcb_encode([{"input": "[-1, -2]\n1", "output": "-1", "testtype": "functional"},
                                      {"input": "[4]\n1", "output": "4", "testtype": "functional"}]),
    "metadata": json.dumps({"func_name": "maxSum"}),
}


def test_private_tests_round_trip_in_both_encodings():
    assert decode_lcb_private(lcb_encode(STDIN_CASES)) == STDIN_CASES
    assert decode_lcb_private(json.dumps(STDIN_CASES)) == STDIN_CASES  # the oldest rows: plain JSON


class RunsCode:
    def __init__(self, call, arg):
        self.call, self.arg = call, arg

    def __reduce__(self):
        return self.call, (self.arg,)


@pytest.mark.parametrize("make", [
    lambda marker: RunsCode(__import__("os").system, f"touch {marker}"),
    lambda marker: RunsCode(eval, f"open({str(marker)!r}, 'w').close()"),
])
def test_a_pickle_that_calls_anything_is_refused_before_it_runs(tmp_path, make):
    marker = tmp_path / "pwned"
    data = pickle.dumps(make(marker))
    with pytest.raises(UnsafePickle, match=r"refers to (posix\.system|builtins\.eval): refused"):
        loads_plain(data)
    with pytest.raises(UnsafePickle, match="refused"):
        decode_lcb_private(base64.b64encode(zlib.compress(data)).decode())
    with pytest.raises(UnsafePickle, match="private_test_cases: pickle refers to"):
        problem_from_row({**STDIN_ROW, "private_test_cases": base64.b64encode(zlib.compress(data)).decode()})
    assert not marker.exists()


def test_persistent_ids_and_non_plain_types_are_refused():
    class Persisting(pickle.Pickler):
        def persistent_id(self, obj):
            return "ref" if obj == "x" else None

    import io

    buffer = io.BytesIO()
    Persisting(buffer).dump(["x"])
    with pytest.raises(UnsafePickle, match="persistent id"):
        loads_plain(buffer.getvalue())
    with pytest.raises(UnsafePickle, match="bytearray"):  # made by an opcode, not a global: caught by the walk
        loads_plain(pickle.dumps(bytearray(b"ab"), protocol=5))
    plain = {"s": "t", "b": b"x", "n": [1, 2.5, True, None], "t": (1, ()), "e": ((), ()), "set": {3}}
    assert loads_plain(pickle.dumps(plain)) == plain


def test_shared_or_cyclic_containers_and_repeated_big_strings_are_refused():
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="referenced twice"):
        loads_plain(pickle.dumps(cyclic))
    inner = [1, 2]
    with pytest.raises(ValueError, match="referenced twice"):
        loads_plain(pickle.dumps([inner, inner]))
    big = "x" * 1000
    assert loads_plain(pickle.dumps([big] * 3), max_bytes=10_000) == [big] * 3
    with pytest.raises(ValueError, match="over the size limit"):  # 100 references to one string: 100 KB out
        loads_plain(pickle.dumps([big] * 100), max_bytes=10_000)


def test_a_zlib_bomb_is_refused_quickly():
    bomb = base64.b64encode(zlib.compress(b"\0" * (300 << 20), 9)).decode()
    started = time.monotonic()
    with pytest.raises(ValueError, match="decompresses to over 1048576 bytes: refused"):
        decode_lcb_private(bomb, max_bytes=1 << 20)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("text,message", [
    ("not base64!", "neither JSON nor base64"),
    (base64.b64encode(b"plain bytes").decode(), "not zlib data"),
    (base64.b64encode(zlib.compress(pickle.dumps("x" * 100))[:-8]).decode(), "truncated"),
    (base64.b64encode(zlib.compress(b"\x80\x04junk")).decode(), "not a readable pickle"),
    (base64.b64encode(zlib.compress(pickle.dumps("{oops"))).decode(), "pickled text is not JSON"),
    ("[{oops", "not JSON"),
])
def test_undecodable_private_tests_say_which_step_failed(text, message):
    with pytest.raises(ValueError, match=message):
        decode_lcb_private(text)
    with pytest.raises(ValueError, match=f"^private_test_cases: .*{message}"):
        problem_from_row({**STDIN_ROW, "private_test_cases": text})


def test_release_tags_are_cumulative_and_bare_tags_name_one_file():
    assert files_for("release_v1") == ["test.jsonl"]
    assert files_for("release_v2") == ["test.jsonl", "test2.jsonl"]
    every = ["test.jsonl"] + [f"test{n}.jsonl" for n in range(2, 7)]
    assert files_for("release_v6") == files_for("release_latest") == every
    assert files_for("v1") == ["test.jsonl"] and files_for("v5") == ["test5.jsonl"]
    assert len(RELEASE_FILES) == 13
    with pytest.raises(ValueError, match="unknown LiveCodeBench release 'release_v9' .*release_v5"):
        files_for("release_v9")


def test_date_windows_are_inclusive_and_a_month_end_takes_the_whole_month():
    assert in_window("2024-08-01T00:00:00", "2024-08", "2025-01")
    assert in_window("2025-01-31T00:00:00", "2024-08", "2025-01")
    assert not in_window("2025-02-01T00:00:00", "2024-08", "2025-01")
    assert not in_window("2024-07-31T00:00:00", "2024-08", "2025-01")
    assert in_window("2024-02-29T00:00:00", None, "2024-02")  # a leap month's last day
    assert in_window("2024-05-10T00:00:00", "2024-05-10", "2024-05-10")
    assert not in_window("2024-05-11T00:00:00", None, "2024-05-10")
    assert in_window("2020-01-01", None, None)
    with pytest.raises(ValueError, match="contest_date ''"):
        in_window("", "2024-08", None)
    with pytest.raises(ValueError, match="date bound '2024/08'"):
        in_window("2024-08-01T00:00:00", "2024/08", None)


def test_rows_become_suites_of_every_test_and_of_the_public_ones():
    stdin = problem_from_row(STDIN_ROW)
    assert (stdin["id"], stdin["starter_code"], stdin["difficulty"]) == ("abc000_a", None, "easy")
    assert parse_suite(stdin["answer"]).model_dump(include={"kind", "stdio"}) == {
        "kind": "stdio", "stdio": [{"input": c["input"], "output": c["output"]} for c in STDIN_CASES]}
    assert parse_suite(stdin["public_tests"]).size() == 1
    functional = problem_from_row(FUNCTIONAL_ROW)
    suite = parse_suite(functional["answer"])
    assert (suite.kind, suite.fn_name, functional["starter_code"]) == ("call", "maxSum", STARTER)
    assert [(c.args, c.expected) for c in suite.calls] == [([[1, 5, 3], 2], 8), ([[-1, -2], 1], -1), ([[4], 1], 4)]
    no_public = problem_from_row({**STDIN_ROW, "public_test_cases": "[]"})
    assert no_public["public_tests"] is None and parse_suite(no_public["answer"]).size() == 1


@pytest.mark.parametrize("change,message", [
    ({"metadata": "{}"}, "^metadata: a functional problem needs 'func_name'"),
    ({"public_test_cases": "[]", "private_test_cases": ""}, "no tests"),
    ({"public_test_cases": "{oops"}, "^public_test_cases: not JSON"),
    ({"public_test_cases": json.dumps([{"input": "1"}])}, r"^public_test_cases\[0\]: expected an object"),
    ({"public_test_cases": json.dumps([{"input": "[1\n2", "output": "1", "testtype": "functional"}])},
     r"^public_test_cases\[0\]\.input: line 1 is not JSON"),
    ({"public_test_cases": json.dumps([{"input": "1", "output": "1", "testtype": "stdin"}])},
     "mixes stdin and functional"),
])
def test_bad_rows_name_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        problem_from_row({**FUNCTIONAL_ROW, **change})


def test_converted_rows_are_judged_by_the_sandbox():
    stdin, functional = problem_from_row(STDIN_ROW), problem_from_row(FUNCTIONAL_ROW)
    # no `from typing import List`: as on LeetCode, the judge has those names in scope
    leetcode = ("class Solution:\n    def maxSum(self, nums: List[int], k: int) -> int:\n"
                "        return sum(sorted(nums)[-k:])\n")
    tasks = [
        ("stdin good", fenced("a, b = map(int, input().split())\nprint(a + b)"), stdin["answer"]),
        ("stdin bad", fenced("a, b = map(int, input().split())\nprint(a - b)"), stdin["answer"]),
        ("call good", fenced(leetcode), functional["answer"]),
        ("call bad", fenced(leetcode.replace("[-k:]", "[:k]")), functional["answer"]),
        ("call public", fenced(leetcode), functional["public_tests"]),
    ]
    got = {key: (v.status, v.reason) for key, v in verify_many(iter(tasks), timeout_s=2.0)}
    assert got == {
        "stdin good": ("passed", "2/2 tests passed"),
        "stdin bad": ("wrong_answer", "test 1 of 2: wrong_answer"),
        "call good": ("passed", "3/3 tests passed"),
        "call bad": ("wrong_answer", "test 1 of 3: wrong_answer"),
        "call public": ("passed", "1/1 tests passed"),
    }
