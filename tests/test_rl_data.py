"""`rfactory rl-data`: a verified run (planted pass rates), a problem file and a verl-format Hub set
(PRIME-RL/Eurus-2-RL-Data's columns, on the loopback Hub) → RL problem sets read back with
`datasets`; band, decontamination and duplicates each counted; pushed like any export."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import json_out, run_cli, write_jsonl
from rfactory.testing.fake_hub import FakeHub
from rfactory.testing.fake_openai import FakeOpenAIThread

RECIPE = """
name: m1
problems: {{source: problems.jsonl, columns: {{id: id}}}}
teacher: {{spec: "openai:fake", options: {{base_url: "{base_url}"}}}}
sampling: {{samples: 4}}
"""

# id: (the four samples' answers, the reference). Pass rates 1, .75, .5, .25, 0.
PLANTED = {
    "p100": ("A rectangle has sides of length 3 and 4. How long is its diagonal?", "5|5|5|5", "5"),
    "p75": ("How many ways can 5 distinct books be arranged on a shelf if two must stay together?", "48|48|48|6", "48"),
    "p50": ("Find the remainder when 2 raised to the power 100 is divided by 7.", "2|2|6|6", "2"),
    "p25": ("The sum of three consecutive even integers is 78. What is the largest of them?", "28|6|6|6", "28"),
    "p0": ("What is the least common multiple of 12 and 18 written in base ten?", "6|6|6|6", "36"),
}
SYSTEM_OF_THE_RUN = "Think in two sections, then answer."


def load(folder: Path, cache: Path) -> list[dict]:
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(folder / "data" / "train-*.parquet"), split="train",
                               cache_dir=str(cache))
    return list(ds)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rl")
    write_jsonl(root / "problems.jsonl", [{"id": pid, "problem": f"{text} [answers={answers}]", "answer": gold}
                                          for pid, (text, answers, gold) in PLANTED.items()])
    with FakeOpenAIThread() as api:
        (root / "r.yaml").write_text(RECIPE.format(base_url=api.base_url)
                                     + f"prompt: {{dataset_system: {json.dumps(SYSTEM_OF_THE_RUN)}}}\n")
        assert run_cli("generate", "-r", "r.yaml", "--out", "m1", "-q", cwd=root).returncode == 0
    return root


def test_a_verified_run_becomes_prompts_references_and_pass_rates_in_the_band(run: Path, tmp_path: Path):
    summary = json_out(run_cli("rl-data", str(run / "m1"), "--keep-pass-rate", "0.2:0.8", "--out", str(tmp_path / "rl"),
                               "--json"))
    rows = {r["id"]: r for r in load(tmp_path / "rl", tmp_path / "cache")}
    assert sorted(rows) == ["p25", "p50", "p75"]
    assert summary["dropped"] == {"below_band": 1, "above_band": 1} and summary["rows"] == 3
    r = rows["p75"]
    assert r["pass_rate"] == 0.75 and r["samples"] == 4 and r["solution"] == "48" and r["tests"] is None
    assert r["domain"] == "math" and r["source"] == str(run / "m1")
    assert r["prompt"][0] == {"role": "system", "content": SYSTEM_OF_THE_RUN}  # as the SFT round on it trained
    assert r["prompt"][1]["role"] == "user" and r["prompt"][1]["content"].startswith("How many ways")
    card = (tmp_path / "rl" / "README.md").read_text()
    assert "configs:" in card and "[0.2, 0.8]" in card and "| below_band | 1 |" in card
    stored = json.loads((tmp_path / "rl" / "rl-data.json").read_text())
    assert stored["pass_rates"]["histogram"]["0.7-0.8"] == 1 and stored["band"] == "[0.2, 0.8]"

    # open-r1's band leaves its ends out: 0.25 and 0.5 stay, 0.75 goes
    open_r1 = json_out(run_cli("rl-data", str(run / "m1"), "--keep-pass-rate", "open-r1", "--out",
                               str(tmp_path / "rl2"), "--json"))
    assert open_r1["rows"] == 2 and open_r1["dropped"] == {"below_band": 1, "above_band": 2}


def test_benchmarks_and_repeats_are_left_out_and_counted(run: Path, tmp_path: Path):
    write_jsonl(tmp_path / "bench.jsonl", [{"problem": PLANTED["p50"][0], "answer": "2"}])
    write_jsonl(tmp_path / "more.jsonl", [
        {"problem": PLANTED["p100"][0] + " [answers=5|5|5|5]", "answer": "5"},  # the run's own problem again
        {"problem": "Compute 17 times 23, then subtract the sum of the digits of the product.", "answer": "380"},
        {"problem": "A problem with no reference answer at all, which no reward can score.", "answer": None},
    ])
    summary = json_out(run_cli("rl-data", str(run / "m1"), str(tmp_path / "more.jsonl"), "--decontaminate",
                               f"{tmp_path / 'bench.jsonl'}", "--out", str(tmp_path / "rl"), "--json"))
    assert summary["dropped"] == {"contaminated:bench.jsonl": 1, "duplicate_exact": 1, "no_reference": 1}
    rows = load(tmp_path / "rl", tmp_path / "cache")
    assert len(rows) == summary["rows"] == 5
    from_file = next(r for r in rows if r["solution"] == "380")
    assert from_file["pass_rate"] is None and from_file["prompt"][0]["role"] == "system"  # rfactory's reasoning prompt


def eurus_parquet() -> bytes:
    """Rows as PRIME-RL/Eurus-2-RL-Data holds them (verl's layout)."""
    system = {"role": "system", "content": "When tackling complex reasoning tasks, ..."}
    rows = [
        {"data_source": "numina_olympiads", "ability": "math", "extra_info": {"split": "train", "index": 0},
         "prompt": [system, {"role": "user", "content": "Find x if 2x + 3 = 11."}],
         "reward_model": {"ground_truth": "4", "style": "rule"}},
        {"data_source": "taco", "ability": "code", "extra_info": {"split": "train", "index": 1},
         "prompt": [system, {"role": "user", "content": "Read two integers and print their sum."}],
         "reward_model": {"ground_truth": json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]}), "style": "rule"}},
        {"data_source": "numina_amc", "ability": "math", "extra_info": {"split": "train", "index": 2},
         "prompt": [system, {"role": "user", "content": "What is the smallest prime greater than 20?"}],
         "reward_model": {"ground_truth": "23", "style": "rule"}},
    ]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def test_a_verl_format_hub_set_is_read_as_it_is_and_the_result_pushed(tmp_path: Path):
    with FakeHub() as hub:
        hf = {"HF_HUB_DISABLE_XET": "1", "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_CACHE": str(tmp_path / "hfd"),
              "HF_TOKEN": hub.token}
        hub.add_repo("PRIME-RL/Eurus-2-RL-Data", {"train.parquet": eurus_parquet(), "validation.parquet": eurus_parquet()})
        env = {**hf, "HF_ENDPOINT": hub.url}
        summary = json_out(run_cli("rl-data", "hf:PRIME-RL/Eurus-2-RL-Data", "--out", "rl/eurus", "--json",
                                   cwd=tmp_path, env=env))
        assert summary["rows"] == 3 and summary["by_domain"] == {"math": 2, "code": 1}
        rows = {r["id"]: r for r in load(tmp_path / "rl/eurus", tmp_path / "cache")}
        code = rows["taco-1"]
        assert code["domain"] == "code" and json.loads(code["tests"])["outputs"] == ["3\n"] and code["solution"] is None
        assert rows["numina_olympiads-0"]["solution"] == "4"
        assert rows["numina_olympiads-0"]["prompt"][0]["content"].startswith("When tackling")  # the set's own system

        pushed = json_out(run_cli("push", "rl/eurus", "--repo", "me/eurus-rl", "--json", cwd=tmp_path, env=env))
        assert pushed["changed"] is True
        files = set(hub.files("me/eurus-rl"))
        assert {"README.md", "rl-data.json", "data/train-00000-of-00001.parquet"} <= files
        again = json_out(run_cli("push", "rl/eurus", "--repo", "me/eurus-rl", "--json", cwd=tmp_path, env=env))
        assert again["changed"] is False  # nothing new: no commit


def test_bad_input_is_one_line(run: Path, tmp_path: Path):
    write_jsonl(tmp_path / "p.jsonl", [{"problem": "What is 2 + 2?", "answer": "4"}])
    for args, message in [
        ((str(tmp_path / "p.jsonl"), "--keep-pass-rate", "prime"), "has no pass rate (not a verified run)"),
        ((str(run / "m1"), "--keep-pass-rate", "0.9:0.1"), "need 0 <= LO <= HI <= 1"),
        ((str(tmp_path / "nope.jsonl"),), "problem file not found"),
        ((str(tmp_path / "p.jsonl"), "--domain", "poetry"), "--domain poetry: expected math or code"),
    ]:
        r = run_cli("rl-data", *args, "--out", str(tmp_path / "x"))
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and message in lines[0], r.stderr
        assert not list(tmp_path.glob("x*"))  # nothing half-written
