"""`train-rl --dry-run`'s reward check: one real batch of the policy's own completions, scored by
every reward of the recipe exactly as the trainer will call it, so what sinks GRPO runs shows
before the GPUs are paid for: a reward that returns None for everything (a column it cannot read,
references that do not parse), one that is constant (no advantage, nothing learned), answers the
verifier never finds."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from pydantic import BaseModel

from .recipe import RLRecipe

PROBE_PROMPTS = 4
PROBE_TOKENS = 256  # new tokens per completion: enough to see answers, cheap enough for a dry run
CPU_PROBE_PARAMETERS = 3e9  # the largest policy sampled on a machine without a GPU


class RewardCheck(BaseModel):
    reward: str
    completions: int
    mean: float | None
    none_rate: float
    constant: bool
    metrics: dict[str, float]  # what the reward logged (its None and no-answer rates)
    examples: list[dict[str, Any]]  # a few completions' extra columns (the extracted answer, status, reason)


class Probe(BaseModel):
    source: str  # where the completions came from
    prompts: int
    completions: int
    checks: list[RewardCheck]
    warnings: list[str]


def _pick_rows(dataset: Any) -> list[int]:
    """A few rows, every domain the set has among them."""
    domains = dataset["domain"] if "domain" in dataset.column_names else [None] * len(dataset)
    first: dict[Any, int] = {}
    for i, d in enumerate(domains[:10_000]):
        first.setdefault(d, i)
    picked = sorted(first.values())
    picked += [i for i in range(len(dataset)) if i not in picked][: max(0, PROBE_PROMPTS - len(picked))]
    return picked[:max(PROBE_PROMPTS, len(first))]


def sample(recipe: RLRecipe, path: str, tokenizer: Any, rows: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """(completions, completion ids) from the policy, `num_generations` per row, as the trainer samples."""
    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if cuda else torch.float32,
                                                 trust_remote_code=recipe.model.trust_remote_code)
    model.to("cuda" if cuda else "cpu").eval()
    torch.manual_seed(recipe.train.seed)
    completions, ids = [], []
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True).to(model.device)
        with torch.no_grad():
            out = model.generate(**prompt, do_sample=True, temperature=recipe.train.temperature,
                                 top_p=recipe.train.top_p, num_return_sequences=recipe.train.num_generations,
                                 max_new_tokens=min(PROBE_TOKENS, recipe.train.max_completion_length),
                                 pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        for seq in out[:, prompt["input_ids"].shape[1]:]:
            kept = [t for t in seq.tolist() if t != tokenizer.pad_token_id]
            ids.append(kept)
            completions.append([{"role": "assistant", "content": tokenizer.decode(kept, skip_special_tokens=True)}])
    return completions, ids


def check_rewards(recipe: RLRecipe, rewards: list[Any], rows: list[dict[str, Any]], completions: list[Any],
                  ids: list[list[int]]) -> list[RewardCheck]:
    g = recipe.train.num_generations
    repeated = [row for row in rows for _ in range(g)]
    columns = {k: [r[k] for r in repeated] for k in repeated[0] if k != "prompt"}
    prompts = [r["prompt"] for r in repeated]
    checks = []
    for spec, fn in zip(recipe.rewards, rewards):
        extra: dict[str, list[Any]] = {}
        metrics: dict[str, list[float]] = defaultdict(list)
        values = fn(prompts=prompts, completions=completions, completion_ids=ids, trainer_state=None,
                    log_extra=lambda column, v: extra.setdefault(column, []).extend(v),
                    log_metric=lambda name, v: metrics[name].append(v), **columns)
        scored = [v for v in values if v is not None]
        checks.append(RewardCheck(
            reward=spec.name, completions=len(values), mean=sum(scored) / len(scored) if scored else None,
            none_rate=1 - len(scored) / len(values) if values else 1.0,
            constant=len(set(scored)) <= 1,
            metrics={k: sum(v) / len(v) for k, v in metrics.items() if v},
            examples=[{k: v[i] for k, v in extra.items() if i < len(v)} for i in range(min(3, len(values)))],
        ))
    return checks


def warnings(checks: list[RewardCheck]) -> list[str]:
    out = []
    for c in checks:
        if c.none_rate == 1.0:
            out.append(f"reward {c.reward}: None for every completion (no reference it can read, or references "
                       "that do not parse): it gives no signal")
        elif c.constant:
            out.append(f"reward {c.reward}: {c.mean:g} for every completion: no advantage, GRPO learns nothing from "
                       "it on these prompts (too hard or too easy for this policy?)")
        rate = next((v for k, v in c.metrics.items() if k.endswith("no_answer_rate")), None)
        if rate is not None and rate >= 0.5 and not math.isnan(rate):
            out.append(f"reward {c.reward}: no answer found in {rate:.0%} of completions: check the prompt asks for "
                       "a final answer the verifier reads, and the length limit")
    return out


def probe(recipe: RLRecipe, dataset: Any, path: str, tokenizer: Any, parameters: int, rewards: list[Any]) -> Probe:
    import torch

    picked = _pick_rows(dataset)
    rows = [dataset[i] for i in picked]
    if not torch.cuda.is_available() and parameters > CPU_PROBE_PARAMETERS:
        return Probe(source=f"none: no GPU here, and sampling a {parameters / 1e9:.0f}B policy on the CPU would take "
                            "hours; run --dry-run on the training machine", prompts=0, completions=0, checks=[],
                     warnings=[])
    completions, ids = sample(recipe, path, tokenizer, rows)
    checks = check_rewards(recipe, rewards, rows, completions, ids)
    return Probe(source=f"the policy, {recipe.train.num_generations} samples of {len(rows)} prompts, up to "
                        f"{min(PROBE_TOKENS, recipe.train.max_completion_length)} tokens each",
                 prompts=len(rows), completions=len(completions), checks=checks, warnings=warnings(checks))
