"""`rfactory train-rl`: GRPO with rfactory's verifiers as rewards, on TRL's GRPOTrainer."""

from __future__ import annotations

from typing import Any, Optional

import typer

from ..progress import Mode, print_summary
from . import training
from .options import JSON, QUIET, interruptible, output_mode


def plan_table(plan: Any, server: str | None) -> dict[str, Any]:
    m = plan.memory
    return {
        "model": f"{plan.model} ({plan.parameters / 1e6:,.0f}M parameters, {plan.trainable / 1e6:,.1f}M trained)",
        "data": f"{plan.prompts:,} prompts" + (f" ({', '.join(f'{d} {n:,}' for d, n in plan.domains.items())})"
                                               if plan.domains else "") + f", longest {plan.longest_prompt:,} tokens",
        "rewards": ", ".join(plan.rewards),
        "step": f"{plan.prompts_per_step} prompts × {plan.num_generations} completions = {plan.completions_per_step} "
                f"= {plan.micro_batch} × {plan.processes} GPUs × {plan.accumulation} accumulation",
        "steps": f"{plan.total_steps:,} ({plan.steps_per_epoch:,} per epoch)",
        "completion length": f"up to {plan.max_completion_length:,} tokens",
        "generation": plan.generation + (f" (start the server first: {server})" if server else ""),
        "vllm": plan.vllm,
        "memory per GPU": f"~{plan.total_gb:.1f} GB of {plan.gpu_memory_gb:.0f} GB ({plan.gpu_memory_source})",
        "memory parts": {"training": f"{m.total_gb:.1f}", "vLLM (colocated)": f"{plan.vllm_gb:.1f}",
                         "reference model": f"{plan.reference_gb:.1f}"},
        "fits": "yes" if plan.fits else "NO",
    }


def _dry_run(spec: Any, dataset: Any, rewards: list[Any], mode: Mode, cuda: bool) -> None:
    from ..rl.plan import make_plan
    from ..rl.probe import probe
    from ..rl.train import installed_vllm, server_command, vllm_problem
    from ..training.model import config_and_tokenizer

    path, config, tokenizer = config_and_tokenizer(spec.model)
    engine = spec.generation.vllm if spec.generation.vllm != "auto" else ("colocate" if cuda else "off")
    problem = vllm_problem()
    vllm = problem or f"vLLM {installed_vllm()}: accepted by TRL"
    plan = make_plan(spec, dataset, config, tokenizer, engine, vllm)
    checked = probe(spec, dataset, path, tokenizer, plan.parameters, rewards)
    lines = list(checked.warnings)
    if engine != "off" and problem:
        lines.insert(0, f"generation.vllm {engine}: {problem}")
    if not plan.fits:
        lines.insert(0, f"plan needs ~{plan.total_gb:.0f} GB per GPU but a GPU has {plan.gpu_memory_gb:.0f} GB: use "
                        "more GPUs, a sharded strategy, --lora, a lower generation.gpu_memory_utilization or a "
                        "shorter max_completion_length")
    if mode == "json":
        print_summary(mode, "", {"plan": plan.model_dump(), "probe": checked.model_dump(), "warnings": lines})
        return
    server = server_command(spec, path) if engine == "server" else None
    print_summary(mode, "train-rl plan", plan_table(plan, server))
    rewards = {c.reward: (f"mean {c.mean:.3f}" if c.mean is not None else "no score")
               + f", None {c.none_rate:.0%}" + "".join(f", {k.split('/')[-1]} {v:.0%}" for k, v in c.metrics.items())
               + (", constant" if c.constant else "") for c in checked.checks}
    print_summary(mode, "rewards on real completions", {"completions": checked.source, **rewards})
    for line in lines:
        typer.echo(f"warning: {line}", err=True)


