"""Verify: samples → verdicts → OpenThoughts shards and stats.json, for a whole run.

Every pair gets exactly one verdict (a failed generation gets `generation_failed`), and every
verdict that is not a pass has a reason, so `stats.json` counts why samples were dropped.
Curation happens here too: majority labels before judging; the pass-rate band and benchmark
contamination when the dataset is built, each leaving out whole problems and counted.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from rfactory.verifiers import VERIFIERS
from rfactory.verifiers.code.sandbox import SandboxUnavailable

from .card import card_yaml
from .curate.contamination import read_contamination
from .curate.majority import Label, majority_labels
from .dataset import ShardWriter
from .errors import UserError
from .progress import Progress
from .recipe import Recipe
from .records import VERDICT_SCHEMA, Contamination, CostStats, CurationStats, RunStats, SourceStats, VerdictRecord
from .runstore import Run, write_json_atomic, write_parquet_atomic
from .traces import Trace


def _gold(row: dict[str, Any], labels: dict[str, Label] | None) -> tuple[str | None, str | None, str]:
    """(answer to verify against, where it came from, why there is none)."""
    if row["reference_answer"] is not None:
        return row["reference_answer"], "reference", ""
    if labels is None:
        return None, None, "problem has no reference answer"
    label = labels.get(row["problem_id"])
    if label is None or label.answer is None:
        return None, None, f"no majority label: {label.reason if label else 'no generated sample'}"
    return label.answer, "majority", ""


_JUDGE_COLUMNS = ["status", "reference_answer", "solution", "error_reason", "error_detail", "completion_tokens"]


def _judge(recipe: Recipe, run: Run, workers: int, labels: dict[str, Label] | None,
           record: Callable[[VerdictRecord, int], None]) -> None:
    """`record(verdict, completion tokens)` for every pair of the run, generation failures included,
    in the order `iter_latest_samples` gives the pairs. The verdict parts thus line up with the
    samples, so building the dataset (again, after `decontaminate`) is a zip of the two, never a
    join held in memory."""
    in_flight: dict[int, tuple[dict[str, Any], str | None]] = {}
    settled: dict[int, tuple[VerdictRecord, int]] = {}  # judged before a pair ahead of it
    next_n = 0

    def settle(n: int, verdict: VerdictRecord, tokens: int) -> None:
        nonlocal next_n
        settled[n] = verdict, tokens
        while next_n in settled:
            record(*settled.pop(next_n))
            next_n += 1

    def tasks() -> Iterator[tuple[int, str, str]]:
        for n, row in enumerate(run.iter_latest_samples(_JUDGE_COLUMNS)):
            ids = {"problem_id": row["problem_id"], "sample_index": row["sample_index"]}
            gold, source, missing = _gold(row, labels)
            if row["status"] != "ok":
                reason = f"{row['error_reason']}: {row['error_detail']}"
                settle(n, VerdictRecord(**ids, passed=False, status="generation_failed", reason=reason), 0)
            elif gold is None:
                status = "no_consensus" if labels is not None else "gold_unparseable"
                settle(n, VerdictRecord(**ids, passed=False, status=status, reason=missing), row["completion_tokens"] or 0)
            else:
                in_flight[n] = row, source
                yield n, row["solution"] or "", gold

    verify_many = VERIFIERS[recipe.verifier.name]
    options = recipe.verifier.code.model_dump() if recipe.verifier.name == "code" else {}
    try:
        for n, verdict in verify_many(tasks(), timeout_s=recipe.verifier.timeout_s, workers=workers, **options):
            row, source = in_flight.pop(n)
            settle(n, VerdictRecord(problem_id=row["problem_id"], sample_index=row["sample_index"],
                                    answer_source=source, **verdict.model_dump()), row["completion_tokens"] or 0)
    except SandboxUnavailable as e:  # raised before any pair is judged
        raise UserError(f"verifier.code: {e}; set verifier.code.allow_unsandboxed: true to run anyway") from None
    assert not settled, "a pair was never judged"


def _dataset_rows(recipe: Recipe, row: dict[str, Any], verdict: dict[str, Any],
                  label: Label | None) -> tuple[dict[str, Any], dict[str, Any]]:
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
        "ground_truth_solution": row["reference_answer"] if recipe.domain != "code" else None,  # never a vote
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
        "verdict": verdict["status"],
        "verdict_reason": verdict["reason"],
        "extracted_answer": verdict["extracted"],
        "answer_source": verdict["answer_source"],
        "majority_answer": label.answer if label else None,
        "majority_agreement": round(label.agreement, 4) if label else None,
    }
    return data, meta


def _run_card(name: str, recipe: Recipe, kept: int) -> str:
    """The run's own short card; `rfactory push` writes the full one, with every run it publishes."""
    return (
        f"{card_yaml(name, [recipe.domain], kept)}\n# {name}\n\n"
        f"Reasoning traces generated by `rfactory` with teacher `{recipe.teacher.spec}` and kept only when verified "
        f"(`{recipe.verifier.name}` verifier). `default`: `system` + `conversations[{{from, value}}]`; `metadata`: the "
        "problem, the trace split into reasoning and solution, the reference answer, provenance and the verdict of "
        "every kept sample, row-aligned with `default`. Publish it, with a full card, with `rfactory push`.\n"
    )


