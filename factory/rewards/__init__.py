"""rfactory's verifiers as reward functions for reinforcement learning (TRL, verl, OpenRLHF).

    from rfactory.rewards import math_reward, code_reward
    trainer = GRPOTrainer(model=..., reward_funcs=[math_reward], train_dataset=ds)  # ds has `solution`

Each takes TRL 1.16's arguments (`prompts, completions, completion_ids, **columns`, completions
plain or conversational) and returns one float or None per completion: None, never 0, where a
completion cannot be judged (no gold, a gold our verifier cannot read, a verifier failure).
Verification runs in persistent worker pools (one per verifier per process, sized to the cores
by default), so a 16 × 64 group batch is judged in parallel and no worker or sandbox starts twice.
Every call logs why each completion scored what it did (`diagnostics`). `verl.compute_score`
adapts the same verifiers to verl.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import AsyncReward
from .code import CodeReward, make_code_reward
from .format import SoftOverlongReward, soft_overlong_reward, think_format, think_format_reward
from .math import MathReward, make_math_reward

math_reward = make_math_reward()
code_reward = make_code_reward()
math_reward_async = AsyncReward(math_reward)
code_reward_async = AsyncReward(code_reward)

# By name, for train-rl recipes: each factory takes its reward's options as keywords.
REWARDS: dict[str, Callable[..., Callable]] = {
    "math": make_math_reward,
    "code": make_code_reward,
    "think_format": think_format,
    "soft_overlong": soft_overlong_reward,
}

__all__ = ["REWARDS", "AsyncReward", "CodeReward", "MathReward", "SoftOverlongReward", "code_reward",
           "code_reward_async", "make_code_reward", "make_math_reward", "math_reward", "math_reward_async",
           "soft_overlong_reward", "think_format_reward"]
