"""Examples → token ids with an assistant mask, and what happens to those over max_length.

rfactory tokenizes (the same `apply_chat_template` call TRL makes) rather than leaving it to
SFTTrainer because the plan needs every example's length before a model is loaded, and because
TRL cuts long examples silently: here each one over the limit is counted, located and dropped,
cut or refused as the recipe says. The trainer then receives ready `input_ids` +
`assistant_masks` and only builds labels and packs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import UserError


@dataclass
class Overlong:
    policy: str
    count: int = 0
    longest: int = 0
    longest_at: str = ""  # "SOURCE row N"
    tokens: int = 0  # tokens in those examples, before any cut


def worker_count(rows: int) -> int | None:
    """Processes for `datasets.map`: none for small data, where forking costs more than it saves."""
    return min(os.cpu_count() or 1, 16) if rows >= 20_000 else None


def tokenize(examples: Any, tokenizer: Any, template: str) -> Any:
    def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        ids, masks = [], []
        for messages in batch["messages"]:
            out = tokenizer.apply_chat_template(
                messages, chat_template=template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
            )
            ids.append(out["input_ids"])
            masks.append(out["assistant_masks"])
        return {
            "input_ids": ids,
            "assistant_masks": masks,
            "length": [len(i) for i in ids],
            "trained": [sum(m) for m in masks],
        }

    return examples.map(
        encode, batched=True, batch_size=256, remove_columns=["messages"], num_proc=worker_count(len(examples)),
        desc="tokenizing",
    )


def apply_length_limit(
    tokens: Any, sources: list[str], max_length: int, policy: Literal["drop", "truncate", "error"]
) -> tuple[Any, Overlong]:
    """Examples over `max_length` are counted and the longest located, then dropped, cut or refused."""
    lengths = tokens["length"]
    over = [i for i, n in enumerate(lengths) if n > max_length]
    report = Overlong(policy)
    if not over:
        return tokens, report
    worst = max(over, key=lengths.__getitem__)
    at = tokens[worst]
    report.count, report.longest, report.tokens = len(over), lengths[worst], sum(lengths[i] for i in over)
    report.longest_at = f"{sources[at['source']]} row {at['row']}"
    if policy == "error":
        raise UserError(
            f"{report.longest_at}: {report.longest:,} tokens, over train.max_length {max_length:,} "
            f"({report.count:,} examples are; set train.overlong to drop or truncate, or raise max_length)"
        )
    if policy == "drop":
        return tokens.filter(lambda n: n <= max_length, input_columns="length"), report

    def cut(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        masks = [m[:max_length] for m in batch["assistant_masks"]]
        return {
            "input_ids": [i[:max_length] for i in batch["input_ids"]],
            "assistant_masks": masks,
            "length": [min(n, max_length) for n in batch["length"]],
            "trained": [sum(m) for m in masks],
        }

    cut_tokens = tokens.map(cut, batched=True, desc="truncating")
    # An example cut before its answer starts would train on nothing.
    return cut_tokens.filter(lambda n: n > 0, input_columns="trained"), report
