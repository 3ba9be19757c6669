"""The dataset card: YAML metadata the Hub and `datasets` read, and a body a reader can trust.

Everything on it comes from the runs (their recipes and `stats.json`) and from the rows actually
published, never from the clock, so exporting the same runs twice gives the same bytes and an
unchanged push stays a no-op.
"""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCardData
from pydantic import BaseModel, Field

from . import __version__
from .recipe import Recipe
from .records import Contamination, RunStats

CONFIGS = [
    {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*.parquet"}]},
    {"config_name": "metadata", "data_files": [{"split": "train", "path": "metadata/train-*.parquet"}]},
]


def card_yaml(pretty_name: str, domains: list[str], rows: int, license: str = "apache-2.0") -> str:
    """The front matter: both configs, so `load_dataset(repo)` and `load_dataset(repo, "metadata")` work."""
    data = DatasetCardData(
        license=license,
        language=["en"],
        pretty_name=pretty_name,
        size_categories=[size_category(rows)],
        task_categories=["text-generation"],
        tags=["synthetic", "reasoning", "distillation", "rfactory", *sorted(set(domains))],
        configs=CONFIGS,
    )
    return f"---\n{data.to_yaml()}\n---\n"


def size_category(rows: int) -> str:
    """The Hub's buckets: n<1K, 1K<n<10K, …, n>1T."""
    names = ["1K", "10K", "100K", "1M", "10M", "100M", "1B", "10B", "100B", "1T"]
    if rows < 1000:
        return "n<1K"
    for low, high in zip(names, names[1:]):
        if rows < 1000 * 10 ** (names.index(high)):
            return f"{low}<n<{high}"
    return "n>1T"


class RunFacts(BaseModel):
    """One run as the card describes it: its recipe, its verify stats, and what it contributed."""

    path: Path = Field(exclude=True)
    name: str
    recipe: Recipe
    rfactory_version: str
    stats: RunStats
    rows: int = 0  # rows published from this run, after duplicates were dropped
    duplicates: int = 0


@dataclass
class Profile:
    """What the published rows hold, gathered one row at a time while they are written."""

    rows: int = 0
    domains: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    completion_tokens: array = field(default_factory=lambda: array("q"))
    example: dict[str, Any] | None = None

    def add(self, data_row: dict[str, Any], meta_row: dict[str, Any]) -> None:
        self.rows += 1
        self.domains[meta_row["domain"] or "?"] += 1
        self.sources[meta_row["source"] or "?"] += 1
        self.models[meta_row["model"] or meta_row["teacher"] or "?"] += 1
        if meta_row["completion_tokens"]:
            self.completion_tokens.append(meta_row["completion_tokens"])
        if self.example is None:
            self.example = data_row


def token_summary(lengths: array) -> dict[str, int]:
    if not lengths:
        return {}
    ordered = sorted(lengths)

    def pct(p: float) -> int:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"min": ordered[0], "p10": pct(0.10), "median": pct(0.50), "mean": round(sum(ordered) / len(ordered)),
            "p90": pct(0.90), "p99": pct(0.99), "max": ordered[-1]}


def pass_rates_by_source(runs: list[RunFacts]) -> dict[str, tuple[int, int]]:
    """source → (samples the teacher answered, samples that passed), over every run."""
    totals: dict[str, list[int]] = {}
    for run in runs:
        for source, s in run.stats.by_source.items():
            t = totals.setdefault(source, [0, 0])
            t[0] += s.generated
            t[1] += s.passed
    return {source: (g, p) for source, (g, p) in sorted(totals.items())}


