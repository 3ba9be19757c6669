"""S*'s second stage (Li et al. 2025, "S*: Test Time Scaling for Code Generation"): when several
candidates pass the most public tests, the model writes inputs meant to tell programs apart, each
tied candidate runs on them in the sandbox, candidates that give the same outputs form a cluster,
and the clusters meet in a knockout (the largest first, then the earliest): on the first input
where two disagree the model is shown both outputs and says which is right. A program that
crashes or times out where the other answers loses without a question.

What the model is asked are ordinary runs under `EVAL/<bench>/distinguish/` (`inputs`: one
request per problem; `judge`: one per (problem, input, output A, output B)), so a killed eval
resumes and nothing is asked twice; the candidates' outputs are kept in `outputs.json`. A
judgment depends only on the problem, the input and the two outputs, so the curve at every k is
rescored from the same judgments.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from ..benchmarks import EvalProblem, LoadedBenchmark
from ..recipe import Recipe
from ..runstore import Run, write_json_atomic
from ..session import Session, answers, open_run, question_recipe
from .public_tests import Candidate, public_passes, ranked, tied

INPUTS = 5  # asked for; S* reports a handful is enough to separate the clusters
MAX_INPUTS = 8  # read from an answer that gives more
SHOWN = 2000  # characters of an input or output shown to the judge

Output = tuple[str, str]  # ("ok", canonical text) or (status, "")


def ever_tied(candidates: Sequence[Candidate]) -> set[int]:
    """The sample indices that share a first place with another at some k: the ones to run."""
    out: set[int] = set()
    for k in range(2, len(candidates) + 1):
        if len(t := tied(candidates, k)) > 1:
            out.update(c.index for c in t)
    return out


def judge_key(problem_id: str, text: str, a: str, b: str) -> str:
    return hashlib.sha256(json.dumps([problem_id, text, a, b]).encode()).hexdigest()[:20]


class Ask(NamedTuple):
    problem_id: str
    input: str
    a: str
    b: str


def _duel(problem_id: str, inputs: Sequence[str], a: Candidate, b: Candidate, outputs: Mapping[int, Sequence[Output]],
          verdicts: Mapping[str, str | None], ask: dict[str, Ask] | None) -> Candidate | None:
    """The winner of a against b (a holds the title); None while a question is pending (`ask`
    collects it). Without a verdict the next input where they differ decides; with none, a stays."""
    for text, (sa, oa), (sb, ob) in zip(inputs, outputs.get(a.index, ()), outputs.get(b.index, ())):
        if (sa, oa) == (sb, ob) or "sandbox_error" in (sa, sb):  # the sandbox failed: says nothing of either
            continue
        if (sa == "ok") != (sb == "ok"):
            return a if sa == "ok" else b
        if sa != "ok":  # both failed, differently
            continue
        key = judge_key(problem_id, text, oa, ob)
        if key not in verdicts:
            if ask is None:
                continue
            ask[key] = Ask(problem_id, text, oa, ob)
            return None
        if verdicts[key] in ("A", "B"):
            return a if verdicts[key] == "A" else b
    return a


def pick(problem_id: str, candidates: Sequence[Candidate], k: int, inputs: Sequence[str],
         outputs: Mapping[int, Sequence[Output]], verdicts: Mapping[str, str | None],
         ask: dict[str, Ask] | None = None) -> Candidate | None:
    """The candidate submitted among the first k; None while a judgment is pending."""
    groups: dict[tuple[Output, ...], list[Candidate]] = {}
    for c in tied(candidates, k):
        groups.setdefault(tuple(outputs.get(c.index, ())), []).append(c)
    clusters = sorted(groups.values(), key=lambda g: (-len(g), g[0].index))
    champion = clusters[0][0]
    for cluster in clusters[1:]:
        winner = _duel(problem_id, inputs, champion, cluster[0], outputs, verdicts, ask)
        if winner is None:
            return None
        champion = winner
    return champion


# -- what the model is asked ------------------------------------------------------------------


def _template(name: str) -> str:
    return resources.files("rfactory.prompts").joinpath(name).read_text(encoding="utf-8").rstrip("\n")


def _suite_shape(problem: EvalProblem) -> tuple[str, str | None, int | None]:
    """(kind, function name, argument count) of the problem's public tests."""
    from rfactory.verifiers.code.suite import parse_suite

    suite = parse_suite(problem.public_tests or "{}")
    return suite.kind, suite.fn_name, len(suite.calls[0].args) if suite.calls else None


