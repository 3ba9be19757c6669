"""Recipe sections every training command has: the model, LoRA, checkpoints, hardware, push."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, model_validator

from ..errors import UserError
from ..recipe import SimpleName, Strict, read_recipe_yaml, validate_with_overrides

Strategy = Literal["ddp", "fsdp2", "zero3", "zero3_offload"]


class ModelConfig(Strict):
    name: str = Field(..., description="Hub id, local model folder, or smollm2 (the embedded SmolLM2-135M-Instruct)")
    chat_template: str = Field(
        "auto",
        description="auto: the model's own if it marks assistant turns, else a marked equivalent; "
        "chatml; or a .jinja path with {% generation %} markers",
    )
    attention: Literal["auto", "sdpa", "flash_attention_2", "flash_attention_3", "eager"] = Field(
        "auto", description="auto: flash_attention_2 on GPUs where it is installed, else sdpa"
    )
    trust_remote_code: bool = False


class LoraConfig(Strict):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class CheckpointConfig(Strict):
    every_steps: int = Field(500, ge=1)
    keep: int | None = Field(2, ge=1, description="checkpoints kept on disk; None keeps all")


class HardwareConfig(Strict):
    gpus: int = Field(1, ge=1, description="processes per machine (GPUs; CPU processes where there is none)")
    nodes: int = Field(1, ge=1, description="machines; each runs the same command with its --node-rank")
    strategy: Strategy = Field("ddp", description="ddp, fsdp2, zero3 or zero3_offload (optimizer in CPU memory)")
    gpu_memory_gb: float | None = Field(None, gt=0, description="per GPU; None: the visible GPU's, else 80")

    @property
    def world(self) -> int:
        return self.gpus * self.nodes


class PushConfig(Strict):
    repo: str | None = Field(None, description="Hub model repo ORG/NAME to push the trained model to")
    private: bool = True


class OptimizerSettings(Strict):
    """The `train` settings every trainer reads alike (`model.trainer_arguments`); each command's
    own section adds to them and sets its published defaults."""

    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps (overrides epochs)")
    learning_rate: float = Field(1e-5, gt=0)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup", "cosine_with_min_lr"] = "cosine"
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    micro_batch: int = Field(1, ge=1, description="sequences per GPU per forward pass")
    gradient_checkpointing: bool = True
    seed: int = 42


class TrainingRecipe(Strict):
    """The sections every training recipe has; each command adds its data and its own `train`."""

    name: SimpleName
    model: ModelConfig
    lora: LoraConfig | None = None
    checkpoints: CheckpointConfig = CheckpointConfig()
    hardware: HardwareConfig = HardwareConfig()
    output_dir: str | None = Field(None, description="checkpoints and the final model (default models/<name>)")
    push: PushConfig = PushConfig()
    train: OptimizerSettings = OptimizerSettings()

    @property
    def world(self) -> int:
        return self.hardware.world

    def step_size(self) -> tuple[int, str]:
        """(examples per optimizer step across all GPUs, the settings that make it, for errors)."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _batch_divides(self) -> TrainingRecipe:
        size, said = self.step_size()
        if size % (self.train.micro_batch * self.world):
            raise ValueError(f"{said} is not a multiple of train.micro_batch × GPUs = "
                             f"{self.train.micro_batch} × {self.world}")
        return self

    @property
    def accumulation(self) -> int:
        """Micro-batches per GPU per optimizer step."""
        return self.step_size()[0] // (self.train.micro_batch * self.world)

    def output_folder(self) -> Path:
        return Path(self.output_dir or Path("models") / self.name)


R = TypeVar("R", bound=TrainingRecipe)


def load_training_recipe(model: type[R], name_or_path: str, folder: str, overrides: dict[str, Any],
                         no_data: str) -> R:
    """A recipe by packaged name (`sft/smoke`, `rl/smoke`) or path, with dotted-key overrides; one
    that names no data is refused with `no_data`, the flag that gives it."""
    data, where, _ = read_recipe_yaml(name_or_path, folder=folder)
    recipe = validate_with_overrides(model, data, overrides, where)
    if not getattr(recipe, "data"):
        raise UserError(f"{where}: no training data: {no_data}")
    return recipe
