"""Labelled traces → the stepwise-supervision layout PRM trainers read (`default`: `prompt`,
`completions` (the steps), `labels`; `metadata`: soft labels, first error, rollouts, the judge's
view and provenance, row-aligned), a card, and `label-steps.json` with the settings and counts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..card import size_category
from ..dataset import ShardWriter
from ..runstore import Run
from .label import LabelRequest, Labelled

SETTINGS = "label-steps.json"

STEPWISE_SCHEMA = pa.schema([
    ("prompt", pa.string()),
    ("completions", pa.list_(pa.string())),
    ("labels", pa.list_(pa.bool_())),
])
METADATA_SCHEMA = pa.schema([
    ("problem_id", pa.string()),
    ("sample_index", pa.int32()),
    ("reached_answer", pa.bool_()),
    ("soft_labels", pa.list_(pa.float64())),
    ("rollouts", pa.list_(pa.int32())),
    ("first_error", pa.int32()),
    ("judge_first_error", pa.int32()),
    ("judge_agrees", pa.bool_()),
    ("teacher", pa.string()),
    ("completer", pa.string()),
    ("search", pa.string()),
    ("step_rule", pa.string()),
])


def _rows(d: Labelled, req: LabelRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    t, lab = d.trace, d.labels
    data = {"prompt": t.problem, "completions": t.steps, "labels": lab.hard}
    meta = {"problem_id": t.problem_id, "sample_index": t.sample_index, "reached_answer": t.correct,
            "soft_labels": lab.soft, "rollouts": lab.rollouts, "first_error": lab.first_error,
            "judge_first_error": d.judge_first_error if d.judged else None, "judge_agrees": d.agrees,
            "teacher": t.teacher, "completer": req.completer, "search": req.search,
            "step_rule": req.rule.model_dump_json()}
    return data, meta


def rollout_cost(out: Path) -> dict[str, Any]:
    folder = out / "rollouts"
    if not (folder / "run.json").is_file():
        return {"rollouts": 0, "completion_tokens": 0, "cost_usd": None}
    run = Run.open(folder)
    spent = run.spent()
    rows = list(run.iter_latest_samples(["completion_tokens"]))
    return {"rollouts": len(rows), "completion_tokens": sum(r["completion_tokens"] or 0 for r in rows),
            "cost_usd": round(spent.usd, 4) if spent.priced else None}


def _card(s: dict[str, Any]) -> str:
    from huggingface_hub import DatasetCardData

    front = DatasetCardData(
        license="apache-2.0", language=["en"], size_categories=[size_category(s["traces"])],
        task_categories=["token-classification"], tags=["rfactory", "process-reward-model", "prm", "stepwise"],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]},
                 {"config_name": "metadata", "data_files": [{"split": "train", "path": "metadata/train-*"}]}],
    )
    firsts = "\n".join(f"| {k} | {n:,} |" for k, n in s["first_error_by_step"].items()) or "| (none) | 0 |"
    skipped = "\n".join(f"| {k} | {n:,} |" for k, n in sorted(s["skipped"].items())) or "| (none) | 0 |"
    cost = f"${s['cost']['cost_usd']:,.2f}" if s["cost"]["cost_usd"] is not None else "not priced"
    return f"""---
{front.to_yaml()}
---

# Step-labelled reasoning traces

{s['traces']:,} traces from `{s['run']}`, each cut into steps ({s['step_rule']}) and labelled by
rollouts: from each step prefix, `{s['completer']}` continued the solution and rfactory's verifier
checked the continuations against the reference. A step is labelled right when a continuation
from it reaches the answer (the trace's own ending counts), as Math-Shepherd's hard estimate;
`metadata.soft_labels` has the share of continuations that did. Search: **{s['search']}**
({'every prefix rolled out' if s['search'] == 'linear' else 'binary search for the first wrong step, as OmegaPRM'}),
{s['rollouts_per_prefix']} rollouts per prefix.

```python
from datasets import load_dataset
steps = load_dataset("REPO", split="train")             # prompt, completions (steps), labels
meta = load_dataset("REPO", "metadata", split="train")  # soft labels, first error, rollouts, provenance
```

| | |
|---|---|
| traces | {s['traces']:,} ({s['reached']:,} reached the answer) |
| steps | {s['steps']:,} ({s['steps_per_trace']:.1f} per trace, at most {s['max_steps']}) |
| labels right | {s['label_balance']:.1%} |
| rollouts | {s['cost']['rollouts']:,} ({s['rollouts_per_trace']:.1f} per trace), {s['cost']['completion_tokens']:,} tokens, {cost} |
| judge agrees | {s['judge']} |

## Where first errors fall

| step | traces |
|---|---|
{firsts}

## Traces left out

| reason | traces |
|---|---|
{skipped}

Rollout labels estimate whether a step can still lead to the answer, not whether it is correct
(Qwen's "Lessons of Developing PRMs", 2025); a judge's agreement, where one read the traces, is in
`metadata.judge_agrees`.
"""


def summary(done: list[Labelled], req: LabelRequest, skipped: Counter[str], dropped: Counter[str]) -> dict[str, Any]:
    steps = [len(d.trace.steps) for d in done]
    labels = [x for d in done for x in d.labels.hard]
    firsts = Counter(d.labels.first_error + 1 for d in done if d.labels.first_error is not None)
    judged = [d for d in done if d.judged]
    cost = rollout_cost(req.out)
    return {
        "run": str(req.run), "completer": req.completer, "search": req.search, "rollouts_per_prefix": req.rollouts,
        "step_rule": req.rule.model_dump_json(), "traces": len(done), "reached": sum(d.trace.correct for d in done),
        "steps": sum(steps), "steps_per_trace": sum(steps) / len(steps) if steps else 0.0, "max_steps": max(steps, default=0),
        "label_balance": sum(labels) / len(labels) if labels else 0.0,
        "first_error_by_step": {str(k): firsts[k] for k in sorted(firsts)},
        "rollouts_per_trace": cost["rollouts"] / len(done) if done else 0.0, "cost": cost,
        "judge": (f"{sum(bool(d.agrees) for d in judged) / len(judged):.0%} of {len(judged):,} traces read"
                  if judged else "no judge"),
        "skipped": dict(skipped | dropped),
        "dataset": str(req.out / "dataset"),
    }


def write(done: list[Labelled], req: LabelRequest, stats: dict[str, Any]) -> None:
    writer = ShardWriter(req.out / "dataset", max_rows=100_000,
                         configs={"data": STEPWISE_SCHEMA, "metadata": METADATA_SCHEMA})
    try:
        for d in done:
            writer.add(*_rows(d, req))
    except BaseException:
        writer.abort()
        raise
    writer.close({"README.md": _card(stats).encode()})
    request = json.loads(req.model_dump_json(exclude={"options", "judge_options"}))  # engine options may name endpoints; runs keep them
    (req.out / SETTINGS).write_text(json.dumps({"request": request, **stats}, indent=2) + "\n",
                                    encoding="utf-8")
