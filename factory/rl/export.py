"""An RL problem set on disk: `data/train-*.parquet` in the rewards' schema, a card, and
`rl-data.json` (settings and every count), swapped in whole so a failed write loses nothing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..card import size_category
from ..dataset import ShardWriter
from ..progress import Progress
from .data import RL_SCHEMA, RLRow

SETTINGS = "rl-data.json"


def _histogram(rates: list[float]) -> dict[str, int]:
    edges = [i / 10 for i in range(11)]
    counts = Counter(min(int(r * 10), 9) for r in rates)
    return {f"{edges[i]:.1f}-{edges[i + 1]:.1f}": counts[i] for i in range(10)}


def _card(summary: dict[str, Any]) -> str:
    from huggingface_hub import DatasetCardData

    front = DatasetCardData(
        license="apache-2.0", language=["en"], size_categories=[size_category(summary["rows"])],
        task_categories=["text-generation"], tags=["rfactory", "reinforcement-learning", "rlvr", *summary["domains"]],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
    )
    dropped = "\n".join(f"| {reason} | {n:,} |" for reason, n in sorted(summary["dropped"].items())) or "| (none) | 0 |"
    rates = summary["pass_rates"]
    hist = "\n".join(f"| {bucket} | {n:,} |" for bucket, n in rates["histogram"].items()) if rates["known"] else ""
    return f"""---
{front.to_yaml()}
---

# RL problem set

{summary['rows']:,} problems for reinforcement learning with verifiable rewards, made by
[rfactory](https://github.com/rfactory) `rl-data` from: {', '.join(f'`{s}`' for s in summary['sources'])}.

Each row has `prompt` (chat messages: system prompt, then the problem), and `solution` (math: the
reference answer) or `tests` (code: the tests as JSON), the columns `rfactory.rewards` reads:

```python
from datasets import load_dataset
from trl import GRPOConfig, GRPOTrainer
from rfactory.rewards import math_reward, code_reward

ds = load_dataset("REPO", split="train")
trainer = GRPOTrainer(model="MODEL", reward_funcs=[math_reward, code_reward], train_dataset=ds,
                      args=GRPOConfig(output_dir="out"))
```

| domain | problems |
|---|---|
{chr(10).join(f"| {d} | {n:,} |" for d, n in summary['by_domain'].items())}

## Selection

- Pass-rate band: {summary['band'] or 'none'} (the share of a teacher's samples that verified,
  where a run measured it; {rates['known']:,} rows have one).
- Decontaminated against: {', '.join(summary['decontaminated_against']) or 'nothing'}.
- Exact{' and near' if summary['near_duplicates'] else ''} duplicates of an earlier problem left out.

| left out because | rows |
|---|---|
{dropped}
{f'''
## Pass rates

| pass rate | problems |
|---|---|
{hist}
''' if hist else ''}"""


def write(rows: Iterable[RLRow], out: Path, settings: dict[str, Any], dropped: Counter[str],
          progress: Progress) -> dict[str, Any]:
    writer = ShardWriter(out, max_rows=100_000, configs={"data": RL_SCHEMA})
    by_domain: Counter[str] = Counter()
    rates: list[float] = []
    try:
        for row in rows:
            writer.add(row.model_dump())
            by_domain[row.domain] += 1
            if row.pass_rate is not None:
                rates.append(row.pass_rate)
            progress.advance(True)
    except BaseException:
        writer.abort()
        raise
    summary = {
        **settings, "out": str(out), "rows": writer.rows, "domains": sorted(by_domain), "by_domain": dict(by_domain),
        "dropped": dict(dropped), "pass_rates": {"known": len(rates), "histogram": _histogram(rates)},
    }
    writer.close({"README.md": _card(summary).encode(), SETTINGS: (json.dumps(summary, indent=2) + "\n").encode()})
    return summary
