"""LiveCodeBench (`livecodebench/code_generation_lite`) rows, as the code verifier reads them.

A release tag fixes which of the Hub's files are read; a contest-date window picks the problems
a model cannot have seen. Each row's tests (public ones as JSON text, private ones usually
pickled, decoded by `safe_pickle` without running anything) become one rfactory suite:
stdin/stdout cases, or calls of the LeetCode method named in the row's metadata.
"""

from __future__ import annotations

import calendar
import json
from datetime import date, datetime
from typing import Any

from rfactory.verifiers.code.suite import CallCase, StdioCase, TestSuite

from .safe_pickle import decode_lcb_private

_FILES = ["test.jsonl"] + [f"test{n}.jsonl" for n in range(2, 7)]

# Releases are cumulative; the bare `vN` tags name one file, as LiveCodeBench's own loader does.
RELEASE_FILES: dict[str, list[str]] = {
    **{f"release_v{n}": _FILES[:n] for n in range(1, len(_FILES) + 1)},
    "release_latest": list(_FILES),
    **{f"v{n}": [name] for n, name in enumerate(_FILES, start=1)},
}


def files_for(tag: str) -> list[str]:
    """The Hub files a release tag reads, in order."""
    if tag not in RELEASE_FILES:
        raise ValueError(f"unknown LiveCodeBench release {tag!r} (known: {', '.join(RELEASE_FILES)})")
    return list(RELEASE_FILES[tag])


def _bound(text: str, end: bool) -> date:
    """A window bound: YYYY-MM-DD, or YYYY-MM for the whole month (its first day as a start, its last as an end)."""
    try:
        if len(text) == 7:
            year, month = map(int, text.split("-"))
            return date(year, month, calendar.monthrange(year, month)[1] if end else 1)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date bound {text!r}: expected YYYY-MM or YYYY-MM-DD") from None


def in_window(contest_date: str, start: str | None, end: str | None) -> bool:
    """Whether a problem's contest day lies in [start, end], both inclusive, either open when None."""
    try:
        day = datetime.fromisoformat(contest_date).date()  # "2023-08-21T00:00:00", or a bare date
    except ValueError:
        raise ValueError(f"contest_date {contest_date!r}: not an ISO date") from None
    return (start is None or _bound(start, end=False) <= day) and (end is None or day <= _bound(end, end=True))


def _json_field(value: Any, field: str) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected JSON text, got {type(value).__name__}")
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{field}: not JSON ({type(e).__name__})") from None


def _cases(value: Any, field: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ValueError(f"{field}: expected a list of tests, got {type(value).__name__}")
    for i, case in enumerate(value):
        if not isinstance(case, dict) or not all(isinstance(case.get(k), str) for k in ("input", "output", "testtype")):
            raise ValueError(f"{field}[{i}]: expected an object with text 'input', 'output' and 'testtype'")
    return value


def _private_cases(row: dict[str, Any]) -> list[dict[str, str]]:
    text = row.get("private_test_cases")
    if text is None or (isinstance(text, str) and not text.strip()):
        return []
    if not isinstance(text, str):
        raise ValueError(f"private_test_cases: expected text, got {type(text).__name__}")
    try:
        return _cases(decode_lcb_private(text), "private_test_cases")
    except ValueError as e:
        message = str(e)
        prefixed = message if message.startswith("private_test_cases") else f"private_test_cases: {message}"
        raise type(e)(prefixed) from None


def _call(case: dict[str, str], where: str) -> CallCase:
    """A functional test: one JSON argument per input line (a JSON value never spans a raw
    newline), the expected result as one JSON value."""
    args = []
    for n, line in enumerate(case["input"].split("\n"), start=1):
        if line.strip():
            try:
                args.append(json.loads(line))
            except (ValueError, RecursionError) as e:
                raise ValueError(f"{where}.input: line {n} is not JSON ({type(e).__name__})") from None
    try:
        expected = json.loads(case["output"])
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{where}.output: not JSON ({type(e).__name__})") from None
    return CallCase(args=args, expected=expected)


def _suite(cases: list[tuple[str, dict[str, str]]], fn_name: str | None) -> TestSuite:
    if fn_name is not None:
        return TestSuite(kind="call", fn_name=fn_name, calls=[_call(case, where) for where, case in cases])
    return TestSuite(kind="stdio", stdio=[StdioCase(input=case["input"], output=case["output"]) for _, case in cases])


def _fn_name(row: dict[str, Any]) -> str:
    metadata = _json_field(row.get("metadata"), "metadata")
    name = metadata.get("func_name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise ValueError("metadata: a functional problem needs 'func_name'")
    return name


def problem_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """One row as an eval problem. `answer` is the suite of every test; `public_tests` the suite
    of the public ones only (None when there are none), for choosing among candidates."""
    public = _cases(_json_field(row.get("public_test_cases"), "public_test_cases"), "public_test_cases")
    private = _private_cases(row)
    labelled = [(f"public_test_cases[{i}]", c) for i, c in enumerate(public)]
    labelled += [(f"private_test_cases[{i}]", c) for i, c in enumerate(private)]
    if not labelled:
        raise ValueError("public_test_cases, private_test_cases: the problem has no tests")
    kinds = {case["testtype"] for _, case in labelled}
    if not kinds <= {"stdin", "functional"}:
        raise ValueError(f"testtype: unknown {sorted(kinds - {'stdin', 'functional'})}; expected stdin or functional")
    if len(kinds) > 1:
        raise ValueError("testtype: the problem mixes stdin and functional tests")
    fn_name = _fn_name(row) if kinds == {"functional"} else None
    return {
        "id": str(row.get("question_id")),
        "problem": row.get("question_content"),
        "starter_code": row.get("starter_code") or None,
        "answer": _suite(labelled, fn_name).model_dump_json(),
        "public_tests": _suite(labelled[: len(public)], fn_name).model_dump_json() if public else None,
        "contest_date": row.get("contest_date"),
        "difficulty": row.get("difficulty"),
    }