_MAX_DISTINCT_REASONS = 1000  # per status; reasons can quote the input, so they are not a closed set


def _count_reason(counter: Counter[str], reason: str) -> None:
    key = reason[:120]
    if key not in counter and len(counter) >= _MAX_DISTINCT_REASONS:
        key = "(other reasons)"
    counter[key] += 1


LABELS = "majority-labels.parquet"  # beside verdicts/, which stays one schema
LABEL_SCHEMA = pa.schema([("problem_id", pa.string()), ("answer", pa.string()), ("votes", pa.int32()),
                          ("samples", pa.int32()), ("agreement", pa.float64()), ("reason", pa.string())])


def _read_labels(path: Path) -> dict[str, Label]:
    if not path.is_file():
        return {}
    table = pq.read_table(path)
    return {r["problem_id"]: Label(r["answer"], r["votes"], r["samples"], r["reason"]) for r in table.to_pylist()}


def _write_labels(path: Path, labels: dict[str, Label]) -> None:
    """Kept beside the verdicts, so a rebuild (and a person auditing it) sees what each vote gave."""
    rows = [{"problem_id": pid, "answer": lb.answer, "votes": lb.votes, "samples": lb.samples,
             "agreement": round(lb.agreement, 4), "reason": lb.reason} for pid, lb in labels.items()]
    write_parquet_atomic(path, pa.Table.from_pylist(rows, schema=LABEL_SCHEMA))


def label_by_majority(run: Run, recipe: Recipe, min_agreement: float, workers: int) -> dict[str, Label]:
    if recipe.verifier.name != "math":
        raise UserError(f"--label majority: needs the math verifier; {run.root} uses {recipe.verifier.name!r}")
    unlabelled = ((r["problem_id"], r["solution"])
                  for r in run.iter_latest_samples(["status", "reference_answer", "solution"])
                  if r["status"] == "ok" and r["reference_answer"] is None)
    return majority_labels(unlabelled, min_agreement, recipe.verifier.timeout_s, workers)


def verify_run(run: Run, progress: Progress, workers: int | None = None, band: tuple[float, float] | None = None,
               min_agreement: float | None = None) -> dict[str, Any]:
    """Judge every pair, then build the dataset. `min_agreement` set: problems without a reference
    answer are labelled by majority vote first; `band`: only problems whose pass rate is inside it
    are kept."""
    config = run.config()
    recipe = Recipe.model_validate(config["recipe"])
    workers = workers or recipe.verifier.workers or os.cpu_count() or 1
    labels = None if min_agreement is None else label_by_majority(run, recipe, min_agreement, workers)
    verdict_tmp = run.root / "verdicts.tmp"
    shutil.rmtree(verdict_tmp, ignore_errors=True)
    verdict_tmp.mkdir()
    batch: list[dict[str, Any]] = []
    part = 0

    def flush() -> None:
        nonlocal batch, part
        if batch:
            write_parquet_atomic(verdict_tmp / f"part-{part:06d}.parquet", pa.Table.from_pylist(batch, schema=VERDICT_SCHEMA))
            batch, part = [], part + 1

    def record(verdict: VerdictRecord, tokens: int) -> None:
        batch.append(verdict.model_dump())
        if len(batch) >= 5000:
            flush()
        progress.advance(verdict.passed, tokens)

    _judge(recipe, run, workers, labels, record)
    flush()
    old = run.root / "verdicts"
    shutil.rmtree(old, ignore_errors=True)
    os.replace(verdict_tmp, old)
    if labels is not None:
        _write_labels(run.root / LABELS, labels)
    else:
        (run.root / LABELS).unlink(missing_ok=True)
    return build_dataset(run, recipe, band, min_agreement)


