#!/usr/bin/env bash
# On a machine with a GPU and vLLM installed (`pip install -e ".[vllm]"`): rfactory eval of a
# distilled 1.5B model on AIME 2024 x 16 samples and MATH-500 x 4, the anchors' settings
# (temperature 0.6, top_p 0.95, 32,768 new tokens), then the figures it should land near.
#   bench/gpu_eval.sh                                      # deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B
#   bench/gpu_eval.sh /models/R1-Distill-Qwen-1.5B evals/r1-1.5b
# Needs the model and both benchmarks reachable (the Hub, or its cache with HF_HUB_OFFLINE=1 after
# a first run). Published (open-r1's lighteval runs; DeepSeek's own in brackets):
#   AIME24 30.7 (28.9), MATH-500 83.1 (83.9). AIME at n = 16 still moves by ~3 points between
#   seeds; the results say by how much.
set -euo pipefail
model=${1:-deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B}
out=${2:-evals/r1-distill-1.5b}
rf=(${RFACTORY:-rfactory})
common=(--model "vllm:$model" --dtype bfloat16 --max-model-len 34816 --option gpu_memory_utilization=0.9)
"${rf[@]}" eval "${common[@]}" --bench aime2024 -n 16 --out "$out/aime2024" --select majority --select verifier
"${rf[@]}" eval "${common[@]}" --bench math500 -n 4 --out "$out/math500"
"${PYTHON:-python}" - "$out" <<'PY'
import json, sys
anchors = {"aime2024": (30.7, 28.9), "math500": (83.1, 83.9)}
for name, (lighteval, deepseek) in anchors.items():
    r = json.load(open(f"{sys.argv[1]}/{name}/results.json"))["benchmarks"][0]
    a = r["scores"]["avg_at_n"]
    print(f"{name}: avg@{r['samples']} {100 * a['mean']:.1f} (95% {100 * a['low']:.1f}-{100 * a['high']:.1f}), "
          f"published {lighteval} ({deepseek}); truncated {r['outcomes']['truncated']}, hash {r['content_hash']}")
PY
