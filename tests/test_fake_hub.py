"""The loopback Hub the push tests stand on: the real `huggingface_hub` and `datasets` clients
publish to it and read back from it exactly as from the Hub, faults included."""

import json
import os
import subprocess
import sys

from rfactory.testing.fake_hub import FakeHub

CLIENT = r"""
import io, json, sys
import pyarrow as pa, pyarrow.parquet as pq
from huggingface_hub import CommitOperationAdd, HfApi
api, repo = HfApi(), "me/demo"
api.create_repo(repo, repo_type="dataset", exist_ok=True)
buf = io.BytesIO()
pq.write_table(pa.table({"x": [1, 2, 3]}), buf)
card = "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*.parquet\n---\n# demo\n"
parent = sys.argv[1] if len(sys.argv) > 1 else api.repo_info(repo, repo_type="dataset").sha
ops = [CommitOperationAdd("data/train-00000-of-00001.parquet", buf.getvalue()), CommitOperationAdd("README.md", card.encode())]
try:
    api.preupload_lfs_files(repo, ops[:1], repo_type="dataset")
    api.create_commit(repo, ops, commit_message="push", repo_type="dataset", parent_commit=parent)
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "status": getattr(getattr(e, "response", None), "status_code", None)}))
    sys.exit(1)
import datasets
print(json.dumps({"rows": datasets.load_dataset(repo, split="train")["x"][:]}))
"""


def push(hub: FakeHub, tmp_path, *args: str) -> dict:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_ETAG_TIMEOUT": "5"}
    r = subprocess.run([sys.executable, "-c", CLIENT, *args], env=env, capture_output=True, text=True, timeout=300)
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_publish_then_read_back_with_datasets(tmp_path):
    with FakeHub() as hub:
        assert push(hub, tmp_path) == {"rows": [1, 2, 3]}
        files = hub.files("me/demo")
        assert set(files) == {".gitattributes", "README.md", "data/train-00000-of-00001.parquet"}
        assert len(hub.repos["me/demo"].commits) == 2  # the creation, then one commit with both files


def test_a_stale_parent_commit_is_refused_and_writes_nothing(tmp_path):
    with FakeHub() as hub:
        assert "rows" in push(hub, tmp_path)
        stale = hub.repos["me/demo"].head[0]
        hub.commit("me/demo", {"other.txt": b"someone else"})
        before = hub.files("me/demo")
        assert push(hub, tmp_path, stale) == {"error": "HfHubHTTPError", "status": 412}
        assert hub.files("me/demo") == before

# Faults on upload (a 500, a dropped connection) and the re-run that resumes are tested through
# `rfactory push` itself, in test_push.py.
