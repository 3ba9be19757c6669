"""SFT recipes: the pydantic model of a fine-tuning job, loaded with defaults → YAML → flags."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from ..errors import UserError
from ..recipe import SimpleName, Strict, read_recipe_yaml, validate_with_overrides

Strategy = Literal["ddp", "fsdp2", "zero3", "zero3_offload"]


class DataSource(Strict):
    source: str = Field(..., description="run folder, `push --to` folder, .parquet/.jsonl file, or Hub dataset id")
    weight: float = Field(1.0, gt=0, description="copies per epoch: 2 doubles the source, 0.5 keeps a seeded half")
    split: str = "train"
    config: str | None = Field(None, description="config of a Hub dataset (OpenThoughts-format repos: default)")


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


class TrainConfig(Strict):
    epochs: float = Field(3.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps (overrides epochs)")
    learning_rate: float = Field(1e-5, gt=0)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup", "cosine_with_min_lr"] = "cosine"
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    global_batch: int = Field(96, ge=1, description="sequences per optimizer step, across all GPUs")
    micro_batch: int = Field(1, ge=1, description="sequences per GPU per forward pass")
    max_length: int = Field(16384, ge=16, description="tokens per training sequence")
    overlong: Literal["drop", "truncate", "error"] = Field(
        "drop", description="what happens to an example longer than max_length; always counted and reported"
    )
    packing: bool = Field(False, description="pack examples into max_length sequences, without cross-example attention")
    gradient_checkpointing: bool = True
    liger_kernel: bool = Field(False, description="Liger's fused kernels (no full logits tensor); needs liger-kernel")
    seed: int = 42


class CheckpointConfig(Strict):
    every_steps: int = Field(500, ge=1)
    keep: int | None = Field(2, ge=1, description="checkpoints kept on disk; None keeps all")


class HardwareConfig(Strict):
    gpus: int = Field(1, ge=1, description="processes per machine (GPUs; CPU processes where there is none)")
    nodes: int = Field(1, ge=1, description="machines; each runs the same command with its --node-rank")
    strategy: Strategy = Field("ddp", description="ddp, fsdp2, zero3 or zero3_offload (optimizer in CPU memory)")
    gpu_memory_gb: float | None = Field(None, gt=0, description="per GPU; None: the visible GPU's, else 80")


class PushConfig(Strict):
    repo: str | None = Field(None, description="Hub model repo ORG/NAME to push the trained model to")
    private: bool = True


class SFTRecipe(Strict):
    name: SimpleName
    model: ModelConfig
    data: list[DataSource] = Field(default_factory=list)
    train: TrainConfig = TrainConfig()
    lora: LoraConfig | None = None
    checkpoints: CheckpointConfig = CheckpointConfig()
    hardware: HardwareConfig = HardwareConfig()
    output_dir: str | None = Field(None, description="checkpoints and the final model (default models/<name>)")
    push: PushConfig = PushConfig()

    @model_validator(mode="after")
    def _batch_divides(self) -> SFTRecipe:
        per_step = self.train.micro_batch * self.world
        if self.train.global_batch % per_step:
            raise ValueError(
                f"train.global_batch {self.train.global_batch} is not a multiple of "
                f"train.micro_batch × GPUs = {self.train.micro_batch} × {self.world}"
            )
        return self

    @property
    def world(self) -> int:
        return self.hardware.gpus * self.hardware.nodes

    @property
    def accumulation(self) -> int:
        return self.train.global_batch // (self.train.micro_batch * self.world)

    def trajectory(self) -> dict[str, Any]:
        """Every setting that changes which weights a step produces: a checkpoint made under other
        values cannot be resumed. GPU count, strategy and micro-batch split the same global batch
        differently but compute the same step, so they are left out."""
        train = self.train.model_dump(exclude={"micro_batch", "gradient_checkpointing", "liger_kernel"})
        return {
            "model": self.model.name,
            "chat_template": self.model.chat_template,
            "data": [d.model_dump() for d in self.data],
            "train": train,
            "lora": self.lora.model_dump() if self.lora else None,
        }


def parse_data_flag(value: str) -> DataSource:
    """`--data SOURCE` or `--data SOURCE=WEIGHT`."""
    source, sep, weight = value.rpartition("=")
    if sep:
        try:
            return DataSource(source=source, weight=float(weight))
        except (ValueError, ValidationError):
            pass
    return DataSource(source=value)


def load_sft_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> SFTRecipe:
    """Load an SFT recipe by packaged name (`sft/smoke`) or path, then apply dotted-key overrides."""
    data, where, _ = read_recipe_yaml(name_or_path, folder="sft")
    recipe = validate_with_overrides(SFTRecipe, data, overrides or {}, where)
    if not recipe.data:
        raise UserError(f"{where}: no training data: give --data RUN_OR_REPO (or `data:` in the recipe)")
    return recipe
