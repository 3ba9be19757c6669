"""Many processes for one training job: `accelerate launch` with the strategy's config on GPUs.

A training command relaunches itself under the launcher, so a user types the same `rfactory
train-sft` (or `train-rl`) for one GPU or eight; the children see LOCAL_RANK and train instead of
launching.
"""

from __future__ import annotations

import os
import sys
from importlib import resources

from ..errors import UserError
from .config import HardwareConfig


def launched() -> bool:
    return "LOCAL_RANK" in os.environ


def first_process() -> bool:
    """The process that prints, claims the output folder and tidies checkpoints (rank 0, or alone)."""
    return int(os.environ.get("RANK", "0")) == 0


def needs_launch(hw: HardwareConfig) -> bool:
    return hw.world > 1 and not launched()


def launch_command(name: str, hw: HardwareConfig, argv: list[str], node_rank: int, main_address: str | None,
                   cuda: bool) -> list[str]:
    """`rfactory NAME ARGV` under the launcher that runs `hw`'s processes."""
    target = ["-m", "rfactory", name, *argv]
    if not cuda:
        # accelerate runs a CPU job as one process (several need MPI); torchrun starts gloo
        # processes, which is enough to rehearse a multi-GPU plan on a laptop or in CI.
        if hw.strategy != "ddp" or hw.nodes > 1:
            raise UserError(f"without GPUs only hardware.strategy ddp on one machine runs; got {hw.strategy} on {hw.nodes}")
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={hw.gpus}", *target]
    config = resources.files("rfactory.recipes").joinpath("accelerate", f"{hw.strategy}.yaml")
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
        "--num_processes", str(hw.world), "--num_machines", str(hw.nodes), "--machine_rank", str(node_rank),
    ]
    if hw.nodes > 1:
        if not main_address:
            raise UserError("training on several machines needs --main-address HOST:PORT (the rank-0 machine)")
        host, _, port = main_address.rpartition(":")
        if not host or not port.isdigit():
            raise UserError(f"--main-address {main_address!r}: expected HOST:PORT")
        command += ["--main_process_ip", host, "--main_process_port", port]
    return [*command, *target]

