"""PRM recipes: a token-classification run over step-labelled data, defaults → YAML → flags."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..recipe import Strict
from ..stepwise import SEPARATOR
from ..training.config import OptimizerSettings, TrainingRecipe, load_training_recipe


class PRMData(Strict):
    source: str = Field(..., description="a `label-steps` folder, its dataset/ folder, a stepwise file, or a Hub dataset")
    split: str = "train"


class PRMTrainSettings(OptimizerSettings):
    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(2e-6, gt=0)
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    global_batch: int = Field(64, ge=1, description="traces per optimizer step, across all GPUs")
    max_length: int = Field(4096, ge=16, description="tokens per trace; steps past it are cut with their labels")
    separator: str = Field(SEPARATOR, description="appended to each step; its last token carries the step's label")
    soft_labels: bool = Field(False, description="train on the rollouts' share reaching the answer, not right/wrong")


class PRMRecipe(TrainingRecipe):
    data: list[PRMData] = Field(default_factory=list)
    train: PRMTrainSettings = PRMTrainSettings()

    def step_size(self) -> tuple[int, str]:
        return self.train.global_batch, f"train.global_batch {self.train.global_batch}"

    def trajectory(self) -> dict[str, Any]:
        return {"model": self.model.name, "data": [d.model_dump() for d in self.data],
                "train": self.train.model_dump(exclude={"micro_batch", "gradient_checkpointing"}),
                "lora": self.lora.model_dump() if self.lora else None}


def load_prm_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> PRMRecipe:
    return load_training_recipe(PRMRecipe, name_or_path, "prm", overrides or {},
                                "give --data PRM_SET (made by `rfactory label-steps`)")
