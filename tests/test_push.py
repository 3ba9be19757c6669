"""`rfactory push` against the loopback Hub: the real `huggingface_hub` client publishes, the real
`datasets` reads back, faults are injected by the server. Runs come from real `generate` and
`verify` commands (the teacher is the fake OpenAI server: the teacher is not what is tested here)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from rfactory.testing.fake_hub import FakeHub
from rfactory.testing.fake_openai import FakeOpenAIThread

from conftest import json_out, run_cli, write_jsonl

RECIPE = """
name: pushme
problems: {{source: {source}, columns: {{id: id}}}}
teacher: {{spec: "openai:fake", options: {{base_url: "{base_url}"}}}}
sampling: {{samples: 2}}
output: {{shard_max_rows: 4}}
"""


def _problems(ids: range) -> list[dict]:
    # Every third answer is wrong, so each run has failures to count; both samples of a problem
    # get the same response, so each run also has duplicates to drop.
    return [{"id": f"p{i}", "problem": f"What is {i}+{i}? [answer={2 * i if i % 3 else 99}]", "answer": str(2 * i)}
            for i in ids]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """runs/m1 (problems 1-9) and runs/m2 (problems 7-15, so 7-9 repeat m1), both verified."""
    root = tmp_path_factory.mktemp("runs")
    with FakeOpenAIThread() as api:
        for name, ids in (("m1", range(1, 10)), ("m2", range(7, 16))):
            write_jsonl(root / f"{name}.jsonl", _problems(ids))
            (root / f"{name}.yaml").write_text(RECIPE.format(source=f"{name}.jsonl", base_url=api.base_url))
            assert run_cli("generate", "-r", f"{name}.yaml", "--out", name, "-q", cwd=root).returncode == 0
            json_out(run_cli("verify", name, "--json", cwd=root))
    return root


def hub_env(hub: FakeHub, home: Path, token: str | None = None) -> dict[str, str]:
    env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": token or hub.token, "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(home), "HF_HUB_ETAG_TIMEOUT": "5"}
    return env


def push(hub: FakeHub, cwd: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    return run_cli("push", *args, "--json", cwd=cwd, env=hub_env(hub, cwd / "hf-home", token))


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    return result.stderr.strip().splitlines()[-1]


def expected_rows(root: Path, names: list[str]) -> tuple[list[dict], list[dict]]:
    """What the merged dataset must hold, worked out here from the runs' own shards."""
    data, meta, seen = [], [], set()
    for name in names:
        for config, out in (("data", data), ("metadata", meta)):
            for shard in sorted((root / name / "dataset" / config).glob("*.parquet")):
                out.extend([(name, row) for row in pq.read_table(shard).to_pylist()])
    kept_data, kept_meta = [], []
    for (_, d), (_, m) in zip(data, meta):
        key = tuple(t["value"] for t in d["conversations"])
        if key not in seen:
            seen.add(key)
            kept_data.append(d)
            kept_meta.append(m)
    return kept_data, kept_meta


READ_BACK = """
import json, sys, datasets
repo = sys.argv[1]
print(json.dumps({"data": datasets.load_dataset(repo, split="train").to_list(),
                  "metadata": datasets.load_dataset(repo, "metadata", split="train").to_list()}))
"""


