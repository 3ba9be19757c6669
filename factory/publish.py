"""Publish an exported folder to a Hub dataset repo in one commit, the way `datasets.push_to_hub` does;
and put an eval report into a model repo's card (`publish_card_section`), also in one commit.

create the repo if needed → read what its head holds → one `create_commit` with every changed
file and the deletion of stale shards, guarded by `parent_commit`. Readers see the old dataset
or the new one, never a mix. `create_commit` uploads LFS objects first and the Hub keeps the ones
that arrived, so running an interrupted push again uploads only what is missing; a push whose
files the head already holds makes no commit at all.

The token goes to `HfApi` and nowhere else: no message here quotes a request's headers, and
every message is scrubbed of it anyway.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.hf_api import RepoFile

from . import __version__
from .errors import UserError

# What an rfactory dataset repo holds; anything else means the repo is someone else's layout.
OURS = re.compile(r"(README\.md|\.gitattributes|rl-data\.json|(data|metadata)/train-\d{5}-of-\d{5}\.parquet|images/[\w.-]+\.png)")


@dataclass
class PublishReport:
    repo: str
    url: str
    commit: str  # the new commit, or the head that already held these files
    changed: bool
    added: int  # files added or replaced
    deleted: int  # stale files removed
    pull_request: str | None = None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _unchanged(local: Path, remote: RepoFile | None) -> bool:
    if remote is None or remote.size != local.stat().st_size:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == _sha256(local)
    return remote.blob_id == _git_blob_id(local)


def _hub_cause(e: BaseException | None) -> Exception | None:
    """The HTTP or network error behind `e`: uploads run in threads, which wrap it in a RuntimeError."""
    while e is not None:
        if isinstance(e, (HfHubHTTPError, httpx2.TransportError)):
            return e
        e = e.__cause__
    return None


def _explain(e: Exception, repo: str, endpoint: str) -> str:
    """One line a user can act on, for each way the Hub or the network says no."""
    status = e.response.status_code if isinstance(e, HfHubHTTPError) and e.response is not None else None
    if isinstance(e, RepositoryNotFoundError) or status == 404:
        return f"{repo}: repository not found, or the token cannot see it"
    if status == 401:
        return "the Hub rejected the token (401): set a valid HF_TOKEN or log in again with `hf auth login`"
    if status == 403:
        return f"{repo}: the token has no write access to this repo (403); use a token with write permission for {repo.split('/')[0]!r}"
    if status == 412:
        return (f"{repo}: someone else committed while this push ran (412); nothing was published. "
                "Run the same push again to publish on top of their commit")
    if status is not None:
        detail = e.server_message if isinstance(e, HfHubHTTPError) and e.server_message else ""
        return f"{repo}: the Hub answered {status}{f' ({detail})' if detail else ''} after retries; nothing was published. Run the same push again to resume"
    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    return f"network failure talking to {endpoint} after retries ({reason}); nothing was published. Run the same push again to resume"


def _api(repo: str) -> tuple[HfApi, str]:
    token = get_token()  # HF_TOKEN, else the login cache
    if not token:
        raise UserError("no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise UserError(f"--repo {repo!r}: expected ORG/NAME")
    return HfApi(token=token, library_name="rfactory", library_version=__version__), token


@contextmanager
def _one_line(api: HfApi, token: str, repo: str) -> Iterator[None]:
    """Every way the Hub or the network says no, as one line scrubbed of the token."""
    try:
        yield
    except (HfHubHTTPError, httpx2.TransportError, RuntimeError) as e:
        cause = _hub_cause(e)
        if cause is None:
            raise
        raise UserError(_explain(cause, repo, api.endpoint).replace(token, "***")) from None


def publish(folder: Path, repo: str, private: bool = False, create_pr: bool = False,
            message: str = "Publish with rfactory") -> PublishReport:
    api, token = _api(repo)
    local = {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*")) if p.is_file()}
    with _one_line(api, token, repo):
        url = str(api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True))
        parent = api.repo_info(repo, repo_type="dataset").sha
        remote = {e.path: e for e in api.list_repo_tree(repo, repo_type="dataset", revision=parent, recursive=True)
                  if isinstance(e, RepoFile)}
        foreign = sorted(p for p in remote if not OURS.fullmatch(p))
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise UserError(f"{repo} already holds files rfactory did not write ({foreign[0]!r}{more}); "
                            "push to a new repo, or remove them first")
        changed = [p for p, path in local.items() if not _unchanged(path, remote.get(p))]
        stale = sorted(p for p in remote if p not in local and p != ".gitattributes")
        if not changed and not stale:
            return PublishReport(repo=repo, url=url, commit=parent, changed=False, added=0, deleted=0)
        operations = [CommitOperationAdd(p, str(local[p])) for p in changed] + [CommitOperationDelete(p) for p in stale]
        info = api.create_commit(repo, operations, commit_message=message, repo_type="dataset",
                                 parent_commit=parent, create_pr=create_pr)
    return PublishReport(repo=repo, url=url, commit=info.oid, changed=True, added=len(changed), deleted=len(stale),
                         pull_request=info.pr_url)


SECTION_START, SECTION_END = "<!-- rfactory:eval -->", "<!-- /rfactory:eval -->"


def with_section(card: str, section: str) -> str:
    """A model card with rfactory's section in it: replacing the one an earlier push put there,
    else after everything the card's authors wrote, which stays as it was."""
    block = f"{SECTION_START}\n{section.strip()}\n{SECTION_END}"
    head, found, rest = card.partition(SECTION_START)
    if found and SECTION_END in rest:
        return head + block + rest.partition(SECTION_END)[2]
    return card.rstrip() + ("\n\n" if card.strip() else "") + block + "\n"


def publish_card_section(repo: str, section: str, files: dict[str, Path], create_pr: bool = False,
                         message: str = "rfactory: evaluation") -> PublishReport:
    """One commit to a model repo: `section` into its README (see `with_section`) and `files`
    (repo path → local file) beside it. The model's own files are never touched."""
    api, token = _api(repo)
    with _one_line(api, token, repo):
        url = str(api.create_repo(repo, repo_type="model", exist_ok=True))
        parent = api.repo_info(repo).sha
        try:
            card = Path(api.hf_hub_download(repo, "README.md", revision=parent)).read_text(encoding="utf-8")
        except EntryNotFoundError:
            card = ""
        operations = [CommitOperationAdd("README.md", with_section(card, section).encode()),
                      *(CommitOperationAdd(name, str(path)) for name, path in files.items())]
        info = api.create_commit(repo, operations, commit_message=message, parent_commit=parent, create_pr=create_pr)
    return PublishReport(repo=repo, url=url, commit=info.oid, changed=True, added=len(operations), deleted=0,
                         pull_request=info.pr_url)
