#!/usr/bin/env bash
# On a machine with one GPU and rfactory installed with `pip install -e ".[dev]"` (TRL 1.16 and a
# vLLM release TRL accepts, 0.22-0.31): a few GRPO steps of TRL's GRPOTrainer with vLLM colocated
# on the trainer's GPU, rewarded by rfactory.rewards (math_reward + think_format_reward + DAPO's
# soft overlong penalty) on the built-in arithmetic problems. Prints, per step, the wall time, the
# time spent in the rewards (wrapped and timed here) and what the rewards logged; then the share
# of the step the rewards took. Nothing is downloaded: MODEL is a local folder (or a Hub id
# already in the cache), e.g. a 1.5B reasoning model.
#   bench/gpu_rl.sh /models/DeepSeek-R1-Distill-Qwen-1.5B            # 5 steps, 16 prompts × 8
#   STEPS=10 MAX_LEN=2048 bench/gpu_rl.sh /models/Qwen2.5-Math-1.5B-Instruct
set -euo pipefail
MODEL=${1:?usage: bench/gpu_rl.sh MODEL_FOLDER}
exec "${PYTHON:-python}" - "$MODEL" "${STEPS:-5}" "${MAX_LEN:-1024}" <<'EOF'
import itertools, sys, time

from datasets import Dataset
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from rfactory.builtin_problems import arithmetic
from rfactory.rewards import math_reward, soft_overlong_reward, think_format_reward

model, steps, max_len = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [{"prompt": [{"role": "user", "content": p["problem"] + " Put the final answer in \\boxed{}."}],
         "solution": p["answer"]} for p in itertools.islice(arithmetic(), 16 * steps)]
spent = []  # seconds in the rewards, per call


class Timed:
    def __init__(self, reward):
        self.reward, self.__name__ = reward, reward.__name__

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.reward(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)


class Steps(TrainerCallback):
    def on_step_begin(self, args, state, control, **kw):
        self.started, spent[:] = time.perf_counter(), []

    def on_step_end(self, args, state, control, **kw):
        wall, rewards = time.perf_counter() - self.started, sum(spent)
        print(f"step {state.global_step}: {wall:.1f} s, rewards {rewards:.2f} s ({100 * rewards / wall:.1f}%)", flush=True)


config = GRPOConfig(
    output_dir="/tmp/rfactory-gpu-rl", max_steps=steps, per_device_train_batch_size=16, gradient_accumulation_steps=8,
    num_generations=8, max_completion_length=max_len, temperature=1.0, learning_rate=1e-6, beta=0.0,
    use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.4, bf16=True, gradient_checkpointing=True,
    logging_steps=1, report_to="none", save_strategy="no")
trainer = GRPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), callbacks=[Steps()],
                      reward_funcs=[Timed(math_reward), think_format_reward, soft_overlong_reward(max_len, max_len // 4)])
trainer.train()
for entry in trainer.state.log_history:
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in entry.items()
           if k.startswith(("rewards/", "math_reward/", "reward", "step", "completions/mean_length"))})
EOF
