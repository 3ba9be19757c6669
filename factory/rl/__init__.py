"""Reinforcement learning with verifiable rewards: RL problem sets (`rl-data`) and GRPO training (`train-rl`)."""
