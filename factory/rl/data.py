"""RL problem sets: verified runs, problem files and Hub datasets → one row per problem in the
schema `rfactory.rewards` reads: `prompt` (chat messages, the system prompt first), `solution` (a
math reference answer) or `tests` (a code problem's tests, JSON in any format the code verifier
reads), and the problem's pass rate where a run measured it.

Rows flow through filters as in a datatrove pipeline: each drop has a reason, and every reason is
a counted stat in `rl-data.json`.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from itertools import chain
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel

from ..curate.band import Band
from ..errors import UserError
from ..recipe import Columns, ProblemsConfig

Domain = Literal["math", "code"]


class RLRow(BaseModel):
    id: str
    prompt: list[dict[str, str]]
    solution: str | None  # math: the reference answer
    tests: str | None  # code: the tests
    pass_rate: float | None  # passing / generated samples, where a verified run measured it
    samples: int | None  # generated samples the pass rate is over
    source: str
    domain: Domain

    def problem_text(self) -> str:
        return next((m["content"] for m in reversed(self.prompt) if m["role"] == "user"), "")


def default_system() -> str:
    return resources.files("rfactory.prompts").joinpath("reasoning_system.txt").read_text(encoding="utf-8").rstrip("\n")


def _messages(system: str | None, user: str) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


def _user(problem: str, starter_code: str | None) -> str:
    return f"{problem}\n\n```python\n{starter_code.rstrip()}\n```" if starter_code else problem


def _reference(domain: Domain, answer: str | None) -> dict[str, str | None]:
    return {"solution": answer, "tests": None} if domain == "math" else {"solution": None, "tests": answer}


# -- sources -----------------------------------------------------------------------------------


def _run_rates(run: Any) -> dict[str, tuple[int, int]] | None:
    """problem → (passed, generated) from a verified run's verdicts; None when it is not verified."""
    from ..verify import judged_samples

    if not (run.root / "stats.json").is_file():
        return None
    rates: dict[str, list[int]] = {}
    for row, verdict in judged_samples(run, ["problem_id"]):
        r = rates.setdefault(row["problem_id"], [0, 0])
        if verdict["status"] not in ("generation_failed", "sandbox_error"):
            r[0] += bool(verdict["passed"])
            r[1] += 1
    return {pid: (p, g) for pid, (p, g) in rates.items()}


def from_run(path: Path, system: str | None) -> Iterator[RLRow]:
    """A run's problems with its references, the system prompt its dataset carries (the one an SFT
    round on it trained with), and pass rates when it was verified."""
    from ..runstore import Run

    run = Run.open(path)
    recipe = run.config()["recipe"]
    domain: Domain = "code" if recipe.get("domain") == "code" else "math"
    system = system if system is not None else recipe.get("prompt", {}).get("dataset_system")
    rates = _run_rates(run)
    seen: set[str] = set()
    for row in run.iter_latest_samples(["problem_id", "problem", "reference_answer", "starter_code", "source"]):
        pid = row["problem_id"]
        if pid in seen:
            continue
        seen.add(pid)
        passed, generated = rates.get(pid, (0, 0)) if rates is not None else (0, 0)
        yield RLRow(id=pid, prompt=_messages(system, _user(row["problem"], row["starter_code"])),
                    **_reference(domain, row["reference_answer"]),
                    pass_rate=passed / generated if generated else None, samples=generated or None,
                    source=str(path), domain=domain)


def _verl_row(row: dict[str, Any], n: int, where: str, system: str | None) -> RLRow:
    """A row of a verl / PRIME RL set (Eurus-2-RL-Data): chat `prompt`, `ability`, and the
    reference in `reward_model.ground_truth`."""
    prompt = [{"role": str(m["role"]), "content": str(m["content"])} for m in row["prompt"]]
    if system is not None:
        prompt = _messages(system, next((m["content"] for m in reversed(prompt) if m["role"] == "user"), ""))
    truth = (row.get("reward_model") or {}).get("ground_truth")
    domain: Domain = "code" if "code" in str(row.get("ability", "")).lower() else "math"
    extra = row.get("extra_info") or {}
    pid = f"{row.get('data_source', 'row')}-{extra.get('index', n)}" if isinstance(extra, dict) else f"row-{n}"
    text = truth if isinstance(truth, str) or truth is None else json.dumps(truth)
    return RLRow(id=pid, prompt=prompt, **_reference(domain, text), pass_rate=None, samples=None, source=where,
                 domain=domain)