def _problem_rates(verdicts: list[Path]) -> pa.Table:
    """problem_id, passed, generated: one row per problem, aggregated by Arrow, not a Python dict."""
    table = pq.read_table(verdicts, columns=["problem_id", "passed", "status"]) if verdicts else \
        pa.table({"problem_id": pa.array([], pa.string()), "passed": pa.array([], pa.bool_()), "status": pa.array([], pa.string())})
    generated = pc.cast(pc.not_equal(table["status"], "generation_failed"), pa.int64())
    table = pa.table({"problem_id": table["problem_id"], "passed": pc.cast(table["passed"], pa.int64()), "generated": generated})
    out = table.group_by("problem_id").aggregate([("passed", "sum"), ("generated", "sum")])
    return out.rename_columns(["problem_id", "passed", "generated"])


def _outside(rates: pa.Table, band: tuple[float, float] | None, excluded: set[str]) -> tuple[set[str], int, int]:
    """(problems outside the band, how many below, how many above); contaminated ones are not counted."""
    if band is None or rates.num_rows == 0:
        return set(), 0, 0
    rate = pc.divide(pc.cast(rates["passed"], pa.float64()), pc.cast(rates["generated"], pa.float64()))
    counted = pc.and_(pc.greater(rates["generated"], 0), pc.invert(pc.is_in(rates["problem_id"], pa.array(sorted(excluded), pa.string()))))
    below = pc.and_(counted, pc.less(rate, band[0]))
    above = pc.and_(counted, pc.greater(rate, band[1]))
    out = set(pc.filter(rates["problem_id"], pc.or_(below, above)).to_pylist())
    return out, pc.sum(pc.cast(below, pa.int64())).as_py() or 0, pc.sum(pc.cast(above, pa.int64())).as_py() or 0


