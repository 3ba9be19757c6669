"""Generation across many machines on Ray (`rfactory generate --executor ray`).

An executor above the pipeline: the driver (this process) streams the run's pending pairs in
batches to `TeacherWorker` actors, each holding its own teacher (any backend: a vLLM engine on
its node's GPUs, or an API client), and writes every record to the run store itself, as it
arrives. So there is one writer and one journal, and resume keeps exactly the guarantees of a
local run: a `kill -9` of the driver loses only the samples in flight.

Actors stream their records back one by one as they finish (Ray streaming generators), not a
batch at a time, so a dead worker costs only its unfinished pairs: the driver requeues those to
the others while Ray restarts the worker. Progress is counted where the records land: here.

Plain actors rather than Ray Data's vLLM processor: the processor writes a dataset at the end of
a pipeline, where a resumable run needs each sample in the run store the moment it exists.
"""

from __future__ import annotations

import asyncio
from collections import deque
from itertools import islice
from typing import Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, RayError, RayTaskError

from .errors import UserError
from .cost import resolve_price
from .generate import FailFast, Tally, fatal_error, pending_pairs, sample_one, worker_count
from .problems import Problem
from .progress import Progress
from .recipe import Recipe
from .records import SampleRecord
from .runstore import PartWriter, pair_key
from .teachers import Teacher, TeacherFailure, build_teacher

WORKER_RESTARTS = 3  # a worker killed more often than this is given up; its pairs go to the others


@ray.remote(max_restarts=WORKER_RESTARTS)
class TeacherWorker:
    def __init__(self, recipe: dict[str, Any]):
        self.recipe = Recipe.model_validate(recipe)
        self.teacher = build_teacher(self.recipe.teacher.spec, self.recipe.teacher.options)
        self.price = resolve_price(self.recipe.teacher.price, self.teacher.price_key())
        self.slots: asyncio.Semaphore | None = None  # made in the actor's event loop, on first use

    async def run(self, pairs: list[tuple[dict[str, Any], int]]):  # noqa: ANN201 - a Ray streaming generator
        if self.slots is None:
            self.slots = asyncio.Semaphore(worker_count(self.recipe, self.teacher))

        async def one(problem: dict[str, Any], index: int) -> SampleRecord:
            async with self.slots:
                return await sample_one(self.recipe, self.teacher, Problem(**problem), index, self.price)

        tasks = [asyncio.create_task(one(problem, index)) for problem, index in pairs]
        try:
            for finished in asyncio.as_completed(tasks):
                yield await finished
        finally:
            for task in tasks:
                task.cancel()


def _resources(teacher: Teacher) -> dict[str, float]:
    """What one worker takes: the cores its engine computes on (two llama.cpp engines on the same
    cores fight, 4x slower on 2 cores), or the GPUs it shards over, where the cluster has GPUs."""
    if teacher.cpu_threads:
        return {"num_cpus": teacher.cpu_threads}
    if teacher.gpus and ray.cluster_resources().get("GPU", 0) > 0:
        return {"num_gpus": teacher.gpus}
    return {}


def _check_room(resources: dict[str, float], workers: int, spec: str) -> None:
    """A worker the cluster cannot place would wait forever, and the run with it: refuse up front."""
    if not resources:
        return
    names = {"num_cpus": "CPU", "num_gpus": "GPU"}
    nodes = [n["Resources"] for n in ray.nodes() if n["Alive"]]
    room = sum(min(int(node.get(names[k], 0) // v) for k, v in resources.items()) for node in nodes)
    if room < workers:
        need = " and ".join(f"{v:g} {names[k]}" for k, v in resources.items())
        raise UserError(f"--workers {workers}: each {spec} worker takes {need}, and the Ray cluster's nodes have room "
                        f"for {room}; use --workers {max(room, 1)}" + (
                            " or fewer threads per engine (teacher.options.n_threads)" if "num_cpus" in resources else ""))


def generate_on_ray(recipe: Recipe, teacher: Teacher, writer: PartWriter, done: set[int], progress: Progress,
                    address: str | None, workers: int) -> dict[str, Any]:
    """`teacher` is the driver's own copy, for its capability flags; it never generates."""
    if recipe.budget.max_cost_usd is not None or recipe.budget.max_tokens_total is not None:
        raise UserError("--max-cost/--max-tokens-total: not supported with --executor ray yet; run it locally")
    if not ray.is_initialized():
        # The driver's own output is the progress bar: workers' logs stay in Ray's log folder.
        ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False)
    tally = Tally()
    tally.priced = resolve_price(recipe.teacher.price, teacher.price_key()) is not None
    if tally.priced:
        progress.show_cost(writer.run.spent().usd)
    fail_fast = FailFast(recipe.teacher.fail_fast_after)
    pairs = pending_pairs(recipe, done, tally)
    requeued: deque[list[tuple[Problem, int]]] = deque()
    config = recipe.model_dump(mode="json")
    config["teacher"]["options"] = teacher.options.model_dump(mode="json")  # as resolved here (threads), no secrets
    resources = _resources(teacher)
    _check_room(resources, workers, recipe.teacher.spec)
    actors = [TeacherWorker.options(**resources).remote(config) for _ in range(workers)]
    # Two streams per worker, each as large as its concurrency: one runs while the next waits, so its
    # slots never idle, and a driver killed mid-run wastes at most those two batches per worker.
    batch_size = worker_count(recipe, teacher)
    streams: dict[Any, tuple[Any, list[tuple[Problem, int]], set[int]]] = {}

    def submit(actor: Any) -> None:
        batch = requeued.popleft() if requeued else list(islice(pairs, batch_size))
        if batch:
            stream = actor.run.options(num_returns="streaming").remote([(p.model_dump(), i) for p, i in batch])
            streams[stream] = (actor, batch, set())

    for actor in actors:
        submit(actor)
        submit(actor)
    deaths = 0
    while streams:
        (ready,), _ = ray.wait(list(streams), num_returns=1)
        actor, batch, received = streams[ready]
        try:
            record: SampleRecord = ray.get(next(ready))
        except StopIteration:
            del streams[ready]
            submit(actor)
            continue
        except (RayActorError, ActorDiedError, ActorUnavailableError):
            # The worker died: what it had not sent back goes to the others (and to it again once
            # Ray has restarted it).
            del streams[ready]
            deaths += 1
            if deaths > workers * (WORKER_RESTARTS + 1) * 2:
                raise UserError(f"every Ray worker died, {deaths} times in all; see the worker logs in Ray's session folder")
            requeued.append([(p, i) for p, i in batch if pair_key(p.id, i) not in received])
            submit(next((a for a, _, _ in streams.values()), actors[0]))
            continue
        except RayTaskError as e:
            if isinstance(e.cause, TeacherFailure) and e.cause.fatal:
                raise fatal_error(recipe, e.cause) from None
            raise UserError(f"a Ray worker failed: {str(e.cause or e).splitlines()[0]}") from None
        except RayError as e:
            raise UserError(f"Ray failed: {str(e).splitlines()[0]}") from None
        received.add(pair_key(record.problem_id, record.sample_index))
        writer.add(record)
        tally.add(record)
        progress.advance(record.status == "ok", record.completion_tokens, cost=record.cost_usd)
        if fail_fast.add(record):
            raise fail_fast.error(recipe, teacher)
    if fail_fast.tripped():
        raise fail_fast.error(recipe, teacher)
    return tally.summary()
