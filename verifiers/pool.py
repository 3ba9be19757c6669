"""A worker-process pool with a hard per-task deadline that works from any thread or process.

Hand-written because concurrent.futures and multiprocessing.Pool cannot kill one stuck task:
their timeouts only stop waiting, the worker keeps burning a core. Here a task past its deadline
gets its worker killed and replaced, and when the pool is closed every worker, and every process a
worker started (a code sandbox), has exited.

Two uses of the one `Pool`: `run_with_deadline` starts a pool for one batch and closes it at the
end (a verify run); `shared_pool` keeps one per function for the life of the process, so a reward
called every training step does not pay for spawns, imports and sandbox start-up each time.
Several threads may run batches through one pool at once: each takes idle workers as it has tasks
for them and gives them back after each result, so concurrent batches share the workers.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
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


_spawning = threading.Lock()  # one spawn at a time while __main__ is swapped out


@contextmanager
def _main_hidden(*fns: Callable[..., Any] | None) -> Iterator[None]:
    """Spawn runs the parent's main script again in each worker, to find what it defined. A
    worker needs only `fn` and `teardown`, imported by name, and a training script without an
    `if __name__ == "__main__"` guard would start a second training in every worker (or fail to
    start it). So the script is hidden from spawn, unless one of the functions lives in it."""
    if any(getattr(f, "__module__", None) == "__main__" for f in fns if f is not None):
        yield
        return
    with _spawning:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = main


class _Worker:
    def __init__(self, fn: Callable[..., BaseModel], teardown: Callable[[], None] | None):
        self.conn, child = _ctx.Pipe()
        self.proc = _ctx.Process(target=_serve, args=(child, fn, teardown), daemon=True)
        with _main_hidden(fn, teardown):
            self.proc.start()
        child.close()
        self.task: tuple[Any, float] | None = None  # (key, deadline)
        self.ready = False
        self.stopped = False  # its pid may be another process's once it has been reaped

    def stop(self, kill: bool = False) -> None:
        """Ends the worker and whatever it started: asked to tear down and exit, or killed with
        every process under it (a sandbox's processes die before the worker that would reap them)."""
        if self.stopped:
            return
        self.stopped = True
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


class Pool:
    """Up to `workers` processes running `fn`, started as tasks arrive and kept until `close`."""

    def __init__(self, fn: Callable[..., BaseModel], workers: int, teardown: Callable[[], None] | None = None):
        self.fn, self.size, self.teardown = fn, max(1, workers), teardown
        self.pid = os.getpid()  # a forked child inherits this object, never its workers
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._starting = 0  # places taken by spawns in progress
        self._waiting = 0  # batches holding no worker, waiting for one
        self._closed = False
        self._cond = threading.Condition()

    def _take(self, block: bool) -> _Worker | None:
        """An idle worker, or a new one while under the size; else None, or with `block` the next
        one given back. A batch that holds workers leaves idle ones to a batch that holds none."""
        with self._cond:
            if block:
                self._waiting += 1
            try:
                while True:
                    if self._closed:
                        raise RuntimeError("the verifier pool is closed")
                    if self._idle and (block or not self._waiting):
                        return self._idle.pop()
                    if len(self._live) + self._starting < self.size:
                        self._starting += 1
                        break
                    if not block:
                        return None
                    self._cond.wait()
            finally:
                if block:
                    self._waiting -= 1
        worker = None
        try:
            worker = _Worker(self.fn, self.teardown)  # seconds: outside the lock
            return worker
        finally:
            with self._cond:
                self._starting -= 1
                if worker is not None:
                    self._live.add(worker)
                self._cond.notify_all()

    def _give(self, worker: _Worker) -> None:
        with self._cond:
            if not self._closed:
                self._idle.append(worker)
                self._cond.notify_all()
                return
        worker.stop()

    def _drop(self, worker: _Worker) -> None:
        """Kill a worker whose task will never be read back (stuck, dead, or abandoned): its place
        frees for a fresh one."""
        worker.stop(kill=True)
        with self._cond:
            self._live.discard(worker)
            self._cond.notify_all()

    def run(self, tasks: Iterable[tuple[Any, tuple[Any, ...]]], timeout_s: float) -> Iterator[tuple[Any, str, Any]]:
        """Yield (key, "ok" | "error" | "timeout", result dict or message) for each (key, args) task.

        Results come in completion order; this batch has at most `workers` tasks in flight, so
        memory stays flat. A batch abandoned before its end kills the workers still on its tasks.
        """
        held: list[_Worker] = []  # busy with this batch's tasks
        pending = iter(tasks)
        queued = next(pending, None)
        try:
            while True:
                while queued is not None:
                    w = self._take(block=not held)  # wait for a worker only when none works for us
                    if w is None:
                        break
                    key, args = queued
                    try:
                        w.conn.send(args)
                    except OSError:  # died while idle: a fresh one takes the task
                        self._drop(w)
                        continue
                    # a worker still starting (spawn and imports take seconds on a loaded machine)
                    # gets its task's deadline once it says it is ready; until then a start-up limit
                    w.task = (key, time.monotonic() + (timeout_s if w.ready else STARTUP_S + timeout_s))
                    held.append(w)
                    queued = next(pending, None)
                if not held:
                    return
                soonest = min(w.task[1] for w in held)  # type: ignore[index]
                ready = wait([w.conn for w in held], timeout=max(0.0, soonest - time.monotonic()))
                now = time.monotonic()
                for w in list(held):
                    key, deadline = w.task  # type: ignore[misc]
                    if w.conn in ready and not w.ready:
                        try:
                            w.ready = w.conn.recv() == "ready"
                        except (EOFError, OSError):
                            w.ready = True  # dead at start: the next read reports it as this task's error
                        w.task = (key, time.monotonic() + timeout_s)
                        continue
                    if w.conn in ready:
                        held.remove(w)
                        try:
                            status, payload = w.conn.recv()
                        except (EOFError, OSError):  # the worker died (e.g. out of memory)
                            status, payload = "error", "verifier process died"
                            self._drop(w)
                        else:
                            w.task = None
                            self._give(w)
                        yield key, status, payload
                    elif now >= deadline:
                        held.remove(w)
                        self._drop(w)
                        yield key, "timeout", f"no verdict within {timeout_s:g}s"
        finally:
            for w in held:
                self._drop(w)

    def close(self) -> None:
        """Stop every worker: idle ones tear down and exit, ones still on a task are killed."""
        with self._cond:
            if self._closed or self.pid != os.getpid():
                return
            self._closed = True
            idle, busy = self._idle, self._live.difference(self._idle)
            self._idle, self._live = [], set()
            self._cond.notify_all()
        for w in idle:
            w.stop()
        for w in busy:
            w.stop(kill=True)


def run_with_deadline(
    fn: Callable[..., BaseModel],
    tasks: Iterable[tuple[Any, tuple[Any, ...]]],
    timeout_s: float,
    workers: int,
    teardown: Callable[[], None] | None = None,
) -> Iterator[tuple[Any, str, Any]]:
    """`Pool.run` on a pool of its own, closed when the iteration ends (or is abandoned).

    Workers start as tasks arrive: a batch of three never pays for sixteen spawns. `teardown` runs
    in each worker before it exits normally (a killed one has its processes killed).
    """
    pool = Pool(fn, workers, teardown)
    try:
        yield from pool.run(tasks, timeout_s)
    finally:
        pool.close()


_shared: dict[Hashable, Pool] = {}
_shared_lock = threading.Lock()


def shared_pool(fn: Callable[..., BaseModel], workers: int, teardown: Callable[[], None] | None = None,
                tag: Hashable = None) -> Pool:
    """This process's pool for (fn, teardown, workers, tag), started on first use and closed at
    interpreter exit. `tag` separates pools whose workers hold different state (a sandbox with or
    without isolation)."""
    key = (fn, teardown, workers, tag)
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None or pool.pid != os.getpid():
            pool = _shared[key] = Pool(fn, workers, teardown)
        return pool


def run_tasks(fn: Callable[..., BaseModel], tasks: Iterable[tuple[Any, tuple[Any, ...]]], timeout_s: float,
              workers: int, teardown: Callable[[], None] | None = None, persistent: bool = False,
              tag: Hashable = None) -> Iterator[tuple[Any, str, Any]]:
    """`run_with_deadline`, or with `persistent` the same on this process's shared pool."""
    if persistent:
        return shared_pool(fn, workers, teardown, tag).run(tasks, timeout_s)
    return run_with_deadline(fn, tasks, timeout_s, workers, teardown)


def close_shared() -> None:
    """Close every shared pool of this process (a later call starts fresh ones)."""
    with _shared_lock:
        pools = list(_shared.values())
        _shared.clear()
    for pool in pools:
        pool.close()


# registered after multiprocessing's own exit handler (imported above), so it runs first: workers
# tear down their sandboxes before multiprocessing would terminate them
atexit.register(close_shared)
