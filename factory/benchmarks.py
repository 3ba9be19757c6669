"""Public benchmarks: where each lives, and for `eval` what makes a score on it comparable with
published ones. Read by `decontaminate` (the problem texts) and `eval` (problems, answers, the
prompt and sampling the anchors used).

Only where each benchmark lives is shipped; its text is read from the Hub when a user names it,
so rfactory never redistributes benchmark problems.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from .errors import UserError


class BenchmarkDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    repo: str
    config: str | None = None
    split: str | None = "test"  # None: every split (a benchmark named by Hub id alone)
    column: str = "problem"
    data_files: str | None = None  # for repos whose loading script `datasets` no longer runs
    # What `eval` needs beyond the text:
    answer: str | None = None  # the reference answer's column
    id_column: str | None = None  # a stable id, where the benchmark has one
    keep: dict[str, str] = {}  # column → text a row's value must contain: one year of a multi-year set
    size: int | None = None  # exactly this many problems, or the slice is wrong and refused
    prompt: str = "eval_math.txt"  # the user message around the problem, from rfactory's prompts
    samples: int = 4  # the anchors' samples per problem (open-r1: AIME 64, MATH-500 4)
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 32768


_MATH = {"answer": "answer", "prompt": "eval_math.txt"}
BENCHMARKS: dict[str, BenchmarkDef] = {b.name: b for b in [
    BenchmarkDef(name="math500", repo="HuggingFaceH4/MATH-500", id_column="unique_id", size=500, samples=4, **_MATH),
    BenchmarkDef(name="aime2024", repo="HuggingFaceH4/aime_2024", split="train", id_column="id", size=30, samples=64,
                 **_MATH),
    BenchmarkDef(name="aime2025", repo="yentinglin/aime_2025", split="train", size=30, samples=64, **_MATH),
    BenchmarkDef(name="amc23", repo="AI-MO/aimo-validation-amc", split="train", id_column="id", keep={"url": "2023"},
                 size=40, samples=16, **_MATH),
    # decontamination only: every year, every row
    BenchmarkDef(name="amc", repo="AI-MO/aimo-validation-amc", split="train"),
    BenchmarkDef(name="gpqa-diamond", repo="Idavidrein/gpqa", config="gpqa_diamond", split="train", column="Question"),
    BenchmarkDef(name="livecodebench", repo="livecodebench/code_generation_lite", column="question_content",
                 data_files="test*.jsonl", split="train"),
]}

# What a problem column is called in the benchmarks people pass as files or Hub ids.
TEXT_COLUMNS = ("problem", "question", "Question", "question_content", "prompt", "input")
ANSWER_COLUMNS = ("answer", "solution", "Answer", "final_answer", "target")


def _hub_rows(spec: BenchmarkDef, revision: str | None = None) -> Iterator[dict[str, Any]]:
    import datasets

    kwargs: dict[str, Any] = {"split": spec.split, "streaming": True, "revision": revision}
    if spec.data_files:
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
    problem: str
    answer: str


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
        digest.update(json.dumps([p.id, p.problem, p.answer], ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()[:16]


def load_eval_benchmark(arg: str, answer_column: str | None = None) -> LoadedBenchmark:
    """A benchmark for `eval`: its problems with their reference answers, exactly the slice the
    definition names (a 90-row AIME 2022–24 set taken whole is refused as AIME 2024), pinned to
    the Hub revision it was read at."""
    spec, local = resolve(arg, "--bench")
    if answer_column:
        spec.answer = answer_column
    revision = None if local else _revision(spec.repo)
    problems: list[EvalProblem] = []
    for n, row in enumerate(_rows(spec, local, revision)):
        if any(text not in str(row.get(column, "")) for column, text in spec.keep.items()):
            continue
        spec.column = _text_column(spec, row, n, arg, "--bench")
        answer = spec.answer or next((c for c in ANSWER_COLUMNS if c in row), None)
        if answer is None:
            raise UserError(f"{spec.repo}: row {n}: no answer column (looked for {', '.join(ANSWER_COLUMNS)}); "
                            "name it: --answer-column COLUMN")
        spec.answer = answer
        text, gold = row.get(spec.column), row.get(answer)
        if not isinstance(text, str) or gold is None or (isinstance(gold, str) and not gold.strip()):
            field = spec.column if not isinstance(text, str) else answer
            raise UserError(f"{spec.repo}: row {n}: field {field!r}: missing")
        gold = str(int(gold)) if isinstance(gold, float) and gold.is_integer() else str(gold)  # AMC stores 27.0
        spec.id_column = spec.id_column or ("id" if "id" in row else None)
        pid = str(row[spec.id_column]) if spec.id_column and row.get(spec.id_column) is not None else f"{spec.name}-{n}"
        problems.append(EvalProblem(id=pid, problem=text, answer=gold))
    if not problems:
        raise UserError(f"{spec.repo}: benchmark {spec.name} has no rows")
    if spec.size is not None and len(problems) != spec.size:
        raise UserError(f"benchmark {spec.name} ({spec.repo}): {len(problems)} problems where the benchmark has "
                        f"{spec.size}; a different slice gives numbers no one can compare")
    if len({p.id for p in problems}) != len(problems):
        raise UserError(f"{spec.repo}: ids in column {spec.id_column!r} repeat")
    return LoadedBenchmark(definition=spec, revision=revision, content_hash=content_hash(problems), problems=problems)