def _verdict_rows(paths: list[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        table = pq.read_table(path)
        if table.schema.names != VERDICT_SCHEMA.names:
            raise UserError(f"{path}: written by an older rfactory; run `rfactory verify {path.parent.parent}` again")
        yield from table.to_pylist()


def judged_samples(run: Run, columns: list[str] | None = None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(sample, its verdict) for every pair of a verified run, in the samples' order: the verdict
    parts line up with the samples, so this is a zip, never a join held in memory."""
    verdicts = _verdict_rows(sorted((run.root / "verdicts").glob("part-*.parquet")))
    stale = UserError(f"{run.root}: verdicts do not match the samples; run `rfactory verify {run.root}` again")
    for row in run.iter_latest_samples(columns):
        verdict = next(verdicts, None)
        if verdict is None or (verdict["problem_id"], verdict["sample_index"]) != (row["problem_id"], row["sample_index"]):
            raise stale
        yield row, verdict
    if next(verdicts, None) is not None:
        raise stale


def build_dataset(run: Run, recipe: Recipe, band: tuple[float, float] | None,
                  min_agreement: float | None) -> dict[str, Any]:
    """samples ⋈ verdicts (same order) → dataset/ and stats.json, leaving out contaminated problems
    and problems outside the pass-rate band."""
    verdict_paths = sorted((run.root / "verdicts").glob("part-*.parquet"))
    labels = _read_labels(run.root / LABELS) if min_agreement is not None else {}
    contamination = read_contamination(run.root)
    flagged = {f.problem_id: f.benchmark for f in contamination.flagged}
    rates = _problem_rates(verdict_paths)
    outside, below, above = _outside(rates, band, set(flagged))
    shards = ShardWriter(run.root / "dataset", recipe.output.shard_max_rows)

    statuses: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {}
    tokens = Counter()
    by_source: dict[str, Counter[str]] = {}
    by_benchmark: dict[str, Counter[str]] = {}
    finished: list[datetime] = []  # [first, last] generation time, for the card's dates
    kept = outside_rows = self_labelled = without_thought = 0
    require_thought = recipe.output.require_thought is not False  # generate decides; unset means required
    for row, verdict in judged_samples(run):
        statuses[verdict["status"]] += 1
        if not verdict["passed"]:
            _count_reason(reasons.setdefault(verdict["status"], Counter()), verdict["reason"])
        source = by_source.setdefault(row["source"], Counter())
        source["samples"] += 1
        source["generated"] += verdict["status"] != "generation_failed"
        source["passed"] += verdict["passed"]
        if row["finished_at"] is not None:
            finished = [min(finished[0], row["finished_at"]), max(finished[1], row["finished_at"])] if finished else [row["finished_at"]] * 2
        tokens["prompt"] += row["prompt_tokens"] or 0
        tokens["completion"] += row["completion_tokens"] or 0
        tokens["cached"] += row["cached_prompt_tokens"] or 0
        tokens["reasoning"] += row["reasoning_tokens"] or 0
        tokens["priced"] += row["cost_usd"] is not None
        if not verdict["passed"]:
            continue
        if require_thought and not (row["thought"] or "").strip():
            without_thought += 1
            continue
        if (benchmark := flagged.get(row["problem_id"])) is not None:
            by_benchmark.setdefault(benchmark, Counter())["rows"] += 1
        elif row["problem_id"] in outside:
            outside_rows += 1
        else:
            label = labels.get(row["problem_id"]) if verdict["answer_source"] == "majority" else None
            shards.add(*_dataset_rows(recipe, row, verdict, label))
            kept += 1
            self_labelled += label is not None
            source["kept"] += 1
    shards.close({"README.md": _run_card(run.root.name, recipe, kept).encode()})
    for f in contamination.flagged:
        by_benchmark.setdefault(f.benchmark, Counter())["problems"] += 1

    samples = sum(statuses.values())
    generated = samples - statuses["generation_failed"]
    passed = sum(n for status, n in statuses.items() if status in ("correct", "passed"))
    curation = CurationStats(
        pass_rate_band=band, problems_below_band=below, problems_above_band=above, rows_outside_band=outside_rows,
        label="majority" if min_agreement is not None else "reference", min_agreement=min_agreement,
        problems_self_labelled=sum(lb.answer is not None for lb in labels.values()),
        problems_without_consensus=sum(lb.answer is None for lb in labels.values()),
        rows_self_labelled=self_labelled, require_thought=require_thought, rows_without_thought=without_thought,
        benchmarks=[b.name for b in contamination.benchmarks],
        ngram_min_overlap=contamination.min_overlap if contamination.benchmarks else None,
        fuzzy_threshold=contamination.fuzzy if contamination.benchmarks else None,
        contamination={b: Contamination(problems=c["problems"], rows=c["rows"]) for b, c in sorted(by_benchmark.items())},
    )
    solved = pc.sum(pc.greater(rates["passed"], 0).cast(pa.int64())).as_py() or 0
    cost = None
    if tokens["priced"]:
        total = round(run.spent().usd, 6)
        cost = CostStats(total_usd=total, priced_samples=tokens["priced"], unpriced_samples=samples - tokens["priced"],
                         per_kept_trace_usd=round(total / kept, 6) if kept else None,
                         per_problem_solved_usd=round(total / solved, 6) if solved else None)
    stats = RunStats(
        run=str(run.root),
        dataset=str(run.root / "dataset"),
        verified_at=datetime.now(timezone.utc),
        generated_between=finished,
        sample_records=run.record_count(),
        problems=rates.num_rows,
        problems_with_a_pass=solved,
        samples=samples,
        samples_generated=generated,
        passed=passed,
        pass_rate=round(passed / generated, 4) if generated else 0.0,
        kept=kept,
        shards=shards.shards,
        prompt_tokens=tokens["prompt"],
        completion_tokens=tokens["completion"],
        cached_prompt_tokens=tokens["cached"],
        reasoning_tokens=tokens["reasoning"],
        cost=cost,
        by_source={name: SourceStats(**{k: c[k] for k in SourceStats.model_fields}) for name, c in sorted(by_source.items())},
        failures_by_reason={k: v for k, v in sorted(statuses.items()) if k not in ("correct", "passed")},
        top_reasons={k: dict(c.most_common(5)) for k, c in sorted(reasons.items())},
        curation=curation,
    ).model_dump(mode="json")
    write_json_atomic(run.root / "stats.json", stats)
    return stats


def rebuild_dataset(run: Run) -> dict[str, Any]:
    """The dataset again from the verdicts already made, with the curation `verify` last applied:
    what `decontaminate` runs after flagging, so no sample is judged twice."""
    stats_path = run.root / "stats.json"
    try:
        stats = RunStats.model_validate_json(stats_path.read_bytes())
    except (OSError, ValidationError):
        raise UserError(f"{run.root}: not verified yet; run `rfactory verify {run.root}`") from None
    if stats.sample_records != run.record_count():
        raise UserError(f"{run.root}: samples were added after the last verify; run `rfactory verify {run.root}` again")
    recipe = Recipe.model_validate(run.config()["recipe"])
    c = stats.curation
    return build_dataset(run, recipe, c.pass_rate_band, c.min_agreement if c.label == "majority" else None)
