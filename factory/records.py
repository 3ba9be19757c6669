"""The record schemas that cross stage boundaries, as pydantic models with matching Arrow schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel


class SampleRecord(BaseModel):
    """One (problem, sample) pair after the teacher: a sample, or a failure with its reason."""

    problem_id: str
    sample_index: int
    status: Literal["ok", "failed"]
    problem: str
    reference_answer: str | None
    starter_code: str | None = None  # code problems: the signature the model completes
    source: str
    teacher: str
    model: str | None = None
    seed: int
    finish_reason: str | None = None
    truncated: bool = False
    content: str | None = None
    reasoning_content: str | None = None
    thought: str | None = None
    solution: str | None = None
    split_method: str | None = None
    split_problem: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_prompt_tokens: int | None = None  # prompt tokens the provider had cached (billed lower); None: not reported
    cost_usd: float | None = None  # at the teacher's price; None: no price known (local engines, unknown models)
    attempts: int = 0
    error_reason: str | None = None
    error_detail: str | None = None
    latency_s: float = 0.0
    finished_at: datetime


SAMPLE_SCHEMA = pa.schema(
    [
        ("problem_id", pa.string()),
        ("sample_index", pa.int32()),
        ("status", pa.string()),
        ("problem", pa.string()),
        ("reference_answer", pa.string()),
        ("starter_code", pa.string()),
        ("source", pa.string()),
        ("teacher", pa.string()),
        ("model", pa.string()),
        ("seed", pa.int64()),
        ("finish_reason", pa.string()),
        ("truncated", pa.bool_()),
        ("content", pa.string()),
        ("reasoning_content", pa.string()),
        ("thought", pa.string()),
        ("solution", pa.string()),
        ("split_method", pa.string()),
        ("split_problem", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("cached_prompt_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("attempts", pa.int32()),
        ("error_reason", pa.string()),
        ("error_detail", pa.string()),
        ("latency_s", pa.float64()),
        ("finished_at", pa.timestamp("ms", tz="UTC")),
    ]
)

assert SAMPLE_SCHEMA.names == list(SampleRecord.model_fields), "SampleRecord and SAMPLE_SCHEMA drifted apart"


VerdictStatus = Literal[
    "correct", "mismatch", "no_answer", "gold_unparseable", "parse_error", "timeout", "generation_failed",
    "passed", "wrong_answer", "runtime_error", "memory_limit", "output_limit", "no_code", "sandbox_error",
    "no_consensus",
]


class VerdictRecord(BaseModel):
    problem_id: str
    sample_index: int
    passed: bool
    status: VerdictStatus
    reason: str
    extracted: str | None = None
    normalised: str | None = None
    expected: str | None = None
    expected_normalised: str | None = None
    detail: str | None = None
    answer_source: Literal["reference", "majority"] | None = None  # what `expected` came from


VERDICT_SCHEMA = pa.schema(
    [
        ("problem_id", pa.string()),
        ("sample_index", pa.int32()),
        ("passed", pa.bool_()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("extracted", pa.string()),
        ("normalised", pa.string()),
        ("expected", pa.string()),
        ("expected_normalised", pa.string()),
        ("detail", pa.string()),
        ("answer_source", pa.string()),
    ]
)

assert VERDICT_SCHEMA.names == list(VerdictRecord.model_fields), "VerdictRecord and VERDICT_SCHEMA drifted apart"


class SourceStats(BaseModel):
    samples: int
    generated: int
    passed: int
    kept: int


class Contamination(BaseModel):
    problems: int  # problems of the run that match the benchmark
    rows: int  # verified samples of those problems left out of the dataset


class CurationStats(BaseModel):
    """What `verify` and `decontaminate` kept out of the dataset, and why."""

    pass_rate_band: tuple[float, float] | None = None  # a problem's passed / generated samples, both ends kept
    problems_below_band: int = 0
    problems_above_band: int = 0
    rows_outside_band: int = 0  # verified samples of those problems left out
    label: Literal["reference", "majority"] = "reference"
    min_agreement: float | None = None
    problems_self_labelled: int = 0  # no reference answer: the majority answer became the label
    problems_without_consensus: int = 0
    rows_self_labelled: int = 0  # kept rows verified against a majority label (metadata answer_source)
    require_thought: bool = False  # verified samples with an empty thought section left out (older runs: kept)
    rows_without_thought: int = 0  # verified samples left out for it
    benchmarks: list[str] = []  # checked for contamination, by name
    ngram_min_overlap: float | None = None  # share of either text's 8-grams shared, for a match
    fuzzy_threshold: float | None = None
    contamination: dict[str, Contamination] = {}  # by benchmark, only those that matched


class CostStats(BaseModel):
    """What the run paid its teacher, at the price recorded with each sample."""

    total_usd: float  # every request the run made, retries and left-out samples included
    priced_samples: int
    unpriced_samples: int  # no price known when they were generated: the total leaves them out
    per_kept_trace_usd: float | None
    per_problem_solved_usd: float | None


class RunStats(BaseModel):
    """`stats.json`: what `verify` found in a run, and what `push` puts on the dataset card."""

    run: str
    dataset: str
    verified_at: datetime
    generated_between: list[datetime]  # first and last sample's finish time; empty for an empty run
    sample_records: int  # records in the run's parts when verified: more now means the dataset is stale
    problems: int
    problems_with_a_pass: int
    samples: int
    samples_generated: int
    passed: int
    pass_rate: float
    kept: int
    shards: int
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int = 0
    reasoning_tokens: int = 0
    cost: CostStats | None = None  # None: no sample had a price (a local engine)
    by_source: dict[str, SourceStats]
    failures_by_reason: dict[str, int]
    top_reasons: dict[str, dict[str, int]]
    curation: CurationStats = CurationStats()