def _statement(problem: EvalProblem) -> str:
    """The problem as the candidates were asked it: with the signature to complete, if any."""
    return f"{problem.problem}\n\n{problem.starter_code}" if problem.starter_code else problem.problem


def inputs_prompt(problem: EvalProblem) -> str:
    kind, fn_name, _ = _suite_shape(problem)
    if kind == "call":
        form = (f"Each input is the arguments of one call of `{fn_name}`: one JSON value per line, in the order of "
                "its parameters. Put each input in its own ```input fenced block.")
    else:
        form = "Write each input exactly as the program reads it from standard input, in its own ```input fenced block."
    return _template("eval_code_inputs.txt").format(count=INPUTS, format=form, problem=_statement(problem))


_BLOCK = re.compile(r"```(?:input|text|plaintext|json)?[ \t]*\n(.*?)```", re.S)


def parse_inputs(answer: str | None, problem: EvalProblem) -> list[str]:
    """The inputs an answer gives, in order, repeats and invalid ones left out: stdin text, or for
    a call the JSON array of its arguments (each line one JSON value, as many as the tests pass)."""
    kind, _, arity = _suite_shape(problem)
    out: list[str] = []
    for block in _BLOCK.findall(answer or ""):
        if kind == "call":
            try:
                args = [json.loads(line) for line in block.strip().splitlines() if line.strip()]
            except ValueError:
                continue
            if arity is not None and len(args) != arity:
                continue
            text = json.dumps(args)
        else:
            text = block.strip("\n") + "\n"
        if text.strip() and text not in out:
            out.append(text)
    return out[:MAX_INPUTS]


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN] + "\n… (cut)"


def judge_prompt(problem: EvalProblem, ask: Ask) -> str:
    shown = "\n".join(json.dumps(a) for a in json.loads(ask.input)) if _suite_shape(problem)[0] == "call" else ask.input
    return _template("eval_code_judge.txt").format(problem=_statement(problem), input=_shown(shown.rstrip("\n")),
                                                    output_a=_shown(ask.a), output_b=_shown(ask.b))


async def _ask(folder: Path, name: str, questions: Mapping[str, str], recipe: Recipe, session: Session) -> None:
    """Adds the questions not asked yet to the sub-run `name` and asks them."""
    source = folder / name / "problems.jsonl"
    source.parent.mkdir(parents=True, exist_ok=True)
    known = {json.loads(line)["id"] for line in source.read_text(encoding="utf-8").splitlines()} if source.is_file() else set()
    with source.open("a", encoding="utf-8") as f:
        for key, text in questions.items():
            if key not in known:
                f.write(json.dumps({"id": key, "problem": text, "answer": None}) + "\n")
    # one answer per question, sampled as the benchmark samples
    sub = question_recipe(name, source, recipe.teacher, recipe.sampling.model_copy(update={"samples": 1}), "code")
    await session.generate([(sub, open_run(sub, session.engine, folder))])


class State(NamedTuple):
    inputs: dict[str, list[str]]  # problem → generated inputs
    outputs: dict[str, dict[int, list[Output]]]  # problem → sample index → its output on each input
    verdicts: dict[str, str | None]  # judge key → "A", "B", or None (no letter, or generation failed)


def load_state(run: Run, bench: LoadedBenchmark) -> State:
    folder = run.root / "distinguish"
    problems = {p.id: p for p in bench.problems}
    inputs = {pid: parse_inputs(a, problems[pid]) for pid, a in answers(folder / "inputs").items() if pid in problems}
    cache = folder / "outputs.json"
    raw = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    outputs = {pid: {int(i): [tuple(o) for o in v] for i, v in per.items()} for pid, per in raw.items()}
    from rfactory.verifiers.choice import chosen_letter

    verdicts = {key: chosen_letter(a) if a is not None else None for key, a in answers(folder / "judge").items()}
    return State(inputs, outputs, verdicts)  # type: ignore[arg-type]


