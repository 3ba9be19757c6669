"""The launch command `train-sft --gpus/--nodes` builds, read back by accelerate's own parser, and
the shipped strategy configs as accelerate loads them (the GPU launch itself needs GPUs)."""

from __future__ import annotations

import pytest
from accelerate.commands.launch import _validate_launch_command, launch_command_parser

from rfactory.errors import UserError
from rfactory.sft.recipe import load_sft_recipe
from rfactory.training.launch import launch_command

DATA = {"data": [{"source": "runs/m1"}]}
EXPECTED = {"ddp": "MULTI_GPU", "fsdp2": "FSDP", "zero3": "DEEPSPEED", "zero3_offload": "DEEPSPEED"}


def parsed(command: list[str]):
    """What accelerate makes of our command line, as `accelerate launch` itself validates it."""
    start = command.index("accelerate.commands.launch") + 1
    args = launch_command_parser().parse_args(command[start:])
    validated, defaults, _ = _validate_launch_command(args)
    return validated, defaults


@pytest.mark.parametrize("strategy", sorted(EXPECTED))
def test_each_strategy_launches_with_its_shipped_config(strategy):
    recipe = load_sft_recipe("sft/sky-t1-32b", {**DATA, "hardware.strategy": strategy})
    command = launch_command("train-sft", recipe.hardware, ["--recipe", "sft/sky-t1-32b", "--data", "runs/m1"], 0, None, cuda=True)
    args, defaults = parsed(command)
    assert defaults.distributed_type.name == EXPECTED[strategy]
    assert args.num_processes == 8 and args.num_machines == 1 and args.machine_rank == 0
    assert args.module and args.training_script == "rfactory"
    assert args.training_script_args == ["train-sft", "--recipe", "sft/sky-t1-32b", "--data", "runs/m1"]
    if strategy.startswith("zero3"):
        offload = defaults.deepspeed_config["offload_optimizer_device"]
        assert defaults.deepspeed_config["zero_stage"] == 3 and offload == ("cpu" if strategy == "zero3_offload" else "none")
    if strategy == "fsdp2":
        assert defaults.fsdp_config["fsdp_version"] == 2


def test_several_machines_need_the_main_address_and_pass_it_on():
    recipe = load_sft_recipe("sft/openthinker-7b", DATA)
    with pytest.raises(UserError, match="needs --main-address HOST:PORT"):
        launch_command("train-sft", recipe.hardware, [], 2, None, cuda=True)
    args, _ = parsed(launch_command("train-sft", recipe.hardware, [], 2, "10.0.0.1:29500", cuda=True))
    assert (args.num_processes, args.num_machines, args.machine_rank) == (32, 4, 2)
    assert (args.main_process_ip, args.main_process_port) == ("10.0.0.1", 29500)


def test_without_gpus_only_ddp_on_one_machine_runs_as_cpu_processes():
    recipe = load_sft_recipe("sft/smoke", {**DATA, "hardware.gpus": 2})
    command = launch_command("train-sft", recipe.hardware, ["--gpus", "2"], 0, None, cuda=False)
    assert command[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m"]
    with pytest.raises(UserError, match="only hardware.strategy ddp on one machine"):
        launch_command("train-sft", load_sft_recipe("sft/sky-t1-32b", DATA).hardware, [], 0, None, cuda=False)
