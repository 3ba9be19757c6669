"""`label-steps`, top to bottom: a verified run's traces → steps → rounds of rollouts from step
prefixes (an ordinary run, `OUT/rollouts/`) → their verdicts (`OUT/rollout-verdicts.jsonl`) →
labels → optionally a judge's view of each trace (`OUT/judge/`) → the stepwise dataset.

Each round asks what the search still needs given every rollout so far, so a killed labelling
resumes where it was: finished rollouts are in the run store, judged ones in the verdict file,
and nothing is asked or judged twice.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..errors import UserError
from ..recipe import BudgetConfig, SamplingConfig, TeacherConfig
from ..runstore import Run
from ..session import Session, answers, open_run, question_recipe
from ..stepwise import StepRule
from .search import Labels, Search, labels, needed

VERDICTS = "rollout-verdicts.jsonl"


class LabelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: Path
    out: Path
    completer: str
    options: dict[str, Any] = {}
    rollouts: int = 8
    chunk: int = 2  # binary search: rollouts per probe per round
    search: Search = "binary"
    rule: StepRule = StepRule()
    with_thought: bool = False  # label the thought's steps before the solution's
    mixed_only: bool = False
    max_traces: int | None = None
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 2048
    seed: int = 0
    concurrency: int | None = None
    max_cost_usd: float | None = None  # over the rollout run, every invocation together
    max_tokens_total: int | None = None
    judge: str | None = None
    judge_options: dict[str, Any] = {}
    consensus: Literal["flag", "drop"] = "flag"


class Trace(BaseModel):
    model_config = ConfigDict(frozen=True)  # hashable: a (trace, prefix) keys a round's rollouts

    problem_id: str
    sample_index: int
    problem: str
    reference: str
    steps: tuple[str, ...]
    correct: bool
    teacher: str

    @property
    def key(self) -> str:
        return f"{self.problem_id}:{self.sample_index}"


def _prompt(name: str) -> str:
    return resources.files("rfactory.prompts").joinpath(name).read_text(encoding="utf-8").rstrip("\n")


def traces(req: LabelRequest, skipped: Counter[str]) -> tuple[list[Trace], dict[str, Any]]:
    """The run's judged samples as step lists, and its recipe; what cannot be labelled is counted."""
    from ..verify import judged_samples

    run = Run.open(req.run)
    if not (req.run / "stats.json").is_file():
        raise UserError(f"{req.run}: not verified; run `rfactory verify {req.run}` first (labels need its verdicts)")
    recipe = run.config()["recipe"]
    rows = []
    for row, verdict in judged_samples(run, ["problem_id", "sample_index", "status", "problem", "reference_answer",
                                             "thought", "solution", "teacher"]):
        if row["status"] != "ok" or verdict["status"] in ("generation_failed", "sandbox_error", "gold_unparseable"):
            skipped["not_judged"] += 1
            continue
        rows.append((row, bool(verdict["passed"])))
    if req.mixed_only:
        outcomes: dict[str, set[bool]] = {}
        for row, ok in rows:
            outcomes.setdefault(row["problem_id"], set()).add(ok)
        kept = [(row, ok) for row, ok in rows if len(outcomes[row["problem_id"]]) == 2]
        skipped["not_mixed"] += len(rows) - len(kept)
        rows = kept
    out = []
    for row, ok in rows:
        text = row["solution"] or ""
        steps = (req.rule.cut(row["thought"] or "") if req.with_thought else []) + req.rule.cut(text)
        reason = req.rule.why_not(steps)
        if reason:
            skipped[reason] += 1
            continue
        out.append(Trace(problem_id=row["problem_id"], sample_index=row["sample_index"], problem=row["problem"],
                         reference=row["reference_answer"], steps=steps, correct=ok, teacher=row["teacher"]))
        if req.max_traces is not None and len(out) >= req.max_traces:
            break
    return out, recipe


def _sampling(req: LabelRequest, samples: int) -> SamplingConfig:
    return SamplingConfig(samples=samples, temperature=req.temperature, top_p=req.top_p, max_tokens=req.max_tokens,
                          seed=req.seed)


def _continuation(trace: Trace, k: int) -> str:
    return _prompt("prm_continue.txt").format(problem=trace.problem, prefix="\n\n".join(trace.steps[:k]))


