"""Public benchmarks: where each lives, and for `eval` what makes a score on it comparable with
published ones. Read by `decontaminate` (the problem texts) and `eval` (problems, answers, the
prompt and sampling the anchors used).

Only where each benchmark lives is shipped; its text is read from the Hub when a user names it,
so rfactory never redistributes benchmark problems.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .errors import UserError


class BenchmarkDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    repo: str
    config: str | None = None
    split: str | None = "test"  # None: every split (a benchmark named by Hub id alone)
    column: str = "problem"
    data_files: str | list[str] | None = None  # for repos whose loading script `datasets` no longer runs
    # What `eval` needs beyond the text:
    kind: Literal["math", "choice", "code"] = "math"  # also the verifier that judges it
    answer: str | None = None  # the reference answer's column (math)
    choices: list[str] = []  # choice: the options' columns, the right one first
    tests: Literal["livecodebench", "humaneval"] | None = None  # code: how a row holds its tests
    release: str | None = None  # livecodebench: a release tag (release_v5), which fixes the files read
    dates: tuple[str | None, str | None] | None = None  # livecodebench: the contest-date window kept
    id_column: str | None = None  # a stable id, where the benchmark has one
    keep: dict[str, str] = {}  # column → text a row's value must contain: one year of a multi-year set
    size: int | None = None  # exactly this many problems, or the slice is wrong and refused
    prompt: str = "eval_math.txt"  # the user message around the problem, from rfactory's prompts
    samples: int = 4  # the anchors' samples per problem (open-r1: AIME 64, MATH-500 4, GPQA 8, LCB 16)
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 32768


_MATH = {"answer": "answer", "prompt": "eval_math.txt"}
_GPQA = {"kind": "choice", "column": "Question", "id_column": "Record ID", "prompt": "eval_choice.txt",
         "choices": ["Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"]}
_LCB = {"repo": "livecodebench/code_generation_lite", "split": "train", "kind": "code", "tests": "livecodebench",
        "column": "question_content", "id_column": "question_id", "prompt": "eval_code.txt", "samples": 16}
BENCHMARKS: dict[str, BenchmarkDef] = {b.name: b for b in [
    BenchmarkDef(name="math500", repo="HuggingFaceH4/MATH-500", id_column="unique_id", size=500, samples=4, **_MATH),
    BenchmarkDef(name="aime2024", repo="HuggingFaceH4/aime_2024", split="train", id_column="id", size=30, samples=64,
                 **_MATH),
    BenchmarkDef(name="aime2025", repo="yentinglin/aime_2025", split="train", size=30, samples=64, **_MATH),
    BenchmarkDef(name="amc23", repo="AI-MO/aimo-validation-amc", split="train", id_column="id", keep={"url": "2023"},
                 size=40, samples=16, **_MATH),
    # The CSV itself rather than the `gpqa_diamond` config, which older copies define only in a loading script
    BenchmarkDef(name="gpqa-diamond", repo="Idavidrein/gpqa", data_files="gpqa_diamond.csv", split="train", size=198,
                 samples=8, **_GPQA),
    # The window most reported for release_v5 (August 2024 to January 2025); --release and --dates move it.
    BenchmarkDef(name="livecodebench", release="release_v5", dates=("2024-08", "2025-01"), **_LCB),
    BenchmarkDef(name="humaneval", repo="openai/openai_humaneval", column="prompt", id_column="task_id", kind="code",
                 tests="humaneval", prompt="eval_code.txt", size=164, samples=16),
    # decontamination only: every year, every row
    BenchmarkDef(name="amc", repo="AI-MO/aimo-validation-amc", split="train"),
]}

# The definitions `eval` can score (the others serve decontamination only).
EVAL_BENCHMARKS = [name for name, b in BENCHMARKS.items() if b.kind != "math" or b.answer is not None]

# What a problem column is called in the benchmarks people pass as files or Hub ids.
TEXT_COLUMNS = ("problem", "question", "Question", "question_content", "prompt", "input")
ANSWER_COLUMNS = ("answer", "solution", "Answer", "final_answer", "target")


def _hub_rows(spec: BenchmarkDef, revision: str | None = None) -> Iterator[dict[str, Any]]:
    import datasets

    kwargs: dict[str, Any] = {"split": spec.split, "streaming": True, "revision": revision}
    if spec.release:
        from .livecodebench import files_for

        kwargs["data_files"] = files_for(spec.release)
    elif spec.data_files:
        kwargs["data_files"] = spec.data_files
    try:
        loaded = datasets.load_dataset(spec.repo, spec.config, **kwargs)
        for split in [loaded] if spec.split else loaded.values():
            yield from split
    except Exception as e:  # missing, gated or unreachable: datasets raises many types
        raise UserError(f"benchmark {spec.name} ({spec.repo}): cannot load {f'split {spec.split!r}' if spec.split else 'it'} "
                        f"({type(e).__name__}: {e})".splitlines()[0]) from None


def resolve(arg: str, flag: str = "--against") -> tuple[BenchmarkDef, bool]:
    """(definition, whether it reads a local file). `ARG:COLUMN` names the text column."""
    base, column = arg, ""
    head, sep, tail = arg.rpartition(":")
    if sep and head not in ("", "hf") and "/" not in tail and not Path(arg).exists():
        base, column = head, tail
    base = base.removeprefix("hf:")
    if base in BENCHMARKS and not column:
        return BENCHMARKS[base].model_copy(deep=True), False
    if Path(base).exists():
        return BenchmarkDef(name=Path(base).name, repo=base, column=column, split="train"), True
    if base.count("/") == 1 and not base.startswith((".", "/")):
        return BenchmarkDef(name=base, repo=base, column=column, split=None), False
    raise UserError(f"{flag} {arg}: not a file, a Hub dataset (org/name) or a known benchmark "
                    f"({', '.join(BENCHMARKS)})")


def _rows(spec: BenchmarkDef, local: bool, revision: str | None = None) -> Iterator[dict[str, Any]]:
    from .problems import raw_rows
    from .recipe import ProblemsConfig

    return iter(raw_rows(ProblemsConfig(source=spec.repo), whole=True)[0]) if local else _hub_rows(spec, revision)


def _text_column(spec: BenchmarkDef, row: dict[str, Any], n: int, arg: str, flag: str) -> str:
    column = spec.column or next((c for c in TEXT_COLUMNS if c in row), None)
    if column is None:
        raise UserError(f"{spec.repo}: row {n}: no problem column (looked for {', '.join(TEXT_COLUMNS)}); "
                        f"name it: {flag} {arg}:COLUMN")
    return column


def load_benchmark(arg: str) -> tuple[BenchmarkDef, list[str]]:
    """The definition (column filled in) and the benchmark's problem texts, in row order."""
    spec, local = resolve(arg)
    if spec.release:
        spec.release, spec.dates = "release_latest", None  # decontamination checks every release, every date
    texts: list[str] = []
    for n, row in enumerate(_rows(spec, local)):
        spec.column = _text_column(spec, row, n, arg, "--against")
        text = row.get(spec.column)
        if not isinstance(text, str):
            raise UserError(f"{spec.repo}: row {n}: field {spec.column!r}: missing or not text")
        texts.append(text)
    if not texts:
        raise UserError(f"{spec.repo}: benchmark has no rows")
    return spec, texts


