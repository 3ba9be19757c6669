"""A reasoning dataset keeps only traces with reasoning in them: a real teacher's verified sample
whose thought section is empty (no reasoning at all, or an empty <think></think>) is left out,
counted in stats.json and on the card; a recipe may opt out, and says so on the card."""

from __future__ import annotations

from pathlib import Path

from conftest import json_out, load_openthoughts, run_cli, write_jsonl
from rfactory.testing.fake_openai import FakeOpenAIThread

RECIPE = """
name: thoughts
problems: {{source: problems.jsonl, columns: {{id: id}}}}
teacher: {{spec: "openai:fake", options: {{base_url: "{base_url}"}}}}
sampling: {{samples: 2}}
{output}
"""

PROBLEMS = [
    {"id": "reasoned", "problem": "What is 2 + 3? [answer=5]", "answer": "5"},
    {"id": "think-tags", "problem": "What is 1 + 4? [answer=5] [think]", "answer": "5"},
    {"id": "no-reasoning", "problem": "What is 6 - 1? [answer=5] [nothink]", "answer": "5"},
    {"id": "empty-think", "problem": "What is 10 / 2? [answer=5] [emptythink]", "answer": "5"},
    {"id": "wrong", "problem": "What is 3 + 3? [answer=5] [nothink]", "answer": "6"},  # fails before the thought check
]


def generate(tmp_path: Path, output: str = "") -> dict:
    write_jsonl(tmp_path / "problems.jsonl", PROBLEMS)
    with FakeOpenAIThread() as api:
        (tmp_path / "r.yaml").write_text(RECIPE.format(base_url=api.base_url, output=output))
        return json_out(run_cli("generate", "-r", "r.yaml", "--out", "run", "--json", cwd=tmp_path))


def card(tmp_path: Path) -> str:
    json_out(run_cli("push", "run", "--repo", "me/t", "--to", "export", "--json", cwd=tmp_path))
    return (tmp_path / "export" / "README.md").read_text()


def test_a_real_teachers_traces_without_reasoning_are_left_out_and_counted(tmp_path: Path):
    summary = generate(tmp_path)
    assert summary["generate"]["thought_required"] is True
    ver = summary["verify"]
    assert ver["passed"] == 8 and ver["kept"] == 4
    assert ver["curation"]["require_thought"] is True and ver["curation"]["rows_without_thought"] == 4
    _, meta = load_openthoughts(tmp_path / "run" / "dataset", tmp_path / "hf")
    assert sorted(set(meta["problem_id"])) == ["reasoned", "think-tags"]
    assert all(m["deepseek_reasoning"].strip() for m in meta)
    text = card(tmp_path)
    assert "### Traces without reasoning" in text and "| run | yes | 4 |" in text
    assert "without checking for a thought section" not in text
    # verify on its own, and the rebuild after decontamination, keep the same rule
    again = json_out(run_cli("verify", "run", "--json", cwd=tmp_path))
    assert (again["kept"], again["curation"]["rows_without_thought"]) == (4, 4)


def test_a_recipe_may_keep_them_and_the_card_says_so(tmp_path: Path):
    ver = generate(tmp_path, "output: {require_thought: false}")["verify"]
    assert ver["kept"] == 8 and ver["curation"]["require_thought"] is False
    assert ver["curation"]["rows_without_thought"] == 0
    text = card(tmp_path)
    assert "| run | no | 0 |" in text
    assert "- run: rows were kept without checking for a thought section" in text
