#!/usr/bin/env bash
# On a machine with a GPU and vLLM installed (`pip install -e ".[vllm]"`): rfactory's vLLM teacher
# vs one direct `LLM.chat` call, same prompts and engine settings, with a real model. Prints one
# table and the verdict (target: rfactory >= 0.95x the direct generated tokens/s).
#   bench/gpu_vllm.sh /models/Qwen2.5-7B-Instruct            # a local folder (or a Hub id in the cache)
set -euo pipefail
model=${1:?usage: bench/gpu_vllm.sh MODEL_FOLDER_OR_HUB_ID [more vllm_throughput.py flags]}
shift
exec "${PYTHON:-python}" "$(dirname "$0")/vllm_throughput.py" --gpu --model "$model" --dtype auto \
    --problems 512 --samples 4 --max-tokens 2048 --max-model-len 4096 --rounds 2 "$@"
