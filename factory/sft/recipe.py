"""SFT recipes: the pydantic model of a fine-tuning job, loaded with defaults → YAML → flags."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from ..errors import UserError
from ..recipe import Strict
from ..training.config import OptimizerSettings, TrainingRecipe, load_training_recipe


class DataSource(Strict):
    source: str = Field(..., description="run folder, `push --to` folder, .parquet/.jsonl file, or Hub dataset id")
    weight: float = Field(1.0, gt=0, description="copies per epoch: 2 doubles the source, 0.5 keeps a seeded half")
    split: str = "train"
    config: str | None = Field(None, description="config of a Hub dataset (OpenThoughts-format repos: default)")


class TrainConfig(OptimizerSettings):
    epochs: float = Field(3.0, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    global_batch: int = Field(96, ge=1, description="sequences per optimizer step, across all GPUs")
    max_length: int = Field(16384, ge=16, description="tokens per training sequence")
    overlong: Literal["drop", "truncate", "error"] = Field(
        "drop", description="what happens to an example longer than max_length; always counted and reported"
    )
    packing: bool = Field(False, description="pack examples into max_length sequences, without cross-example attention")
    liger_kernel: bool = Field(False, description="Liger's fused kernels (no full logits tensor); needs liger-kernel")


class SFTRecipe(TrainingRecipe):
    data: list[DataSource] = Field(default_factory=list)
    train: TrainConfig = TrainConfig()

    def step_size(self) -> tuple[int, str]:
        return self.train.global_batch, f"train.global_batch {self.train.global_batch}"

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
    return load_training_recipe(SFTRecipe, name_or_path, "sft", overrides or {},
                                "give --data RUN_OR_REPO (or `data:` in the recipe)")