def _fence(text: str, lang: str = "") -> str:
    """A code fence longer than any backtick run inside, so a trace full of ``` cannot break out."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _clip(text: str, limit: int = 1500) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit:,} more characters]"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _rate(passed: int, total: int) -> str:
    return f"{passed / total:.1%}" if total else "-"


def _dates(runs: list[RunFacts]) -> tuple[str, str, str]:
    generated = [t for r in runs for t in r.stats.generated_between]
    first = min(generated).date().isoformat() if generated else "-"
    last = max(generated).date().isoformat() if generated else "-"
    verified = max(r.stats.verified_at for r in runs).date().isoformat()
    return first, last, verified


VERIFIER_TEXT = {
    "math": "Math: the last `\\boxed{}` of the solution section is compared with the reference answer for "
            "equivalence (exact values, symbolic expressions through sympy, tuples, intervals, units, percent).",
    "code": "Code: the last Python block of the solution section runs against the problem's tests in a sandbox "
            "(namespaces, seccomp, Landlock, resource limits), one process per test.",
}


def _curation(runs: list[RunFacts]) -> list[str]:
    """Benchmark decontamination, difficulty band and majority labels, per run, where any was applied."""
    out: list[str] = []
    checked = [r for r in runs if r.stats.curation.benchmarks]
    if checked:
        out += ["### Decontamination", "",
                "A problem repeating a benchmark problem was left out with all its samples: when their word 8-grams "
                "(after lowercasing and whitespace folding) shared at least the share shown of either text's "
                "8-grams, or failing that, when their fuzzy ratio (plain or word-sorted) reached the threshold shown.", "",
                _table(["run", "benchmark", "8-gram share", "fuzzy ratio", "problems matched", "verified rows left out"],
                       [[r.name, b, f"{r.stats.curation.ngram_min_overlap:.0%}", f"{r.stats.curation.fuzzy_threshold:g}",
                         f"{c.problems:,}", f"{c.rows:,}"] for r in checked for b in r.stats.curation.benchmarks
                        for c in [r.stats.curation.contamination.get(b, Contamination(problems=0, rows=0))]]), ""]
    banded = [r for r in runs if r.stats.curation.pass_rate_band]
    if banded:
        out += ["### Difficulty band", "",
                "Only problems whose pass rate (passing / generated samples) lies in the band, both ends included, "
                "were kept: problems every sample solves, or almost none does, teach little.", "",
                _table(["run", "band", "problems below", "problems above", "verified rows left out"],
                       [[r.name, "{:g} – {:g}".format(*r.stats.curation.pass_rate_band), f"{r.stats.curation.problems_below_band:,}",
                         f"{r.stats.curation.problems_above_band:,}", f"{r.stats.curation.rows_outside_band:,}"]
                        for r in banded]), ""]
    thoughtless = [r for r in runs if r.stats.curation.rows_without_thought or not r.stats.curation.require_thought]
    if thoughtless:
        out += ["### Traces without reasoning", "",
                "A verified sample whose thought section is empty is a reasoning trace with no reasoning; a student "
                "trained on it learns to skip thinking. Runs that required a thought left such samples out.", "",
                _table(["run", "thought required", "verified rows left out"],
                       [[r.name, "yes" if r.stats.curation.require_thought else "no",
                         f"{r.stats.curation.rows_without_thought:,}"] for r in thoughtless]), ""]
    voted = [r for r in runs if r.stats.curation.label == "majority"]
    if voted:
        out += ["### Self-labelled problems", "",
                "Problems without a reference answer were labelled by majority vote: their samples' final answers "
                "grouped by the math verifier's equivalence, the largest group taken when it held at least the "
                "agreement below. Their rows have `answer_source = \"majority\"` in `metadata` (with "
                "`majority_answer` and `majority_agreement`) and no `ground_truth_solution`; filter on it to train on "
                "reference-checked rows only. A majority can be wrong.", "",
                _table(["run", "min agreement", "problems labelled", "problems without consensus", "rows kept"],
                       [[r.name, f"{r.stats.curation.min_agreement:.0%}", f"{r.stats.curation.problems_self_labelled:,}",
                         f"{r.stats.curation.problems_without_consensus:,}", f"{r.stats.curation.rows_self_labelled:,}"]
                        for r in voted]), ""]
    return out


def render_card(repo: str, pretty_name: str, license: str, runs: list[RunFacts], profile: Profile,
                duplicates: int, images: dict[str, str]) -> str:
    """The whole README.md. `images` maps a plot's role (`tokens`, `pass_rate`) to its path in the repo."""
    domains = sorted(profile.domains)
    teachers = sorted({r.recipe.teacher.spec for r in runs})
    verifiers = sorted({r.recipe.verifier.name for r in runs})
    first, last, verified = _dates(runs)
    total_generated = sum(r.stats.samples_generated for r in runs)
    total_passed = sum(r.stats.passed for r in runs)
    lf_name = re.sub(r"\W+", "_", repo.split("/")[-1]).strip("_").lower() or "rfactory_dataset"
    out = [card_yaml(pretty_name, domains, profile.rows, license), f"# {pretty_name}", ""]

    out += [
        f"{profile.rows:,} reasoning traces ({', '.join(domains) or 'no rows'}) in the Sky-T1 / OpenThoughts format, "
        f"generated by {', '.join(f'`{t}`' for t in teachers)} and kept only when the {', '.join(verifiers)} "
        f"verifier confirmed them: {total_passed:,} of {total_generated:,} generated samples passed "
        f"({_rate(total_passed, total_generated)}). Built with rfactory {__version__}"
        f" from {len(runs)} run{'s' * (len(runs) != 1)}; samples generated {first} to {last}, "
        f"verified by {verified}.",
        "",
        "## Load it",
        "",
        _fence(
            "from datasets import load_dataset\n\n"
            f'ds = load_dataset("{repo}", split="train")  # system + conversations\n'
            f'meta = load_dataset("{repo}", "metadata", split="train")  # problem, reasoning, answer, provenance, verdict',
            "python",
        ),
        "",
        "Row *i* of `metadata` describes row *i* of `default` (the shards are row-aligned).",
        "",
        "For [LLaMA-Factory](https://github.com/hiyouga/LLaMA-Factory), add to `data/dataset_info.json`:",
        "",
        _fence(json.dumps({lf_name: {
            "hf_hub_url": repo,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "user", "assistant_tag": "assistant"},
        }}, indent=2), "json"),
        "",
        "For TRL's `SFTTrainer`, map `conversations` to `messages` with `role`/`content` yourself and keep `system` "
        "as the first message: its automatic conversion drops the `system` column.",
        "",
    ]

    if profile.example is not None:
        ex = profile.example
        shown = {"system": _clip(ex["system"] or "", 600),
                 "conversations": [{"from": t["from"], "value": _clip(t["value"] or "")} for t in ex["conversations"]]}
        out += ["## Example row", "", _fence(json.dumps(shown, indent=2, ensure_ascii=False), "json"), ""]

    out += ["## Contents", "", _table(["domain", "rows"], [[d, f"{n:,}"] for d, n in sorted(profile.domains.items())]), ""]
    rates = pass_rates_by_source(runs)
    out += [_table(["source", "rows", "generated", "passed", "pass rate"],
                   [[s, f"{profile.sources.get(s, 0):,}", f"{g:,}", f"{p:,}", _rate(p, g)] for s, (g, p) in rates.items()]), ""]
    if "pass_rate" in images:
        out += [f"![Pass rate by source]({images['pass_rate']})", ""]
    out += [_table(["teacher model", "rows"], [[m, f"{n:,}"] for m, n in sorted(profile.models.items())]), ""]
    tokens = token_summary(profile.completion_tokens)
    if tokens:
        out += ["Completion length in tokens (as the teacher counted them, reasoning included):", "",
                _table(list(tokens), [[f"{v:,}" for v in tokens.values()]]), ""]
        if "tokens" in images:
            out += [f"![Completion length distribution]({images['tokens']})", ""]
    else:
        out += ["The teacher reported no token counts.", ""]
    if duplicates:
        out += [f"{duplicates:,} rows repeating an earlier (problem, response) pair were dropped.", ""]

    out += ["## How it was made", ""]
    out += [_table(
        ["run", "recipe", "domain", "teacher", "problems from", "samples/problem", "temperature", "top_p",
         "max_tokens", "seed", "rfactory"],
        [[r.name, r.recipe.name, r.recipe.domain, f"`{r.recipe.teacher.spec}`", f"`{r.recipe.problems.source}`",
          r.recipe.sampling.samples, r.recipe.sampling.temperature, r.recipe.sampling.top_p,
          r.recipe.sampling.max_tokens, r.recipe.sampling.seed, r.rfactory_version] for r in runs]), ""]
    out += ["### Verification", "",
            " ".join(VERIFIER_TEXT[v] for v in verifiers) + " A sample is kept only if it passes.",
            "",
            _table(["run", "verifier", "timeout (s)", "problems", "problems with a pass", "generated", "passed",
                    "pass rate", "published"],
                   [[r.name, r.recipe.verifier.name, r.recipe.verifier.timeout_s, f"{r.stats.problems:,}",
                     f"{r.stats.problems_with_a_pass:,}", f"{r.stats.samples_generated:,}", f"{r.stats.passed:,}",
                     _rate(r.stats.passed, r.stats.samples_generated), f"{r.rows:,}"] for r in runs]), ""]
    priced = [r for r in runs if r.stats.cost is not None]
    if priced:
        out += ["### Cost", "",
                "What the teacher's API was paid, from the tokens each response reported (cached prompt tokens and "
                "reasoning tokens included) at the price recorded with the run; failed attempts are counted too.", "",
                _table(["run", "teacher", "total (USD)", "per published trace", "per problem solved", "unpriced samples"],
                       [[r.name, f"`{r.recipe.teacher.spec}`", f"{r.stats.cost.total_usd:,.4f}",
                         f"{r.stats.cost.total_usd / r.rows:,.6f}" if r.rows else "-",
                         f"{r.stats.cost.per_problem_solved_usd:,.6f}" if r.stats.cost.per_problem_solved_usd else "-",
                         f"{r.stats.cost.unpriced_samples:,}"] for r in priced]), ""]
    failures: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {}
    for r in runs:
        failures.update(r.stats.failures_by_reason)
        for status, top in r.stats.top_reasons.items():
            reasons.setdefault(status, Counter()).update(top)
    if failures:
        out += ["Why the other samples were dropped:", "",
                _table(["status", "samples", "most common reason"],
                       [[s, f"{n:,}", _clip(reasons[s].most_common(1)[0][0], 120) if reasons.get(s) else ""]
                        for s, n in failures.most_common()]), ""]

    out += _curation(runs)
    out += ["### Prompts", ""]
    seen: set[tuple[str | None, str, str]] = set()
    for r in runs:
        p = r.recipe.prompt
        key = (p.teacher_system, p.user_template, p.dataset_system)
        if key in seen:
            continue
        seen.add(key)
        users = ", ".join(x.name for x in runs if (x.recipe.prompt.teacher_system, x.recipe.prompt.user_template,
                                                     x.recipe.prompt.dataset_system) == key)
        out += [f"<details><summary>Prompts of {users}</summary>", "",
                "Teacher system prompt:", "", _fence(p.teacher_system or "(none)"), "",
                "User message template:", "", _fence(p.user_template), "",
                "System prompt stored in the dataset (`system`):", "", _fence(p.dataset_system), "",
                "</details>", ""]

    out += [
        "## Known limitations",
        "",
        "- *Verified* means the final answer matched the reference (math) or the program passed the problem's tests "
        "(code). The reasoning before it is not checked and can contain mistakes that happened to reach the right answer.",
        "- Problems the teacher never solved have no rows, so the set leans towards easier problems than its sources.",
        "- References and tests come from the source datasets; an error there lets a wrong trace through or keeps a "
        "right one out. Code tests cover only the cases the source provides.",
        "- Duplicates are dropped only when problem and response are identical; near-duplicate problems are "
        "removed only where `rfactory dedup` ran on the problems before generation.",
        *([] if all(r.stats.curation.benchmarks for r in runs) else [
            "- Overlap with public benchmarks was not checked" + (
                "" if not any(r.stats.curation.benchmarks for r in runs)
                else f" for {', '.join(r.name for r in runs if not r.stats.curation.benchmarks)}") + "."]),
        *([] if all(r.stats.curation.require_thought for r in runs) else [
            f"- {', '.join(r.name for r in runs if not r.stats.curation.require_thought)}: rows were kept without "
            "checking for a thought section, so some may hold no reasoning at all (filter on `deepseek_reasoning` "
            "in `metadata`)."]),
        "- Traces are the teacher's output: its provider's terms apply to their use, whatever the license above.",
        "",
    ]
    return "\n".join(out)
