"""Curation inside a run: the pass-rate band, majority-vote labels and benchmark decontamination,
on a run whose samples give planted answers (the fault-injecting teacher's `[answers=…]`)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import json_out, load_openthoughts, run_cli, write_jsonl
from rfactory.testing.fake_openai import FakeOpenAIThread

RECIPE = """
name: curate
problems: {{source: problems.jsonl, columns: {{id: id}}}}
teacher: {{spec: "openai:fake", options: {{base_url: "{base_url}"}}}}
sampling: {{samples: 4}}
"""

# id: (the four samples' answers, reference answer or None). Pass rates: 1, .75, .5, .25, 0.
PROBLEMS = {
    "p100": ("5|5|5|5", "5"),
    "p75": ("5|5|5|6", "5"),
    "p50": ("5|5|6|6", "5"),
    "p25": ("5|6|6|6", "5"),
    "p0": ("6|6|6|6", "5"),
    "m-frac": ("1/2|0.5|\\frac{1}{2}|3", None),  # one answer in three spellings: 3 of 4 agree
    "m-all": ("4|4|4|4", None),
    "m-tie": ("1|1|2|2", None),
    "m-low": ("7|7|8|9", None),  # 2 of 4 agree: under 0.6
}


BODIES = {
    "p100": "A rectangle has sides of length 3 and 4. How long is its diagonal?",
    "p75": "How many ways can 5 distinct books be arranged on a shelf if two of them must stay together?",
    "p50": "Find the remainder when 2 raised to the power 100 is divided by 7.",
    "p25": "The sum of three consecutive even integers is 78. What is the largest of them?",
    "p0": "A train leaves at noon at 60 miles per hour; a second leaves an hour later at 80. When does it catch up?",
    "m-frac": "A fair coin is tossed once. What is the probability of heads?",
    "m-all": "What is the square root of 16?",
    "m-tie": "Pick a digit that a reasonable person would call small.",
    "m-low": "Name a lucky number between 6 and 10.",
}


def problem_text(pid: str) -> str:
    return f"{BODIES[pid]} [answers={PROBLEMS[pid][0]}]"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("curate")
    write_jsonl(root / "problems.jsonl", [{"id": pid, "problem": problem_text(pid), "answer": gold}
                                          for pid, (_, gold) in PROBLEMS.items()])
    with FakeOpenAIThread() as api:
        (root / "r.yaml").write_text(RECIPE.format(base_url=api.base_url))
        assert run_cli("generate", "-r", "r.yaml", "--out", "run", "--no-verify", "-q", cwd=root).returncode == 0
    return root


def fresh_run(made: Path, tmp_path: Path) -> Path:
    shutil.copytree(made, tmp_path, dirs_exist_ok=True)
    return tmp_path


def read_back(root: Path):  # noqa: ANN201
    """The dataset through `datasets`, with a cache of its own: the folder is rebuilt in place between reads."""
    return load_openthoughts(root / "run" / "dataset", root / f"cache-{time.monotonic_ns()}")


def kept_by_problem(root: Path) -> dict[str, int]:
    _, meta = read_back(root)
    counts: dict[str, int] = {}
    for m in meta:
        counts[m["problem_id"]] = counts.get(m["problem_id"], 0) + 1
    return counts


def test_without_curation_every_pass_of_a_referenced_problem_is_kept(made, tmp_path):
    root = fresh_run(made, tmp_path)
    stats = json_out(run_cli("verify", "run", "--json", cwd=root))
    assert kept_by_problem(root) == {"p100": 4, "p75": 3, "p50": 2, "p25": 1}
    assert stats["failures_by_reason"]["gold_unparseable"] == 16  # the four unlabelled problems
    assert stats["curation"]["label"] == "reference" and stats["curation"]["pass_rate_band"] is None


def test_band_keeps_both_ends_and_majority_labels_are_marked(made, tmp_path):
    root = fresh_run(made, tmp_path)
    stats = json_out(run_cli("verify", "run", "--keep-pass-rate", "0.25:0.75", "--label", "majority",
                             "--min-agreement", "0.6", "--json", cwd=root))
    # p100 and m-all (rate 1) are above; p0, m-tie and m-low (no label: rate 0) below.
    assert kept_by_problem(root) == {"p75": 3, "p50": 2, "p25": 1, "m-frac": 3}
    assert stats["curation"] | {"benchmarks": None} == {
        "pass_rate_band": [0.25, 0.75], "problems_below_band": 3, "problems_above_band": 2, "rows_outside_band": 8,
        "label": "majority", "min_agreement": 0.6, "problems_self_labelled": 2, "problems_without_consensus": 2,
        "rows_self_labelled": 3, "require_thought": True, "rows_without_thought": 0, "benchmarks": None,
        "ngram_min_overlap": None, "fuzzy_threshold": None, "contamination": {}}
    _, meta = read_back(root)
    for m in meta:  # never mixed silently: a vote is marked and is never presented as ground truth
        if m["problem_id"] == "m-frac":
            assert (m["answer_source"], m["majority_answer"], m["majority_agreement"], m["ground_truth_solution"]) == (
                "majority", "0.5", 0.75, None)
            assert m["extracted_answer"] in ("1/2", "0.5", "\\frac{1}{2}")
        else:
            assert (m["answer_source"], m["majority_answer"], m["ground_truth_solution"]) == ("reference", None, "5")
    labels = {r["problem_id"]: r for r in pq.read_table(root / "run" / "majority-labels.parquet").to_pylist()}
    assert {pid: (r["answer"], r["votes"], r["samples"]) for pid, r in labels.items()} == {
        "m-frac": ("0.5", 3, 4), "m-all": ("4", 4, 4), "m-tie": (None, 2, 4), "m-low": (None, 2, 4)}
    assert "tie" in labels["m-tie"]["reason"] and "50% < 60%" in labels["m-low"]["reason"]
    verdicts = pq.read_table(root / "run" / "verdicts").to_pylist()
    assert {v["status"] for v in verdicts if v["problem_id"] in ("m-tie", "m-low")} == {"no_consensus"}

    narrower = json_out(run_cli("verify", "run", "--keep-pass-rate", "0.2501:0.7499", "--label", "majority",
                                "--min-agreement", "0.6", "--json", cwd=root))
    assert kept_by_problem(root) == {"p50": 2}
    assert (narrower["curation"]["problems_below_band"], narrower["curation"]["problems_above_band"]) == (4, 4)


def test_bad_curation_flags_are_one_line_errors(made, tmp_path):
    root = fresh_run(made, tmp_path)
    for args, needle in ((["--keep-pass-rate", "0.9:0.1"], "0 <= LO <= HI <= 1"),
                         (["--keep-pass-rate", "half"], "expected LO:HI"),
                         (["--label", "vibes"], "expected reference or majority")):
        result = run_cli("verify", "run", *args, cwd=root)
        assert result.returncode == 2 and needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (root / "run" / "stats.json").exists()


def test_decontaminating_a_verified_run_rebuilds_its_dataset_without_judging_again(made, tmp_path):
    root = fresh_run(made, tmp_path)
    json_out(run_cli("verify", "run", "--keep-pass-rate", "0.25:1", "--json", cwd=root))
    verdict_files = {p: p.stat().st_mtime_ns for p in (root / "run" / "verdicts").iterdir()}
    # the benchmark repeats p50 with other spacing and case, and p25 word for word
    write_jsonl(root / "bench.jsonl", [{"question": "An unrelated benchmark problem about the area of a circle of radius 3."},
                                       {"question": "  FIND the remainder when 2 raised to the power 100\nis divided by 7 ."},
                                       {"question": BODIES["p25"]}])
    summary = json_out(run_cli("decontaminate", "run", "--against", "bench.jsonl", "--json", cwd=root))
    assert (summary["flagged"], summary["by_benchmark"], summary["rows_removed"]) == (2, {"bench.jsonl": 2}, 3)
    assert kept_by_problem(root) == {"p100": 4, "p75": 3}
    assert {p: p.stat().st_mtime_ns for p in (root / "run" / "verdicts").iterdir()} == verdict_files
    stats = json.loads((root / "run" / "stats.json").read_text())
    assert stats["curation"]["pass_rate_band"] == [0.25, 1.0]  # what verify applied still applies
    assert stats["curation"]["contamination"] == {"bench.jsonl": {"problems": 2, "rows": 3}}
    report = json.loads((root / "run" / "contamination.json").read_text())
    assert {(f["problem_id"], f["benchmark_row"], f["method"]) for f in report["flagged"]} == {
        ("p50", 1, "ngram"), ("p25", 2, "ngram")}

    # a later verify keeps them out; the card says how many per benchmark
    json_out(run_cli("verify", "run", "--json", cwd=root))
    assert kept_by_problem(root) == {"p100": 4, "p75": 3}
    assert run_cli("push", "run", "--to", "out", "-q", cwd=root).returncode == 0
    card = (root / "out" / "README.md").read_text()
    assert "| run | bench.jsonl | 50% | 95 | 2 | 3 |" in card
    assert "Overlap with public benchmarks was not checked" not in card


def test_a_named_benchmark_is_read_from_the_hub_at_run_time(made, tmp_path):
    from rfactory.testing.fake_hub import FakeHub

    root = fresh_run(made, tmp_path)
    rows = [{"problem": problem_text("p75").upper(), "answer": "5"}, {"problem": "What is the sum of 40 and 2?"}]
    with FakeHub() as hub:
        hub.add_repo("HuggingFaceH4/MATH-500", {"test.jsonl": "".join(json.dumps(r) + "\n" for r in rows).encode()})
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(root / "hf"),
               "HF_DATASETS_CACHE": str(root / "hf-datasets")}
        summary = json_out(run_cli("decontaminate", "run", "--against", "math500", "--json", cwd=root, env=env))
        missing = run_cli("decontaminate", "run", "--against", "aime2024", "-q", cwd=root, env=env)
    assert (summary["flagged"], summary["by_benchmark"]) == (1, {"math500": 1})
    assert "next" in summary and not (root / "run" / "stats.json").exists()  # not verified yet: verify applies it
    json_out(run_cli("verify", "run", "--json", cwd=root))
    assert "p75" not in kept_by_problem(root)
    assert missing.returncode == 2 and "benchmark aime2024 (HuggingFaceH4/aime_2024): cannot load" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    assert json.loads((root / "run" / "contamination.json").read_text())["benchmarks"][0]["name"] == "math500"