class EvalProblem(BaseModel):
    id: str
    problem: str  # as the model sees it inside the prompt (a choice problem: with its lettered options)
    answer: str  # the reference: an answer (math), a letter (choice), the hidden tests as JSON (code)
    starter_code: str | None = None  # code: the signature to complete
    public_tests: str | None = None  # code: the tests a problem shows, for selecting among candidates
    choice_seed: int | None = None  # choice: the seed the options were shuffled with


class LoadedBenchmark(BaseModel):
    definition: BenchmarkDef
    revision: str | None  # the Hub commit read, so a score names the exact data behind it
    content_hash: str  # of every problem and answer, in order: printed with every score
    problems: list[EvalProblem]


def _revision(repo: str) -> str | None:
    from huggingface_hub import HfApi

    try:
        return HfApi().dataset_info(repo).sha
    except Exception:  # noqa: BLE001 - offline or gated: datasets says why, on the load below
        return None


def content_hash(problems: list[EvalProblem]) -> str:
    digest = hashlib.sha256()
    for p in problems:
        fields = [p.id, p.problem, p.answer] + ([p.starter_code] if p.starter_code else [])
        digest.update(json.dumps(fields, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()[:16]


LETTERS = "ABCDEFGHIJ"


def choice_seed(base: int, problem_id: str) -> int:
    """The seed a problem's options are shuffled with: fixed by the problem, so a rerun, another
    machine and another model all see the same order (projects that shuffle with a run-wide RNG
    score differently for that alone)."""
    digest = hashlib.blake2b(f"{base}\x00{problem_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def _choice_problem(spec: BenchmarkDef, row: dict[str, Any], pid: str, text: str, n: int) -> EvalProblem:
    options = []
    for column in spec.choices:
        value = row.get(column)
        if not isinstance(value, str) or not value.strip():
            raise UserError(f"{spec.repo}: row {n}: field {column!r}: missing")
        options.append(value.strip())
    seed = choice_seed(0, pid)
    order = list(range(len(options)))
    random.Random(seed).shuffle(order)
    lettered = "\n".join(f"{LETTERS[i]}) {options[o]}" for i, o in enumerate(order))
    return EvalProblem(id=pid, problem=f"{text.strip()}\n\n{lettered}", answer=LETTERS[order.index(0)], choice_seed=seed)


def _code_problem(spec: BenchmarkDef, row: dict[str, Any], pid: str, text: str, n: int) -> EvalProblem:
    from .livecodebench import problem_from_row
    from rfactory.verifiers.code.suite import SuiteError, parse_suite

    try:
        if spec.tests == "livecodebench":
            p = problem_from_row(row)
            return EvalProblem(id=pid, problem=text, answer=p["answer"], starter_code=p["starter_code"],
                               public_tests=p["public_tests"])
        # HumanEval: the prompt is the starter code and runs before the tests, which may use its helpers
        tests = {"test": row.get("test"), "entry_point": row.get("entry_point"), "prompt": text}
        answer = json.dumps(tests, ensure_ascii=False)
        parse_suite(answer)
        task = f"Implement the Python function `{tests['entry_point']}` as its signature and docstring describe."
        return EvalProblem(id=pid, problem=task, answer=answer, starter_code=text)
    except (ValueError, SuiteError) as e:
        raise UserError(f"{spec.repo}: row {n}: {e}".splitlines()[0]) from None


def _math_problem(spec: BenchmarkDef, row: dict[str, Any], pid: str, text: str, n: int) -> EvalProblem:
    answer = spec.answer or next((c for c in ANSWER_COLUMNS if c in row), None)
    if answer is None:
        raise UserError(f"{spec.repo}: row {n}: no answer column (looked for {', '.join(ANSWER_COLUMNS)}); "
                        "name it: --answer-column COLUMN")
    spec.answer = answer
    gold = row.get(answer)
    if gold is None or (isinstance(gold, str) and not gold.strip()):
        raise UserError(f"{spec.repo}: row {n}: field {answer!r}: missing")
    gold = str(int(gold)) if isinstance(gold, float) and gold.is_integer() else str(gold)  # AMC stores 27.0
    return EvalProblem(id=pid, problem=text, answer=gold)


_PROBLEM = {"math": _math_problem, "choice": _choice_problem, "code": _code_problem}


def _kept(spec: BenchmarkDef, row: dict[str, Any], n: int) -> bool:
    if any(text not in str(row.get(column, "")) for column, text in spec.keep.items()):
        return False
    if spec.dates is not None:
        from .livecodebench import in_window

        try:
            return in_window(str(row.get("contest_date", "")), *spec.dates)
        except ValueError as e:
            raise UserError(f"{spec.repo}: row {n}: {e}") from None
    return True


def load_eval_benchmark(arg: str, answer_column: str | None = None, release: str | None = None,
                        dates: tuple[str | None, str | None] | None = None) -> LoadedBenchmark:
    """A benchmark for `eval`: its problems with their references, exactly the slice the
    definition names (a 90-row AIME 2022–24 set taken whole is refused as AIME 2024), pinned to
    the Hub revision it was read at. `release` and `dates` move LiveCodeBench's window."""
    spec, local = resolve(arg, "--bench")
    if answer_column:
        spec.answer = answer_column
    if release or dates:
        if spec.tests != "livecodebench":
            raise UserError(f"--release and --dates choose LiveCodeBench's problems; {spec.name} has no release")
        from .livecodebench import files_for, in_window

        try:
            files_for(release or spec.release)
            in_window("2000-01-01", *(dates or (None, None)))  # a malformed bound fails here, not at some row
        except ValueError as e:
            raise UserError(f"--release/--dates: {e}") from None
        spec.release, spec.dates, spec.size = release or spec.release, dates or spec.dates, None
    revision = None if local else _revision(spec.repo)
    problems: list[EvalProblem] = []
    for n, row in enumerate(_rows(spec, local, revision)):
        if not _kept(spec, row, n):
            continue
        spec.column = _text_column(spec, row, n, arg, "--bench")
        text = row.get(spec.column)
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"{spec.repo}: row {n}: field {spec.column!r}: missing")
        spec.id_column = spec.id_column or ("id" if "id" in row else None)
        pid = str(row[spec.id_column]) if spec.id_column and row.get(spec.id_column) is not None else f"{spec.name}-{n}"
        problems.append(_PROBLEM[spec.kind](spec, row, pid, text, n))
    if not problems:
        raise UserError(f"{spec.repo}: benchmark {spec.name} has no rows" + (
            f" in {spec.release} between {spec.dates[0]} and {spec.dates[1]}" if spec.dates else ""))
    if spec.size is not None and len(problems) != spec.size:
        raise UserError(f"benchmark {spec.name} ({spec.repo}): {len(problems)} problems where the benchmark has "
                        f"{spec.size}; a different slice gives numbers no one can compare")
    if len({p.id for p in problems}) != len(problems):
        raise UserError(f"{spec.repo}: ids in column {spec.id_column!r} repeat")
    return LoadedBenchmark(definition=spec, revision=revision, content_hash=content_hash(problems), problems=problems)
