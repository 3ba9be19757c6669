"""Secrets never reach a file or a log line."""

from pathlib import Path

from conftest import run_cli, write_jsonl

MARKER = "sk-rfactory-secret-MARKER-7f3a9c"
URL_PASSWORD = "urlpass-MARKER-51e2"


def test_api_key_and_url_credentials_stay_out_of_files_and_logs(tmp_path: Path, fake_api):
    write_jsonl(tmp_path / "problems.jsonl", [
        {"problem": "What is 1+1? [answer=2]", "answer": "2"},
        {"problem": "Flaky [500] [answer=3]", "answer": "3"},
    ])
    with_password = fake_api.base_url.replace("http://", f"http://user:{URL_PASSWORD}@")
    env = {"OPENAI_API_KEY": MARKER}
    outputs = []
    # The second run resumes the first: the stored URL has no credentials, so the two are the same teacher.
    for base_url, extra in ((fake_api.base_url, ["--json"]), (with_password, ["--samples", "2"])):
        result = run_cli("generate", "-t", "openai:fake", "--base-url", base_url, "-p", "problems.jsonl", "--out", "run",
                         "--max-tokens", "32", *extra, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        outputs += [result.stdout, result.stderr]
    for command in (["status", "run"], ["show", "run", "-n", "10"], ["verify", "run"]):
        result = run_cli(*command, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        outputs += [result.stdout, result.stderr]

    # The key was really used: the server saw it.
    assert f"Bearer {MARKER}" in fake_api.fake.auth_headers
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert len(files) > 5
    for path in files:
        blob = path.read_bytes()
        assert MARKER.encode() not in blob, path
        assert URL_PASSWORD.encode() not in blob, path
    for text in outputs:
        assert MARKER not in text and URL_PASSWORD not in text
    assert "127.0.0.1" in (tmp_path / "run/run.json").read_text()  # the public part of the URL is kept
