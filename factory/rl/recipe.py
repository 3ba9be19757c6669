"""RL recipes: the pydantic model of a GRPO job, loaded with defaults → YAML → flags."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..errors import UserError
from ..recipe import Strict
from ..training.config import OptimizerSettings, TrainingRecipe, load_training_recipe


class RLData(Strict):
    source: str = Field(..., description="an `rl-data` folder, a .parquet/.jsonl file in its schema, or a Hub dataset id")
    split: str = "train"


class RewardSpec(Strict):
    name: str = Field(..., description="a reward of rfactory.rewards: math, code, think_format, soft_overlong")
    weight: float = 1.0
    options: dict[str, Any] = Field(default_factory=dict, description="the reward's own options, e.g. partial: true")


class GRPOSettings(OptimizerSettings):
    """The knobs the published recipes set; everything else is TRL's default."""

    learning_rate: float = Field(1e-6, gt=0)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup", "cosine_with_min_lr"] = "constant"
    prompts_per_step: int = Field(64, ge=1, description="distinct prompts per optimizer step, across all GPUs")
    num_generations: int = Field(8, ge=2, description="completions per prompt: the group advantages are computed in")
    micro_batch: int = Field(4, ge=1, description="completions per GPU per forward pass")
    max_completion_length: int = Field(4096, ge=1)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    beta: float = Field(0.0, ge=0, description="KL coefficient; 0 loads no reference model")
    epsilon: float = Field(0.2, gt=0, description="clip range (lower side)")
    epsilon_high: float | None = Field(None, gt=0, description="upper clip range (DAPO's clip-higher); None: epsilon")
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = "dapo"
    scale_rewards: Literal["group", "batch", "none"] = "group"
    mask_truncated_completions: bool = Field(False, description="leave completions cut at the length limit out of the loss (DAPO)")
    num_iterations: int = Field(1, ge=1, description="policy updates per generation batch (μ)")


class GenerationConfig(Strict):
    vllm: Literal["auto", "off", "colocate", "server"] = Field(
        "auto", description="auto: colocate on GPUs, off (transformers' generate) without them")
    gpu_memory_utilization: float = Field(0.3, gt=0, lt=1, description="colocate: the share of each GPU vLLM takes")
    tensor_parallel_size: int = Field(1, ge=1, description="colocate: GPUs per vLLM engine")
    server_host: str = "127.0.0.1"
    server_port: int = 8000


class RLRecipe(TrainingRecipe):
    data: list[RLData] = Field(default_factory=list)
    rewards: list[RewardSpec] = Field(default_factory=lambda: [RewardSpec(name="math")])
    train: GRPOSettings = GRPOSettings()
    generation: GenerationConfig = GenerationConfig()

    @model_validator(mode="after")
    def _has_rewards(self) -> RLRecipe:
        if not self.rewards:
            raise ValueError("rewards: name at least one reward")
        return self

    @property
    def completions_per_step(self) -> int:
        return self.train.prompts_per_step * self.train.num_generations

    def step_size(self) -> tuple[int, str]:
        return (self.completions_per_step,
                f"train.prompts_per_step × train.num_generations = {self.completions_per_step} completions")

    def trajectory(self) -> dict[str, Any]:
        """Every setting that changes which weights a step produces: a checkpoint made under other
        values cannot be resumed. GPU count, micro-batch and the generation engine split or serve
        the same step differently but compute the same update."""
        return {
            "model": self.model.name,
            "data": [d.model_dump() for d in self.data],
            "rewards": [r.model_dump() for r in self.rewards],
            "train": self.train.model_dump(exclude={"micro_batch", "gradient_checkpointing"}),
            "lora": self.lora.model_dump() if self.lora else None,
        }


def load_rl_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> RLRecipe:
    return load_training_recipe(RLRecipe, name_or_path, "rl", overrides or {},
                                "give --data RL_SET (made by `rfactory rl-data`)")
