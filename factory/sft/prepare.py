"""Recipe → tokenizer, training template, tokenized examples and the plan. No weights are read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import UserError
from ..training.memory import count_parameters, estimate_memory, gpu_memory
from ..training.model import config_and_tokenizer
from .data import load_examples
from .plan import Plan, steps
from .recipe import SFTRecipe
from .template import TrainingTemplate, training_template
from .tokens import apply_length_limit, tokenize, worker_count


@dataclass
class Prepared:
    recipe: SFTRecipe
    model_path: str
    tokenizer: Any
    template: TrainingTemplate
    dataset: Any  # input_ids + assistant_masks, every example within max_length
    plan: Plan


def packed_sequences(dataset: Any, max_length: int) -> int:
    """How many sequences TRL's best-fit-decreasing packing makes of these examples (its own code)."""
    from trl.data_utils import pack_dataset

    ids = dataset.select_columns(["input_ids"])
    return len(pack_dataset(ids, max_length, "bfd", {"num_proc": worker_count(len(ids))}))


def prepare(recipe: SFTRecipe) -> Prepared:
    examples, reports = load_examples(recipe.data, recipe.train.seed)  # bad data fails before a model loads
    path, config, tokenizer = config_and_tokenizer(recipe.model)
    template = training_template(tokenizer, recipe.model.chat_template)
    tokens = tokenize(examples, tokenizer, template.text)
    train = recipe.train
    kept, overlong = apply_length_limit(tokens, [d.source for d in recipe.data], train.max_length, train.overlong)
    if not len(kept):
        raise UserError(f"every example is over train.max_length {train.max_length:,} tokens (longest {overlong.longest:,})")
    lengths = kept["length"]
    sequences = packed_sequences(kept, train.max_length) if train.packing else len(kept)
    per_forward = train.micro_batch * (train.max_length if train.packing else max(lengths))
    total, trainable, largest = count_parameters(config, recipe.model, recipe.lora)
    per_epoch, total_steps = steps(recipe, sequences)
    memory = estimate_memory(config, recipe.hardware, recipe.lora, recipe.train.gradient_checkpointing,
                             recipe.train.liger_kernel, total, trainable, largest, per_forward)
    gpu_gb, gpu_source = gpu_memory(recipe.hardware)
    plan = Plan(
        model=recipe.model.name,
        chat_template=template.origin,
        parameters=total,
        trainable=trainable,
        sources=[asdict(r) for r in reports],
        examples=len(kept),
        tokens=sum(lengths),
        trained_tokens=sum(kept["trained"]),
        overlong=asdict(overlong),
        max_length=train.max_length,
        packing=train.packing,
        sequences=sequences,
        longest=max(lengths),
        processes=recipe.world,
        strategy=recipe.hardware.strategy,
        micro_batch=train.micro_batch,
        accumulation=recipe.accumulation,
        global_batch=train.global_batch,
        steps_per_epoch=per_epoch,
        epochs=train.epochs if not train.max_steps else round(total_steps / per_epoch, 3),
        total_steps=total_steps,
        memory=memory,
        gpu_memory_gb=gpu_gb,
        gpu_memory_source=gpu_source,
        fits=memory.total_gb <= gpu_gb,
    )
    return Prepared(recipe, path, tokenizer, template, kept.select_columns(["input_ids", "assistant_masks"]), plan)
