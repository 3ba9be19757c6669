"""A worker-process pool with a hard per-task deadline that works from any thread or process.

Hand-written because concurrent.futures and multiprocessing.Pool cannot kill one stuck task:
their timeouts only stop waiting, the worker keeps burning a core. Here a task past its deadline
gets its worker killed and replaced, and when the pool is done every worker, and every process a
worker started (a code sandbox), has exited.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

from pydantic import BaseModel

from ..processes import kill_tree

_ctx = mp.get_context("spawn")  # fork from a threaded parent can deadlock; spawn cannot
STARTUP_S = 120.0  # a worker that has not started by then is treated as stuck


def _serve(conn: Connection, fn: Callable[..., BaseModel], teardown: Callable[[], None] | None) -> None:
    conn.send("ready")  # imports done: the parent starts a task's deadline from here, not from the spawn
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            if teardown is not None:
                teardown()
            conn.send("done")  # the parent's join then finds nothing of ours left
            return
        try:
            conn.send(("ok", fn(*task).model_dump()))
        except Exception as e:  # reported to the parent as this task's error, the worker lives on
            conn.send(("error", f"{type(e).__name__}: {e}".splitlines()[0][:200]))


class _Worker:
    def __init__(self, fn: Callable[..., BaseModel], teardown: Callable[[], None] | None):
        self.conn, child = _ctx.Pipe()
        self.proc = _ctx.Process(target=_serve, args=(child, fn, teardown), daemon=True)
        self.proc.start()
        child.close()
        self.task: tuple[Any, float] | None = None  # (key, deadline)
        self.ready = False

    def stop(self, kill: bool = False) -> None:
        """Ends the worker and whatever it started: asked to tear down and exit, or killed with
        every process under it (a sandbox's processes die before the worker that would reap them)."""
        if not kill:
            try:
                self.conn.send(None)
                reply = self.conn.recv() if self.conn.poll(30) else None
                if reply == "ready":  # it never had a task read back: its start-up line comes first
                    reply = self.conn.recv() if self.conn.poll(30) else None
                kill = reply != "done"
            except (OSError, EOFError):
                kill = True
        if kill:
            kill_tree(self.proc.pid)
        self.proc.join()
        self.conn.close()


def run_with_deadline(
    fn: Callable[..., BaseModel],
    tasks: Iterable[tuple[Any, tuple[Any, ...]]],
    timeout_s: float,
    workers: int,
    teardown: Callable[[], None] | None = None,
) -> Iterator[tuple[Any, str, Any]]:
    """Yield (key, "ok" | "error" | "timeout", result dict or message) for each (key, args) task.

    Results come in completion order; at most `workers` tasks are in flight, so memory stays flat.
    `teardown` runs in each worker before it exits normally (a killed one has its processes killed).
    """
    pool: list[_Worker] = []  # started as tasks arrive: a batch of three never pays for sixteen spawns
    pending = iter(tasks)
    exhausted = False
    try:
        while True:
            idle = [w for w in pool if w.task is None]
            while not exhausted and (idle or len(pool) < max(1, workers)):
                nxt = next(pending, None)
                if nxt is None:
                    exhausted = True
                    break
                if idle:
                    w = idle.pop()
                else:
                    w = _Worker(fn, teardown)
                    pool.append(w)
                key, args = nxt
                w.conn.send(args)
                # a worker still starting (spawn and imports take seconds on a loaded machine) gets
                # its task's deadline once it says it is ready; until then only a start-up limit
                w.task = (key, time.monotonic() + (timeout_s if w.ready else STARTUP_S + timeout_s))
            busy = [w for w in pool if w.task is not None]
            if not busy:
                return
            soonest = min(w.task[1] for w in busy)  # type: ignore[index]
            ready = wait([w.conn for w in busy], timeout=max(0.0, soonest - time.monotonic()))
            now = time.monotonic()
            for i, w in enumerate(pool):
                if w.task is None:
                    continue
                key, deadline = w.task
                if w.conn in ready and not w.ready:
                    try:
                        w.ready = w.conn.recv() == "ready"
                    except EOFError:
                        w.ready = True  # dead at start: the next read reports it as this task's error
                    w.task = (key, time.monotonic() + timeout_s)
                    continue
                if w.conn in ready:
                    try:
                        status, payload = w.conn.recv()
                    except EOFError:  # the worker died (e.g. out of memory): replace it
                        status, payload = "error", "verifier process died"
                        w.stop(kill=True)
                        pool[i] = _Worker(fn, teardown)
                    else:
                        w.task = None
                    yield key, status, payload
                elif now >= deadline:
                    w.stop(kill=True)
                    pool[i] = _Worker(fn, teardown)
                    yield key, "timeout", f"no verdict within {timeout_s:g}s"
    finally:
        for w in pool:
            w.stop(kill=w.task is not None)
