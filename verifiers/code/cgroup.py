"""A memory cgroup around one sandbox, where the host lets us make one.

RLIMIT_AS bounds each process of a test; only a cgroup bounds them together (six forks of 400
MiB each would otherwise hold 2.4 GiB under a 512 MiB limit). One test runs at a time per
sandbox, so the sandbox's cgroup, set to the test's limit plus the server's own allowance,
bounds the test. cgroup v2 where this process's cgroup can hold a child with the memory
controller, else the v1 memory hierarchy, else none (`MemoryCgroup.create` returns None and
memory stays bounded per process only).
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

SERVER_ALLOWANCE = 128 << 20  # the fork server, the checker and the test's scratch files beside the program
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


class MemoryCgroup:
    def __init__(self, path: Path, v2: bool):
        self.path = path
        self.v2 = v2
        self._limit: int | None = None
        self._oom_kills = 0  # as counted at the end of the last run

    @classmethod
    def create(cls) -> MemoryCgroup | None:
        name = f"rfactory-sandbox-{os.getpid()}-{next(_NAMES)}"
        candidates = []
        if (v2 := _own_cgroup("")) is not None:
            for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                if Path(mount, "cgroup.controllers").exists():
                    candidates.append((Path(mount + v2, name), True))
                    break
        if (v1 := _own_cgroup("memory")) is not None:
            candidates.append((Path("/sys/fs/cgroup/memory" + v1, name), False))
        for path, is_v2 in candidates:
            _sweep(path.parent)
            try:
                path.mkdir()
            except OSError:
                continue
            if (path / ("memory.max" if is_v2 else "memory.limit_in_bytes")).exists():
                return cls(path, is_v2)
            path.rmdir()  # v2 without the memory controller delegated here
        return None

    def enter(self) -> None:
        """Called in the server's process before it execs (Popen's preexec_fn): all it forks stays in."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def limit(self, program_bytes: int) -> None:
        total = program_bytes + SERVER_ALLOWANCE
        if total == self._limit:
            return
        if self.v2:
            (self.path / "memory.max").write_text(str(total))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")
        else:
            files = ["memory.limit_in_bytes"] + (["memory.memsw.limit_in_bytes"] if (self.path / "memory.memsw.limit_in_bytes").exists() else [])
            # v1 wants memory+swap >= memory at every step: raise the pair swap-first, lower it memory-first
            for file in (reversed(files) if self._limit is not None and total > self._limit else files):
                (self.path / file).write_text(str(total))
        self._limit = total

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process here for memory since the last time we asked."""
        text = (self.path / ("memory.events" if self.v2 else "memory.oom_control")).read_text()
        kills = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("oom_kill ")), 0)
        killed, self._oom_kills = kills > self._oom_kills, kills
        return killed

    def remove(self, wait_s: float = 2.0) -> None:
        """Once its processes, killed with the server, have left it (it cannot go before)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.path.rmdir()
                return
            except OSError:
                if time.monotonic() > deadline:  # left for the host: an empty cgroup costs nothing
                    return
                time.sleep(0.01)
