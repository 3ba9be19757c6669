"""Recipes (defaults → YAML → flags, strict keys) and streamed problem sources with column mapping."""

import json
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rfactory.errors import UserError
from rfactory.problems import content_id, count_problems, iter_problems
from rfactory.recipe import ProblemsConfig, load_recipe


def test_precedence_defaults_yaml_flags(tmp_path: Path):
    (tmp_path / "r.yaml").write_text("name: r\nsampling: {temperature: 0.3, samples: 5}\n")
    recipe = load_recipe(str(tmp_path / "r.yaml"), {"sampling.samples": 8, "sampling.seed": None})
    assert recipe.sampling.temperature == 0.3  # YAML over default
    assert recipe.sampling.samples == 8  # flag over YAML
    assert recipe.sampling.top_p == 0.95  # default
    assert recipe.sampling.seed == 0  # an unset flag changes nothing


def test_builtin_recipe_resolves_its_prompts():
    recipe = load_recipe("math")
    assert "<|begin_of_thought|>" in recipe.prompt.dataset_system
    assert "<|begin_of_solution|>" in recipe.prompt.dataset_system
    assert recipe.prompt.user_template == "Return your final response within \\boxed{}. {problem}"
    assert recipe.prompt.teacher_system != recipe.prompt.dataset_system


def test_prompt_file_beside_the_recipe_wins(tmp_path: Path):
    (tmp_path / "math_user.txt").write_text("Mine: {problem}\n")
    (tmp_path / "r.yaml").write_text("name: r\nprompt: {user_template: '@math_user.txt'}\n")
    assert load_recipe(str(tmp_path / "r.yaml")).prompt.user_template == "Mine: {problem}"


def test_user_template_must_take_the_problem(tmp_path: Path):
    (tmp_path / "r.yaml").write_text("name: r\nprompt: {user_template: 'no placeholder'}\n")
    with pytest.raises(UserError, match="must contain {problem}"):
        load_recipe(str(tmp_path / "r.yaml"))


def test_a_new_source_drops_the_recipe_limit_and_a_new_backend_its_options(tmp_path: Path):
    (tmp_path / "r.yaml").write_text("name: r\nproblems: {limit: 3}\nteacher: {spec: 'llamacpp:smollm2', options: {n_ctx: 512}}\n")
    recipe = load_recipe(str(tmp_path / "r.yaml"), {"problems.source": "p.jsonl", "teacher.spec": "openai:m"})
    assert recipe.problems.limit is None and recipe.teacher.options == {}


ROWS = [{"qid": f"q{i}", "question": f"What is {i}+{i}?", "gold": str(2 * i)} for i in range(5)]


def _write(tmp_path: Path, suffix: str) -> Path:
    path = tmp_path / f"p{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif suffix == ".json":
        path.write_text(json.dumps({"data": ROWS}))
    elif suffix == ".csv":
        path.write_text("qid,question,gold\n" + "".join(f"{r['qid']},{r['question']},{r['gold']}\n" for r in ROWS))
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_every_format_with_column_mapping(tmp_path: Path, suffix: str):
    path = _write(tmp_path, suffix)
    cfg = ProblemsConfig(source=str(path), columns={"id": "qid", "problem": "question", "answer": "gold"})
    problems = list(iter_problems(cfg))
    assert [(p.id, p.problem, p.answer) for p in problems] == [(r["qid"], r["question"], r["gold"]) for r in ROWS]
    hashed = list(iter_problems(cfg.model_copy(update={"columns": cfg.columns.model_copy(update={"id": None})})))
    assert [p.id for p in hashed] == [content_id(r["question"]) for r in ROWS]
    assert len({p.id for p in hashed}) == 5


def test_parquet_missing_column_is_named(tmp_path: Path):
    path = _write(tmp_path, ".parquet")
    with pytest.raises(UserError, match=r"missing column 'problem' \(columns: gold, qid, question\)"):
        next(iter_problems(ProblemsConfig(source=str(path))))


def test_content_ids_are_stable_across_formats_and_whitespace(tmp_path: Path):
    assert content_id("What is 1+1?") == content_id("  What is 1+1?\n") == "31adf3e245f99d7b"  # pinned: resuming old runs depends on it


def test_large_jsonl_is_streamed_not_loaded(tmp_path: Path):
    path = tmp_path / "big.jsonl"
    line = json.dumps({"problem": "x" * 1000, "answer": "1"}) + "\n"
    path.write_text(line * 50_000)  # 50 MB
    cfg = ProblemsConfig(source=str(path), columns={"id": None})
    assert count_problems(cfg) == 50_000
    tracemalloc.start()
    n = sum(1 for _ in iter_problems(cfg))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 50_000
    assert peak < 5_000_000  # a few rows at a time, not 50 MB


def test_builtin_set_is_deterministic_and_has_answers():
    cfg = ProblemsConfig(source="builtin:arithmetic", limit=30)
    first, second = list(iter_problems(cfg)), list(iter_problems(cfg))
    assert first == second and len(first) == 30
    assert all(p.answer for p in first)
    assert first[0].id == "arithmetic-0000000"


def test_hub_style_source_streams_a_local_dataset_folder(tmp_path: Path):
    # `hf:` goes through datasets.load_dataset(streaming=True); a local folder takes the same path offline.
    (tmp_path / "ds").mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "ds" / "train-00000-of-00001.parquet")
    cfg = ProblemsConfig(source=f"hf:{tmp_path / 'ds'}", columns={"id": "qid", "problem": "question", "answer": "gold"})
    assert [p.id for p in iter_problems(cfg)] == [r["qid"] for r in ROWS]
