"""What a paid teacher's samples cost: a price per model (the packaged table, a recipe's own, or
flags), the dollars of one sample from the tokens its `usage` reported, and a run's total.

The table is data (`prices.json`, with the date it was read); a model it does not hold has an
unknown cost, never a guessed one. Dated snapshots (`gpt-4o-2024-08-06`) take their model's price.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MTOK = 1_000_000
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class PriceConfig(BaseModel):
    """`teacher.price` in a recipe (and the --price-* flags): any field set wins over the table."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    input_per_mtok: float | None = Field(None, ge=0, description="USD per million prompt tokens")
    output_per_mtok: float | None = Field(None, ge=0, description="USD per million completion tokens, reasoning included")
    cached_input_per_mtok: float | None = Field(None, ge=0, description="USD per million cached prompt tokens")
    batch_factor: float | None = Field(None, gt=0, le=1, description="the Batch API's price relative to the online one")


class Price(BaseModel):
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float  # the provider's discount for prompt tokens it had cached
    batch_factor: float | None  # None: no batch price known
    source: str  # "prices.json 2025-09-05", "recipe": printed beside every figure

    def cost(self, prompt_tokens: int, cached_tokens: int, completion_tokens: int, batch: bool = False) -> float:
        fresh = max(0, prompt_tokens - cached_tokens)
        usd = (fresh * self.input_per_mtok + cached_tokens * self.cached_input_per_mtok
               + completion_tokens * self.output_per_mtok) / MTOK
        return usd * (self.batch_factor or 1.0) if batch else usd


@cache
def price_table() -> dict[str, Any]:
    return json.loads(resources.files("rfactory").joinpath("prices.json").read_text(encoding="utf-8"))


def table_entry(host: str, model: str) -> tuple[dict[str, Any], float | None] | None:
    provider = price_table()["providers"].get(host)
    if provider is None:
        return None
    models = provider["models"]
    entry = models.get(model) or models.get(_SNAPSHOT.sub("", model))
    return None if entry is None else (entry, provider["batch_factor"])


def resolve_price(config: PriceConfig | None, key: tuple[str, str] | None) -> Price | None:
    """The price of a teacher whose `price_key()` is `key` ((API host, model); None for engines
    that bill nothing per token): the table's, with the recipe's fields over it."""
    config = config or PriceConfig()
    found = table_entry(*key) if key else None
    base, batch = found if found else ({}, None)
    given = config.model_dump(exclude_none=True)
    merged = {**base, **given}
    if "input_per_mtok" not in merged or "output_per_mtok" not in merged:
        return None
    source = "recipe" if not found else f"prices.json {price_table()['as_of']}" + (" + recipe" if given else "")
    return Price(input_per_mtok=merged["input_per_mtok"], output_per_mtok=merged["output_per_mtok"],
                 cached_input_per_mtok=merged.get("cached_input_per_mtok", merged["input_per_mtok"]),
                 batch_factor=merged.get("batch_factor", batch), source=source)


def usd(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"
