"""Processes we started, found from /proc and ended for certain: killed, then waited for until
the kernel has let each one go.

A signal only starts a process's end. A caller that promises "nothing I started is left" (a
verifier call, an engine shutdown) has to wait for the exit itself, and for processes that are
not its children it cannot `waitpid`: a pidfd becomes readable once its process has exited,
whoever its parent is. A PID namespace's init exits only after every other process in its
namespace is gone (the kernel waits for them first), so waiting for a sandbox server waits for
all it ran. Linux only; elsewhere there is nothing to find.
"""

from __future__ import annotations

import os
import select
import signal
import time
from pathlib import Path


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendant_levels(pid: int | None = None) -> list[list[int]]:
    """The processes below `pid` (default: this one), by depth: its children, theirs, ..."""
    if not Path("/proc").is_dir():
        return []
    children = _children()
    levels, level = [], children.get(pid or os.getpid(), [])
    while level:
        levels.append(level)
        level = [child for parent in level for child in children.get(parent, [])]
    return levels


def descendants(pid: int | None = None) -> list[int]:
    """Every process below `pid` (default: this one), parents before their children."""
    return [p for level in descendant_levels(pid) for p in level]


def start_time(pid: int) -> str | None:
    """When `pid` started (in clock ticks since boot): with the pid, names one process for good."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _exited(pid: int, started: str) -> bool:
    """Without pidfds (Linux < 5.3): gone, a zombie, or its pid now another process's."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] in "ZX" or fields[19] != started


class _Exit:
    """Wait for a set of processes to exit, whether or not they are our children."""

    def __init__(self, pids: list[int]):
        self.fds: dict[int, int] = {}
        self.polled: dict[int, str] = {}  # pid -> start time, where pidfds are unavailable
        for pid in pids:
            try:
                self.fds[pid] = os.pidfd_open(pid)
            except ProcessLookupError:  # already gone
                pass
            except OSError:
                if (started := start_time(pid)) is not None:
                    self.polled[pid] = started

    def kill(self) -> None:
        for fd in self.fds.values():
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)  # by pidfd: never a recycled pid
            except ProcessLookupError:
                pass
        for pid in self.polled:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, deadline: float) -> list[int]:
        """The pids still running at the deadline."""
        poller = select.poll()
        by_fd = {fd: pid for pid, fd in self.fds.items()}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        running = set(self.fds) | set(self.polled)
        while running and (left := deadline - time.monotonic()) > 0:
            done = {by_fd[fd] for fd, _ in poller.poll(min(left, 0.005 if self.polled else left) * 1000)}
            done |= {pid for pid, started in self.polled.items() if pid in running and _exited(pid, started)}
            for pid in done:
                running.discard(pid)
                if pid in self.fds:
                    poller.unregister(self.fds[pid])
        return sorted(running)

    def reap(self) -> None:
        """Reap those that have become our children (their parent died first, and we are their
        subreaper); by pidfd, so never another process that reused a pid."""
        for fd in self.fds.values():
            try:
                os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)
            except ChildProcessError:  # not ours: its own parent (or an init) reaps it
                pass

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


def kill_tree(pid: int, timeout_s: float = 30.0, include_root: bool = True) -> list[int]:
    """SIGKILL everything below `pid`, deepest first (so each parent can still reap its child),
    then `pid` itself unless `include_root` is false, and return once all of them have exited;
    the pids of any still running after `timeout_s` (none, unless the kernel is stuck).

    `pid` itself is never reaped here: it is the caller's child, for the caller's own `wait`.
    Where we are a subreaper, a process whose parent died before reaping it becomes ours, and
    is reaped here, so no zombie of the tree is left with us either."""
    deadline = time.monotonic() + timeout_s
    below = [_Exit(level) for level in reversed(descendant_levels(pid))]
    levels = below + ([_Exit([pid])] if include_root else [])
    try:
        stuck = []
        for exit_ in levels:
            exit_.kill()
            stuck += exit_.wait(deadline)
        for exit_ in below:
            exit_.reap()
        return stuck
    finally:
        for exit_ in levels:
            exit_.close()
