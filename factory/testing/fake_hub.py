"""A Hugging Face Hub-compatible server for tests, on 127.0.0.1 only, with faults to inject.

It speaks what `huggingface_hub` (Xet off: `HF_HUB_DISABLE_XET=1`) and `datasets` use to publish
and read a dataset repo (and a model repo, as `train-sft --push-to` publishes one: `files("model:ORG/NAME")`), as traced in `shared/docs/hub-http-protocol.md`: repo create and info,
YAML validation, preupload, the Git LFS batch / upload / verify exchange, one NDJSON commit
guarded by `parentCommit`, `resolve` downloads and `tree` listings. Per repo it keeps
`{path: bytes}` for each commit, so a test can read back exactly what was published.

Hand-written on `http.server` because the faults it must inject (a 500 on the Nth upload, a
connection dropped mid-request) are what a web framework would prevent.

Faults: `fail_uploads={n, ...}` answers the n-th LFS upload (1-based, counted over the server's
life) with a 500; `drop_uploads={n, ...}` closes that connection without an answer.
`namespaces={...}` limits the token's write access to those owners (others get a 403), and
`race = {path: bytes}` makes another user commit those files just before the next commit arrives.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

LFS_THRESHOLD = 10 << 20  # larger files (and every .parquet or weights file) travel through LFS, as on the Hub
LFS_SUFFIXES = (".parquet", ".safetensors", ".bin", ".pt")
MODEL = "model:"  # model repos are kept under this prefix; dataset repos under their bare id


def _web(hub: FakeHub, repo_id: str) -> str:
    if repo_id.startswith(MODEL):
        return f"{hub.url}/{repo_id.removeprefix(MODEL)}"
    return f"{hub.url}/datasets/{repo_id}"


def _lfs(path: str, size: int) -> bool:
    return path.endswith(LFS_SUFFIXES) or size > LFS_THRESHOLD


@dataclass
class Repo:
    private: bool
    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)  # (sha, files), oldest first

    @property
    def head(self) -> tuple[str, dict[str, bytes]]:
        return self.commits[-1]


class FakeHub:
    def __init__(self, token: str = "hf_test_token", fail_uploads: set[int] | None = None,
                 drop_uploads: set[int] | None = None, namespaces: set[str] | None = None):
        self.token = token
        self.namespaces = namespaces
        self.race: dict[str, bytes] | None = None
        self.fail_uploads = set(fail_uploads or ())
        self.drop_uploads = set(drop_uploads or ())
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}  # sha256 -> bytes, uploaded and verified
        self.uploads = 0  # LFS PUTs seen, faulty ones included
        self.commit_calls = 0
        self.lock = threading.Lock()
        self.log: list[str] = []  # "METHOD path" of every request, for tests to inspect
        self.headers_seen: list[str] = []  # every header value, so a test can look for a leaked token
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The files at a revision (a branch name or a commit sha)."""
        repo = self.repos[repo_id]
        if revision == "main":
            return dict(repo.head[1])
        return dict(next(files for sha, files in repo.commits if sha == revision))

    def add_repo(self, repo_id: str, files: dict[str, bytes]) -> None:
        """A public repo that exists before the test starts (a benchmark a command downloads)."""
        with self.lock:
            self.repos[repo_id] = Repo(private=False, commits=[(hashlib.sha1(repo_id.encode()).hexdigest(), files)])

    def commit(self, repo_id: str, files: dict[str, bytes], summary: str = "") -> str:
        """Commit directly, as another user would (for testing a stale parent commit)."""
        with self.lock:
            repo = self.repos[repo_id]
            merged = {**repo.head[1], **files}
            sha = hashlib.sha1(f"{repo.head[0]}{summary}{time.time_ns()}".encode()).hexdigest()
            repo.commits.append((sha, merged))
            return sha


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet: tests read hub.log instead
            pass

        # -- plumbing ------------------------------------------------------------------------
        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _send(self, status: int, body: bytes | dict | list = b"", headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            if isinstance(body, (dict, list)):
                self.send_header("Content-Type", "application/json")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _error(self, status: int, message: str, code: str | None = None) -> None:
            self._send(status, {"error": message}, {"X-Error-Code": code} if code else None)

        def _authorized(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {hub.token}"

        def _route(self, method: str) -> None:
            url = urlparse(self.path)
            path, query = unquote(url.path), parse_qs(url.query)
            with hub.lock:
                hub.log.append(f"{method} {path}")
                hub.headers_seen.extend(self.headers.values())
            body = self._body() if method in ("POST", "PUT") else b""
            parts = path.strip("/").split("/")
            try:
                if method == "POST" and path == "/api/repos/create":
                    return self._create(json.loads(body))
                if method == "POST" and path == "/api/validate-yaml":
                    return self._send(200, {"errors": [], "warnings": []})
                if parts[0] == "lfs-upload" and method == "PUT":
                    return self._upload(parts[1], body)
                if parts[0] == "lfs-verify" and method == "POST":
                    return self._send(200, {})
                if parts[:2] == ["api", "datasets"] and len(parts) >= 4:
                    repo_id, rest = "/".join(parts[2:4]), parts[4:]
                    return self._api(method, repo_id, rest, body, query)
                if parts[:2] == ["api", "models"] and len(parts) >= 4:
                    repo_id, rest = MODEL + "/".join(parts[2:4]), parts[4:]
                    return self._api(method, repo_id, rest, body, query)
                if parts[0] == "datasets" and len(parts) >= 3 and parts[2].endswith(".git"):
                    return self._lfs_batch("/".join([parts[1], parts[2][:-4]]), json.loads(body))
                if len(parts) >= 2 and parts[1].endswith(".git"):
                    return self._lfs_batch(MODEL + "/".join([parts[0], parts[1][:-4]]), json.loads(body))
                if parts[0] == "datasets" and len(parts) >= 6 and parts[3] == "resolve":
                    return self._resolve("/".join(parts[1:3]), parts[4], "/".join(parts[5:]))
                if len(parts) >= 5 and parts[2] == "resolve":
                    return self._resolve(MODEL + "/".join(parts[0:2]), parts[3], "/".join(parts[4:]))
                if path == "/api/agent-harnesses":
                    return self._send(200, {"standardEnvVars": [], "harnesses": {}})
            except (ValueError, KeyError) as e:
                return self._error(400, f"bad request: {e}")
            self._error(404, f"no route for {method} {path}")

        def do_GET(self) -> None:
            self._route("GET")

        def do_HEAD(self) -> None:
            self._route("HEAD")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        # -- endpoints -----------------------------------------------------------------------
        def _repo(self, repo_id: str, write: bool = False) -> Repo | None:
            repo = hub.repos.get(repo_id)
            if repo is None or (repo.private and not self._authorized()):
                self._error(404, f"Repository Not Found for url: {self.path}", "RepoNotFound")
                return None
            if write and not self._may_write(repo_id.removeprefix(MODEL)):
                return None
            return repo

        def _may_write(self, repo_id: str) -> bool:
            if not self._authorized():
                self._error(401, "Invalid credentials in Authorization header")
                return False
            if hub.namespaces is not None and repo_id.split("/")[0] not in hub.namespaces:
                self._error(403, f"You don't have the rights to write to {repo_id}")
                return False
            return True

        def _create(self, req: dict) -> None:
            repo_id = f"{req.get('organization') or 'user'}/{req['name']}"
            if not self._may_write(repo_id):
                return
            if req.get("type") != "dataset":
                repo_id = MODEL + repo_id
            url = _web(hub, repo_id)
            with hub.lock:
                if repo_id in hub.repos:
                    return self._send(409, {"error": "You already created this dataset repo", "url": url})
                private = bool(req.get("private")) or req.get("visibility") == "private"
                repo = hub.repos[repo_id] = Repo(private=private)
                repo.commits.append((hashlib.sha1(repo_id.encode()).hexdigest(), {".gitattributes": b"*.parquet filter=lfs\n"}))
            self._send(200, {"url": url, "name": repo_id.removeprefix(MODEL)})

        def _info(self, repo_id: str, repo: Repo, revision: str) -> None:
            sha = repo.head[0] if revision == "main" else revision
            files = hub.files(repo_id, sha)
            self._send(200, {"id": repo_id, "sha": sha, "private": repo.private, "tags": [], "cardData": {},
                             "lastModified": "2026-01-01T00:00:00.000Z", "downloads": 0, "likes": 0,
                             "siblings": [{"rfilename": p} for p in sorted(files)]})

        def _api(self, method: str, repo_id: str, rest: list[str], body: bytes, query: dict) -> None:
            repo = self._repo(repo_id, write=method == "POST" and rest[:1] in (["preupload"], ["commit"]))
            if repo is None:
                return
            if method == "GET" and not rest:
                return self._info(repo_id, repo, "main")
            if method == "GET" and rest[0] == "revision":
                return self._info(repo_id, repo, "/".join(rest[1:]))
            if method == "POST" and rest[0] == "preupload":
                files = json.loads(body)["files"]
                return self._send(200, {"files": [
                    {"path": f["path"], "shouldIgnore": False, "oid": None,
                     "uploadMode": "lfs" if _lfs(f["path"], f["size"]) else "regular"}
                    for f in files]})
            if method == "POST" and rest[0] == "commit":
                return self._commit(repo_id, repo, body, query)
            if method == "GET" and rest[0] == "tree":
                return self._tree(repo_id, rest[1], "/".join(rest[2:]), query)
            if method == "POST" and rest[0] == "paths-info":
                return self._paths_info(repo_id, rest[1], body)
            self._error(404, f"no route for {method} {self.path}")

        def _entry(self, path: str, data: bytes) -> dict:
            sha = hashlib.sha256(data).hexdigest()
            entry = {"type": "file", "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), "size": len(data),
                     "path": path}
            if _lfs(path, len(data)):
                entry["lfs"] = {"oid": sha, "size": len(data), "pointerSize": 134}
            return entry

        def _tree(self, repo_id: str, revision: str, folder: str, query: dict) -> None:
            files = hub.files(repo_id, revision)
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            prefix = folder.strip("/") + "/" if folder.strip("/") else ""
            entries, dirs = [], set()
            for path in sorted(files):
                if not path.startswith(prefix):
                    continue
                rel = path[len(prefix):]
                if "/" in rel:
                    top = prefix + rel.split("/")[0]
                    if top not in dirs:
                        dirs.add(top)
                        entries.append({"type": "directory", "oid": hashlib.sha1(top.encode()).hexdigest(), "path": top})
                    if not recursive:
                        continue
                entries.append(self._entry(path, files[path]))
            if prefix and not entries:
                return self._error(404, "not found", "EntryNotFound")
            self._send(200, entries)

        def _paths_info(self, repo_id: str, revision: str, body: bytes) -> None:
            files = hub.files(repo_id, revision)
            try:
                paths = json.loads(body)["paths"]
            except ValueError:  # sent as a form
                paths = parse_qs(body.decode()).get("paths", [])
            self._send(200, [self._entry(p, files[p]) for p in paths if p in files])

        def _lfs_batch(self, repo_id: str, req: dict) -> None:
            if self._repo(repo_id, write=True) is None:
                return
            objects = []
            for obj in req["objects"]:
                entry = {"oid": obj["oid"], "size": obj["size"]}
                if obj["oid"] not in hub.lfs:
                    entry["actions"] = {"upload": {"href": f"{hub.url}/lfs-upload/{obj['oid']}", "header": {}},
                                        "verify": {"href": f"{hub.url}/lfs-verify/{obj['oid']}", "header": {}}}
                objects.append(entry)
            self._send(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

        def _upload(self, oid: str, data: bytes) -> None:
            with hub.lock:
                hub.uploads += 1
                n = hub.uploads
            if n in hub.drop_uploads:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if n in hub.fail_uploads:
                return self._error(500, "injected failure")
            if hashlib.sha256(data).hexdigest() != oid:
                return self._error(400, "sha256 mismatch")
            with hub.lock:
                hub.lfs[oid] = data
            self._send(200, b"")

        def _commit(self, repo_id: str, repo: Repo, body: bytes, query: dict) -> None:
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            header = lines[0]["value"]
            if hub.race is not None:
                race, hub.race = hub.race, None
                hub.commit(repo_id, race, "someone else")
            with hub.lock:
                hub.commit_calls += 1
                parent = header.get("parentCommit")
                if parent and parent != repo.head[0]:
                    return self._error(412, "A commit has happened since. Please refresh and try again.")
                files = dict(repo.head[1])
                for line in lines[1:]:
                    key, value = line["key"], line["value"]
                    if key == "file":
                        files[value["path"]] = base64.b64decode(value["content"])
                    elif key == "lfsFile":
                        if value["oid"] not in hub.lfs:
                            return self._error(400, f"LFS object {value['oid']} was never uploaded")
                        files[value["path"]] = hub.lfs[value["oid"]]
                    elif key == "deletedFile":
                        files.pop(value["path"], None)
                sha = hashlib.sha1(f"{repo.head[0]}{header.get('summary')}{time.time_ns()}".encode()).hexdigest()
                if query.get("create_pr", ["0"])[0] in ("1", "true"):
                    repo.commits.insert(len(repo.commits) - 1, (sha, files))  # a PR: not on main
                    return self._send(200, {"commitOid": sha, "commitUrl": f"{_web(hub, repo_id)}/commit/{sha}",
                                            "pullRequestUrl": f"{_web(hub, repo_id)}/discussions/1"})
                repo.commits.append((sha, files))
            self._send(200, {"commitOid": sha, "commitUrl": f"{_web(hub, repo_id)}/commit/{sha}"})

        def _resolve(self, repo_id: str, revision: str, path: str) -> None:
            repo = self._repo(repo_id)
            if repo is None:
                return
            try:
                files = hub.files(repo_id, revision)
            except StopIteration:
                return self._error(404, "revision not found", "RevisionNotFound")
            if path not in files:
                return self._error(404, "Entry not found", "EntryNotFound")
            data = files[path]
            sha = repo.head[0] if revision == "main" else revision
            entry = self._entry(path, data)
            etag = entry["lfs"]["oid"] if "lfs" in entry else entry["oid"]
            self._send(200, data, {"ETag": f'"{etag}"', "X-Repo-Commit": sha, "Accept-Ranges": "bytes"})

    return Handler
