#!/usr/bin/env bash
# On a machine with a GPU and rfactory installed with `pip install -e ".[dev]"` (or ".[sft]",
# plus flash-attn and liger-kernel if you want them measured): rfactory's train-sft recipe vs
# TRL's SFTTrainer defaults on the same data, a Qwen2.5-1.5B-shaped model built from its config
# (random weights, no download). Prints one table: tokens/s per GPU, MFU, real-token share,
# peak memory, and the ratio.
#   bench/gpu_sft.sh                          # Qwen2.5-1.5B shape, 16k packed sequences
#   bench/gpu_sft.sh --shape qwen2.5-7b       # more flags: bench/sft_throughput.py --help
set -euo pipefail
exec "${PYTHON:-python}" "$(dirname "$0")/sft_throughput.py" --shape qwen2.5-1.5b --examples 512 \
    --median-words 1500 --max-length 16384 --micro-batch 1 --steps 30 --warmup 5 "$@"