@interruptible
def train_rl(
    recipe: str = typer.Option("rl/smoke", "--recipe", "-r", help="Packaged RL recipe (rl/smoke, rl/sky-t1-7b, rl/dapo) or a YAML path."),
    data: Optional[list[str]] = typer.Option(None, "--data", "-d", help="An `rfactory rl-data` folder, a file in its schema, or a Hub dataset. Repeat to mix; replaces the recipe's data."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Hub id, model folder (your SFT round's), or smollm2 (embedded)."),
    out: Optional[str] = training.OUT,
    gpus: Optional[int] = training.GPUS,
    nodes: Optional[int] = training.NODES,
    node_rank: int = training.NODE_RANK,
    main_address: Optional[str] = training.MAIN_ADDRESS,
    strategy: Optional[str] = training.STRATEGY,
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate."),
    prompts_per_step: Optional[int] = typer.Option(None, help="Distinct prompts per optimizer step, all GPUs together."),
    num_generations: Optional[int] = typer.Option(None, help="Completions per prompt (the group)."),
    micro_batch: Optional[int] = typer.Option(None, help="Completions per GPU per forward pass."),
    max_completion_length: Optional[int] = typer.Option(None, help="Tokens per completion."),
    vllm: Optional[str] = typer.Option(None, "--vllm", help="Generation: auto (colocate on GPUs), off, colocate or server."),
    lora: Optional[bool] = training.LORA,
    gpu_memory: Optional[float] = training.GPU_MEMORY,
    push_to: Optional[str] = training.PUSH_TO,
    eval_benches: Optional[str] = training.EVAL,
    eval_engine: str = training.EVAL_ENGINE,
    eval_samples: Optional[int] = training.EVAL_SAMPLES,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan, score one real batch of the policy's completions with every reward, and stop."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Reinforcement learning with verifiable rewards (GRPO); run the same command again to resume.

    Examples:

      rfactory train-rl --recipe rl/smoke --data rl/m1                    # a few real steps on a CPU

      rfactory train-rl --recipe rl/sky-t1-7b --data rl/eurus --gpus 8 --dry-run

      rfactory train-rl --recipe rl/sky-t1-7b --model models/sft --data rl/eurus --gpus 8 --eval aime2024,math500
    """
    from ..rl.recipe import RLData, load_rl_recipe
    from ..training.launch import first_process, needs_launch

    mode = output_mode(quiet, as_json)
    overrides = {
        "model.name": model, "output_dir": out, "train.max_steps": max_steps, "train.learning_rate": lr,
        "train.prompts_per_step": prompts_per_step, "train.num_generations": num_generations,
        "train.micro_batch": micro_batch, "train.max_completion_length": max_completion_length,
        "generation.vllm": vllm, "push.repo": push_to,
        "data": [RLData(source=d).model_dump() for d in data] if data else None,
        **training.hardware_overrides(gpus, nodes, strategy, gpu_memory),
    }
    spec = training.load_spec(load_rl_recipe, recipe, overrides, lora, mode)
    main = first_process()

    from ..rl.train import load_data, reward_functions, server_command, train, vllm_mode
    from ..training.folder import claim_output

    out_dir = spec.output_folder()
    benches = training.eval_benches(eval_benches, spec.lora is not None)

    def scored() -> dict[str, Any]:
        return training.scored_checkpoints(out_dir, benches, eval_engine,
                                           ["-n", str(eval_samples)] if eval_samples else [], mode)

    if not dry_run and training.reported_finished(spec, "rl", mode, scored):
        return
    rewards = reward_functions(spec)  # unknown rewards or options fail before any model loads,
    dataset = load_data(spec, rewards)  # and so do bad data and columns a reward cannot read
    import torch

    cuda = torch.cuda.is_available()
    if dry_run:
        _dry_run(spec, dataset, rewards, mode, cuda)
        return
    engine = vllm_mode(spec, cuda)
    if main:
        claim_output(out_dir, "rl", spec.trajectory(), spec.model_dump(mode="json"))
        if engine == "server" and mode == "rich":
            typer.echo(f"generation on a vLLM server at {spec.generation.server_host}:{spec.generation.server_port}; "
                       f"start it on GPUs training does not use: {server_command(spec, spec.model.name)}", err=True)
    if needs_launch(spec.hardware):
        training.run_launched("train-rl", spec.hardware, node_rank, main_address, cuda)
        if evals := scored():
            print_summary(mode, "train-rl evals", evals["evals"])
        return
    summary = train(spec, dataset, rewards, mode)
    if main:
        print_summary(mode, "train-rl", summary | scored())