def _run_candidates(run: Run, recipe: Recipe, problems: Mapping[str, EvalProblem], wanted: Mapping[str, set[int]],
                    state: State) -> None:
    """Every wanted candidate's outputs on its problem's inputs, run once and kept in outputs.json."""
    from rfactory.verifiers.code import outputs_many

    missing = {(pid, i) for pid, idx in wanted.items() if state.inputs.get(pid) for i in idx
               if i not in state.outputs.get(pid, {})}
    if not missing:
        return
    rows = [(r["problem_id"], r["sample_index"], r["solution"] or "") for r in run.iter_latest_samples(
        ["problem_id", "sample_index", "status", "solution"]) if (r["problem_id"], r["sample_index"]) in missing]

    def tasks() -> Iterable[tuple[tuple[str, int], str, str, str | None, list[str]]]:
        for pid, i, solution in rows:
            kind, fn_name, _ = _suite_shape(problems[pid])
            yield (pid, i), solution, kind, fn_name, state.inputs[pid]

    v = recipe.verifier
    for (pid, i), outputs in outputs_many(tasks(), timeout_s=v.timeout_s, workers=v.workers or os.cpu_count() or 1,
                                          memory_mb=v.code.memory_mb, allow_unsandboxed=v.code.allow_unsandboxed):
        state.outputs.setdefault(pid, {})[i] = outputs
    write_json_atomic(run.root / "distinguish" / "outputs.json",
                      {pid: {str(i): o for i, o in per.items()} for pid, per in state.outputs.items()})


async def settle(run: Run, bench: LoadedBenchmark, recipe: Recipe, samples: Mapping[str, Sequence[tuple[int, bool]]],
                 session: Session) -> None:
    """Ask, run and judge whatever the knockouts at every k need, round after round (a knockout's
    next duel depends on the last one's winner), until each pick is settled."""
    public = public_passes(run, bench, recipe)
    problems = {p.id: p for p in bench.problems}
    candidates = {pid: ranked(v, public.get(pid, {})) for pid, v in samples.items()}
    wanted = {pid: t for pid, c in candidates.items() if (t := ever_tied(c))}
    if not wanted:
        return
    folder = run.root / "distinguish"
    await _ask(folder, "inputs", {pid: inputs_prompt(problems[pid]) for pid in wanted}, recipe, session)
    state = load_state(run, bench)
    _run_candidates(run, recipe, problems, wanted, state)
    while True:
        ask: dict[str, Ask] = {}
        for pid in wanted:
            for k in range(2, len(candidates[pid]) + 1):
                pick(pid, candidates[pid], k, state.inputs.get(pid, []), state.outputs.get(pid, {}), state.verdicts, ask)
        if not ask:
            return
        await _ask(folder, "judge", {key: judge_prompt(problems[a.problem_id], a) for key, a in ask.items()},
                   recipe, session)
        state = load_state(run, bench)
        if any(key not in state.verdicts for key in ask):  # stopped before answering (a budget): no progress
            return


def curve(bench: LoadedBenchmark, run: Run, recipe: Recipe, samples: Mapping[str, Sequence[tuple[int, bool]]],
          n: int) -> dict[int, float]:
    """k → the accuracy of the candidate the knockout submits among the first k, for k ≤ n."""
    public = public_passes(run, bench, recipe)
    state = load_state(run, bench)
    rows = [(pid, ranked(v, public.get(pid, {}))) for pid, v in samples.items()]
    out = {}
    for k in range(1, n + 1):
        chosen = [pick(pid, c, k, state.inputs.get(pid, []), state.outputs.get(pid, {}), state.verdicts) for pid, c in rows]
        out[k] = sum(bool(c and c.right) for c in chosen) / len(rows)
    return out
