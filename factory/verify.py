"""Verify: samples → verdicts → OpenThoughts shards and stats.json, for a whole run.

Every pair gets exactly one verdict (a failed generation gets `generation_failed`), and every
verdict that is not a pass has a reason, so `stats.json` counts why samples were dropped.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from rfactory.verifiers import VERIFIERS
from rfactory.verifiers.code.sandbox import SandboxUnavailable

from .dataset import CARD, ShardWriter
from .errors import UserError
from .progress import Progress
from .recipe import Recipe
from .records import VERDICT_SCHEMA, VerdictRecord
from .runstore import Run, write_json_atomic, write_parquet_atomic
from .traces import Trace


def _verdicts(recipe: Recipe, run: Run, workers: int) -> Iterator[tuple[dict[str, Any], VerdictRecord]]:
    """(sample row, verdict) for every pair of the run, generation failures included."""
    in_flight: dict[int, dict[str, Any]] = {}
    immediate: list[tuple[dict[str, Any], VerdictRecord]] = []

    def tasks() -> Iterator[tuple[int, str, str]]:
        for n, row in enumerate(run.iter_latest_samples()):
            ids = {"problem_id": row["problem_id"], "sample_index": row["sample_index"]}
            if row["status"] != "ok":
                reason = f"{row['error_reason']}: {row['error_detail']}"
                immediate.append((row, VerdictRecord(**ids, passed=False, status="generation_failed", reason=reason)))
            elif row["reference_answer"] is None:
                immediate.append((row, VerdictRecord(**ids, passed=False, status="gold_unparseable", reason="problem has no reference answer")))
            else:
                in_flight[n] = row
                yield n, row["solution"] or "", row["reference_answer"]

    verify_many = VERIFIERS[recipe.verifier.name]
    options = recipe.verifier.code.model_dump() if recipe.verifier.name == "code" else {}
    try:
        for n, verdict in verify_many(tasks(), timeout_s=recipe.verifier.timeout_s, workers=workers, **options):
            while immediate:
                yield immediate.pop()
            row = in_flight.pop(n)
            yield row, VerdictRecord(problem_id=row["problem_id"], sample_index=row["sample_index"], **verdict.model_dump())
    except SandboxUnavailable as e:  # raised before any pair is judged
        raise UserError(f"verifier.code: {e}; set verifier.code.allow_unsandboxed: true to run anyway") from None
    while immediate:
        yield immediate.pop()


def _dataset_rows(recipe: Recipe, row: dict[str, Any], verdict: VerdictRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    trace = Trace(thought=row["thought"] or "", solution=row["solution"] or "", method=row["split_method"] or "none")
    user = row["problem"]
    data = {
        "system": recipe.prompt.dataset_system,
        "conversations": [{"from": "user", "value": user}, {"from": "assistant", "value": trace.assistant_turn()}],
    }
    meta = {
        "problem": row["problem"],
        "deepseek_reasoning": row["thought"],
        "deepseek_solution": row["solution"],
        "ground_truth_solution": row["reference_answer"] if recipe.domain != "code" else None,
        "domain": recipe.domain,
        "source": row["source"],
        "test_cases": row["reference_answer"] if recipe.domain == "code" else None,
        "starter_code": row.get("starter_code"),
        "problem_id": row["problem_id"],
        "sample_index": row["sample_index"],
        "teacher": row["teacher"],
        "model": row["model"],
        "finish_reason": row["finish_reason"],
        "split_method": row["split_method"],
        "prompt_tokens": row["prompt_tokens"],
        "completion_tokens": row["completion_tokens"],
        "reasoning_tokens": row["reasoning_tokens"],
        "verdict": verdict.status,
        "verdict_reason": verdict.reason,
        "extracted_answer": verdict.extracted,
    }
    return data, meta


_MAX_DISTINCT_REASONS = 1000  # per status; reasons can quote the input, so they are not a closed set


def _count_reason(counter: Counter[str], reason: str) -> None:
    key = reason[:120]
    if key not in counter and len(counter) >= _MAX_DISTINCT_REASONS:
        key = "(other reasons)"
    counter[key] += 1


def verify_run(run: Run, progress: Progress, workers: int | None = None) -> dict[str, Any]:
    config = run.config()
    recipe = Recipe.model_validate(config["recipe"])
    workers = workers or recipe.verifier.workers or os.cpu_count() or 1
    verdict_tmp = run.root / "verdicts.tmp"
    shutil.rmtree(verdict_tmp, ignore_errors=True)
    verdict_tmp.mkdir()
    shards = ShardWriter(run.root / "dataset", recipe.output.shard_max_rows)

    statuses: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {}
    problems_seen: set[str] = set()
    problems_solved: set[str] = set()
    tokens = Counter()
    kept = 0
    batch: list[dict[str, Any]] = []
    part = 0

    def flush() -> None:
        nonlocal batch, part
        if batch:
            write_parquet_atomic(verdict_tmp / f"part-{part:06d}.parquet", pa.Table.from_pylist(batch, schema=VERDICT_SCHEMA))
            batch, part = [], part + 1

    for row, verdict in _verdicts(recipe, run, workers):
        statuses[verdict.status] += 1
        if not verdict.passed:
            _count_reason(reasons.setdefault(verdict.status, Counter()), verdict.reason)
        problems_seen.add(row["problem_id"])
        tokens["prompt"] += row["prompt_tokens"] or 0
        tokens["completion"] += row["completion_tokens"] or 0
        batch.append(verdict.model_dump())
        if len(batch) >= 5000:
            flush()
        keep = verdict.passed and (not recipe.output.require_thought or bool(row["thought"]))
        if verdict.passed:
            problems_solved.add(row["problem_id"])
        if keep:
            shards.add(*_dataset_rows(recipe, row, verdict))
            kept += 1
        progress.advance(verdict.passed, row["completion_tokens"] or 0)
    flush()
    shards.close(CARD.format(name=run.root.name, teacher=recipe.teacher.spec, verifier=recipe.verifier.name))
    old = run.root / "verdicts"
    shutil.rmtree(old, ignore_errors=True)
    os.replace(verdict_tmp, old)

    samples = sum(statuses.values())
    generated = samples - statuses["generation_failed"]
    passed = sum(n for status, n in statuses.items() if status in ("correct", "passed"))
    stats = {
        "run": str(run.root),
        "dataset": str(run.root / "dataset"),
        "verified_at": datetime.now(timezone.utc).isoformat(),
        "problems": len(problems_seen),
        "problems_with_a_pass": len(problems_solved),
        "samples": samples,
        "samples_generated": generated,
        "passed": passed,
        "pass_rate": round(passed / generated, 4) if generated else 0.0,
        "kept": kept,
        "shards": shards.shards,
        "prompt_tokens": tokens["prompt"],
        "completion_tokens": tokens["completion"],
        "failures_by_reason": {k: v for k, v in sorted(statuses.items()) if k not in ("correct", "passed")},
        "top_reasons": {k: dict(c.most_common(5)) for k, c in sorted(reasons.items())},
    }
    write_json_atomic(run.root / "stats.json", stats)
    return stats
