"""Bad input: one line naming the file/row/field, a non-zero exit, and nothing already written harmed."""

from pathlib import Path

import pytest

from conftest import run_cli, write_jsonl, write_recipe


@pytest.fixture
def existing_run(tmp_path: Path, fake_api) -> Path:
    write_jsonl(tmp_path / "good.jsonl", [{"problem": "What is 1+1? [answer=2]", "answer": "2"}])
    result = run_cli("generate", "-t", "openai:fake", "--base-url", fake_api.base_url, "-p", "good.jsonl", "--out", "run", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "run"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


CASES = [
    # (files to write, extra args, expected one-line error)
    ({"bad.yaml": "name: x\nsampling: {samples: 2\n"}, ["-r", "bad.yaml"], "error: bad.yaml: line 3 column 1 malformed YAML: expected ',' or '}', but got '<stream end>'"),
    ({"typo.yaml": "name: x\nsampling: {temprature: 0.5}\n"}, ["-r", "typo.yaml"], "error: typo.yaml: unknown key 'sampling.temprature'"),
    ({"neg.yaml": "name: x\nsampling: {samples: -1}\n"}, ["-r", "neg.yaml"], "error: neg.yaml: field 'sampling.samples': Input should be greater than or equal to 1"),
    ({"p.jsonl": '{"question": "q", "answer": "1"}\n'}, ["-p", "p.jsonl"], "error: p.jsonl: row 1: missing column 'problem' (columns: question, answer)"),
    ({"p.jsonl": ""}, ["-p", "p.jsonl"], "error: p.jsonl: no problems found"),
    ({"p.jsonl": '{"problem": "a", "answer": "1"}\n{"problem": \n'}, ["-p", "p.jsonl"], None),
    ({"p.csv": "problem,answer\n,1\n"}, ["-p", "p.csv"], "error: p.csv: row 1: field 'problem' is empty"),
    ({}, ["-p", "missing.jsonl"], "error: missing.jsonl: problem file not found (use hf:org/name for a Hub dataset)"),
    ({}, ["-r", "nosuchrecipe"], "error: unknown recipe 'nosuchrecipe': give a YAML path or one of code, math"),
    ({}, ["-t", "vllm-nope:x"], "error: unknown teacher backend 'vllm-nope' (have: llamacpp, openai, vllm)"),
    ({}, ["-t", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "-p", "good.jsonl", "--tpm", "-5"], None),
]


@pytest.mark.parametrize("files,args,expected", CASES, ids=[c[2] or " ".join(c[1]) for c in CASES])
def test_one_line_error_and_run_untouched(tmp_path: Path, existing_run: Path, files, args, expected):
    for name, text in files.items():
        write_recipe(tmp_path / name, text)
    before = _snapshot(existing_run)
    result = run_cli("generate", *args, "--out", "run", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    if expected:
        assert lines[0] == expected
    assert _snapshot(existing_run) == before


def test_invalid_json_line_is_named(tmp_path: Path):
    write_recipe(tmp_path / "p.jsonl", '{"problem": "a", "answer": "1"}\n{"problem": \n')
    result = run_cli("generate", "-p", "p.jsonl", "--out", "run", cwd=tmp_path)
    assert result.returncode == 2
    # The first row is fine, so the run starts; the bad line stops it with its number.
    assert result.stderr.strip().splitlines()[-1].startswith("error: p.jsonl: line 2: invalid JSON")


def test_output_dir_not_writable(tmp_path: Path):
    write_jsonl(tmp_path / "good.jsonl", [{"problem": "q", "answer": "1"}])
    (tmp_path / "a-file").write_text("I am not a directory")
    result = run_cli("generate", "-p", "good.jsonl", "--out", "a-file/run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: a-file/run: output directory not writable (Not a directory)"
    assert (tmp_path / "a-file").read_text() == "I am not a directory"


def test_verify_on_a_folder_that_is_not_a_run(tmp_path: Path):
    result = run_cli("verify", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path}: not a run folder (no run.json); make one with `rfactory generate --out {tmp_path}`"


def test_wrong_option_for_the_backend(tmp_path: Path):
    write_recipe(tmp_path / "r.yaml", "name: r\nteacher: {spec: 'openai:m', options: {temprature: 1}}\n")
    result = run_cli("generate", "-r", "r.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: teacher 'openai:m': unknown option teacher.options.temprature"