def from_problems(source: str, split: str, columns: Columns, domain: Domain, system: str | None) -> Iterator[RLRow]:
    """A problem file or Hub dataset: verl-format rows as they are, others through the column mapping."""
    from ..problems import problems_of, raw_rows

    cfg = ProblemsConfig(source=source, split=split, columns=columns)
    rows, where, native = raw_rows(cfg, whole=True)
    first = next(rows, None)
    if first is not None and isinstance(first.get("prompt"), list) and "reward_model" in first:
        yield _verl_row(first, 0, where, system)
        for n, row in enumerate(rows, 1):
            yield _verl_row(row, n, where, system)
        return
    system = system if system is not None else default_system()
    for p in problems_of(chain([] if first is None else [first], rows), where, native, cfg):
        yield RLRow(id=p.id, prompt=_messages(system, _user(p.problem, p.starter_code)), **_reference(domain, p.answer),
                    pass_rate=None, samples=None, source=where, domain=domain)


# -- filters -----------------------------------------------------------------------------------


def _without_reference(rows: Iterable[RLRow], dropped: Counter[str]) -> Iterator[RLRow]:
    for r in rows:
        if (r.solution if r.domain == "math" else r.tests) in (None, ""):
            dropped["no_reference"] += 1
        else:
            yield r


def _in_band(rows: Iterable[RLRow], band: Band | None, dropped: Counter[str]) -> Iterator[RLRow]:
    for r in rows:
        if band is None:
            yield r
        elif r.pass_rate is None:
            raise UserError(f"{r.source}: problem {r.id} has no pass rate (not a verified run); --keep-pass-rate "
                            f"needs one: `rfactory verify` the run, or leave this source out of the band")
        elif band.contains(r.pass_rate):
            yield r
        else:
            dropped["below_band" if r.pass_rate < band.lo or (not band.closed and r.pass_rate == band.lo)
                    else "above_band"] += 1


def _uncontaminated(rows: Iterable[RLRow], index: Any, dropped: Counter[str]) -> Iterator[RLRow]:
    for r in rows:
        match = index.match(r.problem_text()) if index is not None else None
        if match is None:
            yield r
        else:
            dropped[f"contaminated:{match.benchmark}"] += 1


def _deduplicated(rows: Iterable[RLRow], near: bool, dropped: Counter[str]) -> Iterator[RLRow]:
    """Exact (and near) repeats of an earlier problem's text left out; decisions come one per row,
    in step, so the rows stream."""
    from ..curate.dedup import dedup

    pending: deque[RLRow] = deque()

    def texts() -> Iterator[str]:
        for r in rows:
            pending.append(r)
            yield r.problem_text()

    for decision in dedup(texts(), near=near):
        row = pending.popleft()
        if decision.kept:
            yield row
        else:
            dropped[f"duplicate_{decision.reason}"] += 1


def select(sources: Iterable[Iterable[RLRow]], band: Band | None, index: Any, near_duplicates: bool,
           dropped: Counter[str]) -> Iterator[RLRow]:
    """Every source's rows through the filters, in order; each row left out counted by its reason."""
    def all_rows() -> Iterator[RLRow]:
        for source in sources:
            yield from _uncontaminated(_in_band(_without_reference(source, dropped), band, dropped), index, dropped)

    return _deduplicated(all_rows(), near_duplicates, dropped)


RL_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("solution", pa.string()),
    ("tests", pa.string()),
    ("pass_rate", pa.float64()),
    ("samples", pa.int32()),
    ("source", pa.string()),
    ("domain", pa.string()),
])
assert RL_SCHEMA.names == list(RLRow.model_fields), "RLRow and RL_SCHEMA drifted apart"