def read_back(hub: FakeHub, cwd: Path, repo: str) -> dict:
    env = {**os.environ, **hub_env(hub, cwd / "reader-home")}
    r = subprocess.run([sys.executable, "-c", READ_BACK, repo], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def folder_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_push_merges_runs_into_one_commit_that_datasets_reads_back(runs, tmp_path):
    with FakeHub() as hub:
        result = json_out(push(hub, runs, "m1", "m2", "--repo", "me/mix"))
        want_data, want_meta = expected_rows(runs, ["m1", "m2"])
        assert result["changed"] and result["rows"] == len(want_data) == 10  # 6 + 6 passing problems, 2 shared
        assert result["duplicates_dropped"] == 14  # 12 same-response twins, then m2's copies of p7 and p8
        assert len(hub.repos["me/mix"].commits) == 2  # the repo's creation, then one commit with everything

        got = read_back(hub, tmp_path, "me/mix")
        assert got["data"] == want_data
        assert got["metadata"] == want_meta
        dropped = [json.loads(line) for line in (runs / "m1" / "push-duplicates.jsonl").read_text().splitlines()]
        assert len(dropped) == 14 and result["duplicates_report"] == "m1/push-duplicates.jsonl"
        assert [d["run"] for d in dropped].count("m2") == 8  # 6 twins, then p7 and p8 published from m1
        for d in dropped:  # each names the published row it repeats
            assert got["metadata"][d["duplicate_of_row"]]["problem_id"] == d["problem_id"]
        files = hub.files("me/mix")
        assert sorted(p for p in files if p.startswith("data/")) == [
            f"data/train-0000{i}-of-00003.parquet" for i in range(3)]  # renumbered: 4 + 4 + 2 rows
        assert sorted(p for p in files if p.startswith("metadata/")) == [
            f"metadata/train-0000{i}-of-00003.parquet" for i in range(3)]

        card = files["README.md"].decode()
        front = yaml.safe_load(card.split("---\n")[1])
        assert front["configs"][1] == {"config_name": "metadata", "data_files": [{"split": "train", "path": "metadata/train-*.parquet"}]}
        assert front["license"] == "apache-2.0" and front["size_categories"] == ["n<1K"] and front["pretty_name"] == "mix"
        assert {"synthetic", "reasoning", "math"} <= set(front["tags"]) and front["task_categories"] == ["text-generation"]
        for image in ("images/completion_tokens.png", "images/pass_rate_by_source.png"):
            assert files[image].startswith(b"\x89PNG") and f"]({image})" in card
        assert 'load_dataset("me/mix", "metadata", split="train")' in card
        assert '"hf_hub_url": "me/mix"' in card and '"formatting": "sharegpt"' in card
        assert "| m1 | math | 5.0 | 9 | 6 | 18 | 12 | 66.7% | 6 |" in card  # per-run verifier pass rates
        assert "| m2 | math | 5.0 | 9 | 6 | 18 | 12 | 66.7% | 4 |" in card
        assert "| mismatch | 12 |" in card  # failure reasons, summed over runs
        assert "`openai:fake`" in card and json.dumps(want_data[0]["conversations"][0]["value"]) in card  # example row


def test_to_dir_is_byte_for_byte_what_push_uploads_and_a_second_push_is_a_no_op(runs, tmp_path):
    with FakeHub() as hub:
        json_out(push(hub, runs, "m1", "m2", "--repo", "me/mix"))
        exported = json_out(run_cli("push", "m1", "m2", "--repo", "me/mix", "--to", str(tmp_path / "export"), "--json", cwd=runs))
        uploaded = hub.files("me/mix")
        uploaded.pop(".gitattributes")
        assert folder_files(tmp_path / "export") == uploaded
        assert exported["files"] == len(uploaded)

        commits = len(hub.repos["me/mix"].commits)
        again = push(hub, runs, "m1", "m2", "--repo", "me/mix")
        assert json_out(again)["changed"] is False and json_out(again)["files_added"] == 0
        assert len(hub.repos["me/mix"].commits) == commits and hub.commit_calls == 1

        rich = run_cli("push", "m1", "m2", "--repo", "me/mix", cwd=runs, env=hub_env(hub, runs / "hf-home"))
        assert rich.returncode == 0 and "me/mix already holds exactly this dataset" in rich.stdout


def test_a_smaller_push_deletes_the_stale_shards_in_the_same_commit(runs, tmp_path):
    with FakeHub() as hub:
        json_out(push(hub, runs, "m1", "m2", "--repo", "me/mix"))
        result = json_out(push(hub, runs, "m1", "--repo", "me/mix"))
        assert result["files_deleted"] == 6  # the -of-00003 shards of both configs, replaced by -of-00002
        files = hub.files("me/mix")
        assert sorted(p for p in files if p.endswith(".parquet")) == [
            f"{c}/train-0000{i}-of-00002.parquet" for c in ("data", "metadata") for i in range(2)]
        assert read_back(hub, tmp_path, "me/mix")["data"] == expected_rows(runs, ["m1"])[0]


@pytest.mark.parametrize("fault", ["fail_uploads", "drop_uploads"])
def test_an_interrupted_push_resumes_into_one_commit(runs, tmp_path, fault):
    # Uploads after the first fail for longer than the client retries: the push gives up.
    with FakeHub(**{fault: set(range(2, 100))}) as hub:
        error = one_line_error(push(hub, runs, "m1", "m2", "--repo", "me/mix"))
        assert error.endswith("nothing was published. Run the same push again to resume")
        assert ("the Hub answered 500" in error) if fault == "fail_uploads" else ("network failure" in error)
        assert set(hub.files("me/mix")) == {".gitattributes"}  # readers see nothing half-published
        stored_before = set(hub.lfs)
        assert len(stored_before) == 1

        getattr(hub, fault).clear()
        uploads_before = hub.uploads
        result = json_out(push(hub, runs, "m1", "m2", "--repo", "me/mix"))
        assert result["changed"]
        assert hub.uploads - uploads_before == 5  # 6 shards, one already stored: not sent again
        commits = hub.repos["me/mix"].commits
        assert len(commits) == 2
        json_out(run_cli("push", "m1", "m2", "--repo", "me/mix", "--to", str(tmp_path / "export"), "--json", cwd=runs))
        files = hub.files("me/mix")
        files.pop(".gitattributes")
        assert files == folder_files(tmp_path / "export")  # every file, once, nothing else


def test_someone_committing_meanwhile_is_a_clear_error_and_nothing_of_ours_is_written(runs, tmp_path):
    with FakeHub() as hub:
        json_out(push(hub, runs, "m1", "--repo", "me/mix"))
        hub.race = {"README.md": b"---\nlicense: mit\n---\n# edited on the website\n"}
        error = one_line_error(push(hub, runs, "m1", "m2", "--repo", "me/mix"))
        assert error == ("error: me/mix: someone else committed while this push ran (412); nothing was published. "
                         "Run the same push again to publish on top of their commit")
        files = hub.files("me/mix")
        assert files["README.md"].endswith(b"# edited on the website\n")
        assert "data/train-00000-of-00003.parquet" not in files  # the m1+m2 shards never landed
        assert json_out(push(hub, runs, "m1", "m2", "--repo", "me/mix"))["changed"]  # again, on top of theirs
        assert len(read_back(hub, tmp_path, "me/mix")["data"]) == 10


def test_create_pr_leaves_main_untouched(runs):
    with FakeHub() as hub:
        json_out(push(hub, runs, "m1", "--repo", "me/mix"))
        main = hub.files("me/mix")
        result = json_out(push(hub, runs, "m1", "m2", "--repo", "me/mix", "--create-pr"))
        assert result["changed"] and result["pull_request"].endswith("/discussions/1")
        assert hub.files("me/mix") == main
        assert "data/train-00002-of-00003.parquet" in hub.files("me/mix", result["commit"])


def test_the_token_appears_in_no_file_and_no_log_line(runs, tmp_path):
    marker = "hf_MARKERxyzMARKER0123456789"
    work = tmp_path / "work"
    shutil.copytree(runs, work, ignore=shutil.ignore_patterns("hf-home", "reader-home"))
    with FakeHub(token=marker, namespaces={"me"}, fail_uploads={3}) as hub:
        env = hub_env(hub, work / "hf-home")
        outputs = [
            run_cli("push", "m1", "m2", "--repo", "me/mix", cwd=work, env=env),  # rich, with a retried upload
            run_cli("push", "m1", "--repo", "me/mix", "--json", cwd=work, env=env),
            run_cli("push", "m1", "--repo", "them/mix", "--json", cwd=work, env=env),  # 403
            run_cli("push", "m1", "--repo", "me/mix", "--to", "export", cwd=work, env=env),
        ]
        assert [r.returncode for r in outputs] == [0, 0, 2, 0]
        assert any(marker in h for h in hub.headers_seen)  # it was sent: the check below is not vacuous
        for r in outputs:
            assert marker not in r.stdout and marker not in r.stderr
        leaked = [str(p) for p in work.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]
        assert leaked == []
        for sha, files in hub.repos["me/mix"].commits:
            assert not any(marker.encode() in data for data in files.values())


def test_errors_are_one_line_and_change_nothing(runs, tmp_path):
    with FakeHub(namespaces={"me"}) as hub:
        no_token = run_cli("push", "m1", "--repo", "me/mix", cwd=runs,
                           env={**hub_env(hub, tmp_path / "empty-home"), "HF_TOKEN": ""})
        assert one_line_error(no_token) == "error: no Hugging Face token: set HF_TOKEN or log in with `hf auth login`"
        assert one_line_error(push(hub, runs, "m1", "--repo", "me/mix", token="hf_wrong")) == (
            "error: the Hub rejected the token (401): set a valid HF_TOKEN or log in again with `hf auth login`")
        assert one_line_error(push(hub, runs, "m1", "--repo", "them/mix")) == (
            "error: them/mix: the token has no write access to this repo (403); use a token with write permission for 'them'")
        assert hub.repos == {}

        json_out(push(hub, runs, "m1", "--repo", "me/mix"))
        hub.commit("me/mix", {"train.csv": b"a,b\n1,2\n"})
        before = hub.files("me/mix")
        assert one_line_error(push(hub, runs, "m1", "--repo", "me/mix")) == (
            "error: me/mix already holds files rfactory did not write ('train.csv'); push to a new repo, or remove them first")
        assert hub.files("me/mix") == before

    assert one_line_error(run_cli("push", "m1", cwd=runs)) == "error: push needs --repo ORG/NAME, or --to DIR to write the files locally"
    assert one_line_error(run_cli("push", "m1", "m1", "--to", str(tmp_path / "x"), cwd=runs)) == "error: m1: run given twice"
    assert one_line_error(run_cli("push", "nowhere", "--to", str(tmp_path / "x"), cwd=runs)).startswith(
        "error: nowhere: not a run folder (no run.json)")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    assert one_line_error(run_cli("push", "m1", "--to", str(precious), cwd=runs)) == (
        f"error: {precious}: exists and holds other files; export into a new or empty folder")
    assert (precious / "notes.txt").read_text() == "keep me"


def test_a_run_not_verified_or_changed_since_is_refused(runs, tmp_path):
    run = tmp_path / "m1"
    shutil.copytree(runs / "m1", run)
    (run / "stats.json").rename(run / "stats.json.bak")
    assert one_line_error(run_cli("push", str(run), "--to", str(tmp_path / "x"))) == (
        f"error: {run}: not verified yet; run `rfactory verify {run}` first")
    (run / "stats.json.bak").rename(run / "stats.json")
    part = sorted((run / "samples").glob("part-*.parquet"))[0]
    shutil.copy(part, part.with_name("part-999999.parquet"))  # as if generate had added samples
    assert one_line_error(run_cli("push", str(run), "--to", str(tmp_path / "x"))) == (
        f"error: {run}: samples were added after the last verify; run `rfactory verify {run}` again")
    assert not (tmp_path / "x").exists()


def test_export_is_deterministic(runs, tmp_path):
    for out in ("a", "b"):
        json_out(run_cli("push", "m2", "m1", "--to", str(tmp_path / out), "--json", cwd=runs))
    a, b = folder_files(tmp_path / "a"), folder_files(tmp_path / "b")
    assert a == b
    digest = {k: hashlib.sha256(v).hexdigest() for k, v in a.items()}
    assert len(set(digest.values())) == len(digest)  # data and metadata shards are not the same bytes


def test_the_token_can_come_from_the_login_cache_and_private_makes_a_private_repo(runs, tmp_path):
    with FakeHub() as hub:
        home = tmp_path / "logged-in"
        home.mkdir()
        (home / "token").write_text(hub.token)  # where `hf auth login` keeps it
        env = {**hub_env(hub, home), "HF_TOKEN": ""}
        assert json_out(run_cli("push", "m1", "--repo", "me/mix", "--private", "--json", cwd=runs, env=env))["changed"]
        assert hub.repos["me/mix"].private
