"""Engine processes that must not outlive rfactory, even when it is killed with SIGKILL.

vLLM's engine core runs in processes of its own that watch each other but not the process that
started them: after a `kill -9` of `rfactory generate` they would keep running, holding the GPU
memory the resumed run needs. A watchdog process holds the read end of a pipe whose write end
only this process has; when this process dies in any way the kernel closes it, the watchdog
reads EOF and kills the processes it was given. Hand-written because no library covers a
process tree we do not start ourselves.
"""

from __future__ import annotations

import subprocess
import sys

from ..processes import start_time

_WATCHDOG = r"""
import os, signal, sys
targets = [line.split() for line in sys.argv[1:]]
sys.stdin.buffer.read()  # returns at EOF: the process that started us is gone, or is done with us
for pid, started in targets:
    try:
        with open(f"/proc/{pid}/stat") as f:
            same = f.read().rsplit(")", 1)[1].split()[19] == started  # not a new process with a reused PID
        if same:
            os.kill(int(pid), signal.SIGKILL)
    except (OSError, IndexError):
        pass
"""


class Watchdog:
    """Kills `pids` when this process exits (or at `release`, which the caller uses once they
    are shut down properly). Linux only: elsewhere it does nothing."""

    def __init__(self, pids: list[int]):
        targets = [f"{pid} {started}" for pid in pids if (started := start_time(pid)) is not None]
        self._proc = None
        if targets:
            self._proc = subprocess.Popen([sys.executable, "-c", _WATCHDOG, *targets], stdin=subprocess.PIPE,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def release(self) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            self._proc.wait()
            self._proc = None