class Rollouts:
    """The rollout run and its verdicts: prefix → each rollout's result, in sample order."""

    def __init__(self, req: LabelRequest, recipe: dict[str, Any]):
        self.req = req
        self.verifier = recipe.get("verifier") or {}
        self.domain = recipe.get("domain", "math")
        self.judged: set[tuple[str, int]] = set()
        self.by_trace: dict[str, dict[int, dict[int, bool]]] = {}  # trace → prefix length → sample → passed
        path = req.out / VERDICTS
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                v = json.loads(line)
                self._add(v["id"], v["sample_index"], v["passed"])

    def _add(self, prefix_id: str, index: int, passed: bool) -> None:
        trace, _, k = prefix_id.rpartition(":")
        self.judged.add((prefix_id, index))
        self.by_trace.setdefault(trace, {}).setdefault(int(k), {})[index] = passed

    def outcomes(self, trace: Trace) -> dict[int, list[bool]]:
        return {k: [ok for _, ok in sorted(v.items())] for k, v in self.by_trace.get(trace.key, {}).items()}

    async def extend(self, wanted: dict[tuple[Trace, int], int], session: Session) -> str | None:
        """Roll each (trace, prefix length) out to its wanted count, then judge what came back;
        the budget's stop line when it stopped the round."""
        by_target: dict[int, list[tuple[Trace, int]]] = {}
        for (trace, k), target in wanted.items():
            by_target.setdefault(target, []).append((trace, k))
        source = self.req.out / "rollouts" / "problems.jsonl"
        source.parent.mkdir(parents=True, exist_ok=True)
        for target, prefixes in sorted(by_target.items()):
            source.write_text("".join(json.dumps({"id": f"{t.key}:{k}", "problem": _continuation(t, k),
                                                  "answer": t.reference}) + "\n" for t, k in prefixes),
                              encoding="utf-8")
            teacher = TeacherConfig(spec=self.req.completer, options=self.req.options, concurrency=self.req.concurrency)
            budget = BudgetConfig(max_cost_usd=self.req.max_cost_usd, max_tokens_total=self.req.max_tokens_total)
            recipe = question_recipe("rollouts", source, teacher, _sampling(self.req, target), self.domain, self.verifier,
                                     budget)
            (done,) = await session.generate([(recipe, open_run(recipe, session.engine, self.req.out))])
            if "stopped" in done:
                self.judge_new()
                return done["stopped"]
        self.judge_new()
        return None

    def judge_new(self) -> None:
        """Verdicts for every finished rollout not judged yet, appended to the verdict file."""
        from rfactory.verifiers import VERIFIERS

        folder = self.req.out / "rollouts"
        if not (folder / "run.json").is_file():
            return
        rows = [r for r in Run.open(folder).iter_latest_samples(["problem_id", "sample_index", "status", "solution",
                                                                 "reference_answer"])
                if r["status"] == "ok" and (r["problem_id"], r["sample_index"]) not in self.judged]
        if not rows:
            return
        name = self.verifier.get("name", "math")
        options = self.verifier.get("code", {}) if name == "code" else {}
        tasks = ((n, r["solution"] or "", r["reference_answer"]) for n, r in enumerate(rows))
        with (self.req.out / VERDICTS).open("a", encoding="utf-8") as f:
            for n, verdict in VERIFIERS[name](tasks, timeout_s=self.verifier.get("timeout_s", 5.0),
                                              workers=os.cpu_count() or 1, **options):
                key = (rows[n]["problem_id"], rows[n]["sample_index"])
                self._add(*key, verdict.passed)
                f.write(json.dumps({"id": key[0], "sample_index": key[1], "passed": verdict.passed,
                                    "status": verdict.status}) + "\n")


async def _judge(req: LabelRequest, found: list[Trace], session: Session) -> dict[str, int | None]:
    """trace → the step the judge says is the first wrong one (0-based), or None: every step right.
    A judge that names no step gives no view (the trace is left out of the map)."""
    source = req.out / "judge" / "problems.jsonl"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("".join(json.dumps({"id": t.key, "problem": _prompt("prm_judge.txt").format(
        problem=t.problem, steps="\n\n".join(f"Step {i}: {s}" for i, s in enumerate(t.steps, 1))), "answer": None}) + "\n"
                              for t in found), encoding="utf-8")
    teacher = TeacherConfig(spec=req.judge or req.completer, concurrency=req.concurrency)
    recipe = question_recipe("judge", source, teacher, _sampling(req, 1))
    await session.generate([(recipe, open_run(recipe, session.engine, req.out))])
    out: dict[str, int | None] = {}
    for key, answer in answers(req.out / "judge").items():
        said = re.findall(r"answer\s*:?\s*\**\s*(\d+)", answer or "", re.IGNORECASE)
        if said:
            out[key] = int(said[-1]) - 1 if int(said[-1]) > 0 else None
    return out


class BudgetStop(Exception):
    """The rollouts' budget ran out; what was rolled out and judged stays for a larger cap."""


class Labelled(BaseModel):
    trace: Trace
    labels: Labels
    judge_first_error: int | None = None
    judged: bool = False

    @property
    def agrees(self) -> bool | None:
        return self.labels.first_error == self.judge_first_error if self.judged else None


async def label_all(req: LabelRequest, found: list[Trace], recipe: dict[str, Any], session: Session,
                    judge: Session | None = None) -> list[Labelled]:
    """Every trace labelled by rollouts on `session`'s engine (the completer), and read by `judge`'s."""
    rollouts = Rollouts(req, recipe)
    rollouts.judge_new()  # rollouts a killed run finished but never judged
    while True:
        wanted = {(t, k): n for t in found
                  for k, n in needed(len(t.steps), t.correct, rollouts.outcomes(t), req.search, req.rollouts,
                                     req.chunk).items()}
        if not wanted:
            break
        before = len(rollouts.judged)
        stopped = await rollouts.extend(wanted, session)
        if stopped:
            raise BudgetStop(stopped)
        if len(rollouts.judged) == before:  # nothing came back: every request failed
            raise UserError(f"label-steps: the completer {req.completer} answered none of {len(wanted)} rollouts; "
                            "fix it and rerun, the labelling continues where it is")
    done = [Labelled(trace=t, labels=labels(len(t.steps), t.correct, rollouts.outcomes(t), req.search)) for t in found]
    if judge is not None:
        views = await _judge(req, found, judge)
        for d in done:
            if d.trace.key in views:
                d.judged, d.judge_first_error = True, views[d.trace.key]
    return done


def kept(done: list[Labelled], consensus: str, dropped: Counter[str]) -> Iterator[Labelled]:
    for d in done:
        if consensus == "drop" and d.agrees is False:
            dropped["judge_disagrees"] += 1
        else:
            yield d
