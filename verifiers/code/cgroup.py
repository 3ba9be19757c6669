"""A cgroup around one sandbox, where the host lets us make one: memory and task limits for all
of a test's processes together.

RLIMIT_AS bounds each process of a test; only a cgroup bounds them together (six forks of 400
MiB each would otherwise hold 2.4 GiB under a 512 MiB limit). RLIMIT_NPROC counts per uid, so
what it allows depends on which uids a mode runs (a program and its checker are two, under a
user namespace everything is one); the pids controller counts every process and thread in the
cgroup, whoever runs it, so a test holds the same number of tasks in every mode. One test runs at
a time per sandbox, so the sandbox's cgroup, set to the test's limits plus the server's own
allowance, bounds the test.

cgroup v2 where this process's cgroup can hold a child with the controllers, else the v1
hierarchies (memory and pids are separate trees there), else none (`SandboxCgroup.create`
returns None and the limits stay per process and per uid).
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

SERVER_ALLOWANCE = 128 << 20  # the fork server, the checker and the test's scratch files beside the program
# Beside the program's own RLIMIT_NPROC: the wrapper (bubblewrap or our launcher), the server, the
# checker and the server's short-lived helper that removes a test's files.
TASKS_ALLOWANCE = 4
_NAMES = itertools.count()


def _own_cgroup(controller: str) -> str | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):  # "" names the v2 line, "0::/path"
            return path
    return None


def _sweep(parent: Path) -> None:
    """Remove the empty cgroups of sandboxes whose verifier was killed before it could."""
    for stale in parent.glob("rfactory-sandbox-*-*"):
        pid = stale.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            try:
                stale.rmdir()
            except OSError:  # still has processes: not stale
                pass


def _make(path: Path, limit_file: str) -> Path | None:
    """`path` as a new cgroup, if the host lets us make it and it has the controller's limit."""
    _sweep(path.parent)
    try:
        path.mkdir()
    except OSError:
        return None
    if (path / limit_file).exists():
        return path
    path.rmdir()  # v2 without the controller delegated here
    return None


def _v2_root() -> Path | None:
    if (own := _own_cgroup("")) is None:
        return None
    for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if Path(mount, "cgroup.controllers").exists():
            return Path(mount + own)
    return None


class SandboxCgroup:
    def __init__(self, memory: Path | None, pids: Path | None, v2: bool):
        self.memory = memory  # the memory controller's cgroup, if any
        self.pids = pids  # the pids controller's: the same directory under v2
        self.v2 = v2  # the memory controller's files are v2's
        self._limit: int | None = None
        self._oom_kills = 0  # as counted at the end of the last run

    @classmethod
    def create(cls, tasks: int) -> SandboxCgroup | None:
        """`tasks`: the most processes and threads a test may hold (the server's allowance is added).
        Each controller where the host has it: in our own v2 cgroup's subtree, else in its v1 tree."""
        name = f"rfactory-sandbox-{os.getpid()}-{next(_NAMES)}"
        memory = pids = None
        v2 = False
        if (root := _v2_root()) is not None and (made := _make(root / name, "cgroup.procs")) is not None:
            memory = made if (made / "memory.max").exists() else None
            pids = made if (made / "pids.max").exists() else None
            v2 = memory is not None
            if memory is None and pids is None:
                made.rmdir()
        if memory is None and (own := _own_cgroup("memory")) is not None:
            memory = _make(Path("/sys/fs/cgroup/memory" + own, name), "memory.limit_in_bytes")
        if pids is None and (own := _own_cgroup("pids")) is not None:
            pids = _make(Path("/sys/fs/cgroup/pids" + own, name), "pids.max")
        if memory is None and pids is None:
            return None
        if pids is not None:
            (pids / "pids.max").write_text(str(tasks + TASKS_ALLOWANCE))
        return cls(memory, pids, v2)

    @property
    def paths(self) -> list[Path]:
        """Its directories: one under v2, one per controller's tree under v1."""
        return list(dict.fromkeys(d for d in (self.memory, self.pids) if d is not None))

    def enter(self) -> None:
        """Called in the server's process before it execs (Popen's preexec_fn): all it forks stays in."""
        for path in self.paths:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def limit(self, program_bytes: int) -> None:
        if self.memory is None:
            return
        total = program_bytes + SERVER_ALLOWANCE
        if total == self._limit:
            return
        if self.v2:
            (self.memory / "memory.max").write_text(str(total))
            if (self.memory / "memory.swap.max").exists():
                (self.memory / "memory.swap.max").write_text("0")
        else:
            files = ["memory.limit_in_bytes"] + (["memory.memsw.limit_in_bytes"] if (self.memory / "memory.memsw.limit_in_bytes").exists() else [])
            # v1 wants memory+swap >= memory at every step: raise the pair swap-first, lower it memory-first
            for file in (reversed(files) if self._limit is not None and total > self._limit else files):
                (self.memory / file).write_text(str(total))
        self._limit = total

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process here for memory since the last time we asked."""
        if self.memory is None:
            return False
        text = (self.memory / ("memory.events" if self.v2 else "memory.oom_control")).read_text()
        kills = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("oom_kill ")), 0)
        killed, self._oom_kills = kills > self._oom_kills, kills
        return killed

    def remove(self, wait_s: float = 2.0) -> None:
        """Once its processes, killed with the server, have left it (it cannot go before)."""
        deadline = time.monotonic() + wait_s
        for path in self.paths:
            while True:
                try:
                    path.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:  # left for the host: an empty cgroup costs nothing
                        break
                    time.sleep(0.01)
