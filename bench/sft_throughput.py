#!/usr/bin/env python
"""Benchmark: `rfactory train-sft`'s recipe vs TRL's SFTTrainer defaults, same model, same data.

Issue 7 asks for tokens/s per GPU and MFU of both, in one run. No download: the model is a
Qwen2-architecture model built from its config with random weights (Qwen2.5's real shapes and
152k vocabulary; SmolLM2's tokenizer from the embedded GGUF feeds it ids), and the data is
OpenThoughts-format rows of random words whose lengths follow a log-normal like real reasoning
traces (median ~1.5k tokens, a long tail past 8k).

  * rfactory: the library path `train-sft` runs (prepare → build_trainer): the data tokenized
    once with assistant-only masks, examples over max_length dropped and counted, BFD packing
    into max_length sequences without cross-example attention (padding-free), flash attention
    where installed, Liger's fused loss where installed, gradient checkpointing.
  * TRL defaults: `SFTTrainer` with `SFTConfig()`'s own values (batch 8 per GPU padded to its
    longest example, max_length 1024 with truncation, no packing, gradient checkpointing on),
    given the same rows as `messages`.

Throughput counts real (non-padding) tokens after each side's truncation, over the timed steps
(the first `--warmup` steps are not timed). MFU = model FLOPs / (time × peak): per token
6·(non-embedding params + LM head) plus causal attention 6·layers·hidden·n for a token at
depth n, summed exactly over each side's sequences; gradient-checkpointing recompute is not
counted, by the definition of MFU.

Run:   .venv/bin/python bench/sft_throughput.py                  # CPU: a tiny Qwen2, a few steps
       bench/gpu_sft.sh                                          # a GPU: Qwen2.5-1.5B shape
Exits 0 whatever the numbers; 1 only if it could not run.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from pathlib import Path

# Qwen2.5 shapes from their published config.json files.
SHAPES = {
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "tie_word_embeddings": True, "vocab_size": 49152},
    "qwen2.5-0.5b": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
                     "num_key_value_heads": 2, "tie_word_embeddings": True, "vocab_size": 151936},
    "qwen2.5-1.5b": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
                     "num_key_value_heads": 2, "tie_word_embeddings": True, "vocab_size": 151936},
    "qwen2.5-7b": {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
                   "num_key_value_heads": 4, "tie_word_embeddings": False, "vocab_size": 152064},
}
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0}


def write_data(folder: Path, tokenizer, n: int, median: int, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    words = [w for w in (tokenizer.decode([i]).strip() for i in range(1000, 20000)) if w.isalpha()]
    system = "Your role as an assistant involves thoroughly exploring questions through a systematic thinking process."
    rows = []
    for i in range(n):
        length = int(min(max(rng.lognormvariate(math.log(median), 0.9), 64), 30_000))
        thought = " ".join(rng.choice(words) for _ in range(length))
        rows.append({"system": system, "conversations": [
            {"from": "user", "value": f"Problem {i}: " + " ".join(rng.choice(words) for _ in range(40))},
            {"from": "assistant", "value": f"<|begin_of_thought|>\n{thought}\n<|end_of_thought|>\n\n<|begin_of_solution|>\n42\n<|end_of_solution|>"},
        ]})
    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "train-00000-of-00001.parquet")


def flops_per_step(config, lengths: list[int]) -> float:
    """Model FLOPs for sequences of these lengths: dense 6·P_active per token + causal attention."""
    h, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    kv = config.num_key_value_heads * (h // config.num_attention_heads)
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * config.intermediate_size
    dense = 6 * (layers * per_layer + vocab * h)
    return sum(dense * n + 6 * layers * h * n * n for n in lengths)


class Meter:
    """Times the steps after warm-up; the collator notes each batch's real and padded tokens and
    every example's length (attention FLOPs depend on it)."""

    def __init__(self, warmup: int):
        from transformers import TrainerCallback

        meter = self
        self.warmup, self.started, self.seconds = warmup, None, 0.0
        self.lengths: list[int] = []
        self.padded = 0

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):  # noqa: ANN001, ANN003
                if state.global_step == meter.warmup and meter.started is None:
                    _sync()
                    meter.started = time.perf_counter()

            def on_train_end(self, args, state, control, **kw):  # noqa: ANN001, ANN003
                _sync()
                meter.seconds = time.perf_counter() - meter.started

        self.callback = Callback()

    def watch(self, trainer) -> None:  # noqa: ANN001
        collate = trainer.data_collator

        def noting(examples):  # noqa: ANN001, ANN202
            batch = collate(examples)
            if self.started is not None:
                for e in examples:
                    self.lengths.extend(e.get("seq_lengths") or [len(e["input_ids"])])
                self.padded += batch["input_ids"].numel()
            return batch

        trainer.data_collator = noting


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run_side(name: str, trainer, config, args, gpus: int) -> dict:
    import torch

    meter = Meter(args.warmup)
    trainer.add_callback(meter.callback)
    meter.watch(trainer)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    tokens = sum(meter.lengths)
    tok_s = tokens / meter.seconds
    flops = flops_per_step(config, meter.lengths) / meter.seconds
    peak = args.peak_tflops * 1e12 if args.peak_tflops else None
    return {
        "side": name, "timed_steps": args.steps - args.warmup, "seconds": round(meter.seconds, 2),
        "tokens": tokens, "tokens_per_s_per_gpu": round(tok_s / gpus, 1),
        "mfu": round(flops / (peak * gpus), 4) if peak else None,
        "real_token_share": round(tokens / max(meter.padded, 1), 3),
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 1024**3, 1) if torch.cuda.is_available() else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--median-words", type=int, default=1000, help="median assistant length in words (~1.5 tokens each)")
    parser.add_argument("--max-length", type=int, default=2048, help="rfactory's packed sequence length")
    parser.add_argument("--micro-batch", type=int, default=1, help="rfactory's packed sequences per forward")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--peak-tflops", type=float, default=None, help="per GPU, bf16 dense (default: known GPUs)")
    args = parser.parse_args()

    import datasets
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    from rfactory.sft.data import load_examples
    from rfactory.sft.prepare import prepare
    from rfactory.sft.recipe import DataSource, load_sft_recipe
    from rfactory.sft.train import build_trainer
    from rfactory.testing.tiny_model import build_model_folder, smollm2_tokenizer

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    cuda = torch.cuda.is_available()
    gpus = 1  # both sides run in this one process, on one device
    if cuda and args.peak_tflops is None:
        name = torch.cuda.get_device_name(0)
        args.peak_tflops = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tokenizer = smollm2_tokenizer()
        shape = dict(SHAPES[args.shape])
        vocab = shape.pop("vocab_size")
        build_model_folder(root / "model", shape=shape | {"max_position_embeddings": 32768}, tokenizer=tokenizer,
                           vocab_size=vocab)
        write_data(root / "data", tokenizer, args.examples, args.median_words, seed=0)
        config = AutoConfig.from_pretrained(root / "model")
        results = []

        recipe = load_sft_recipe("sft/smoke", {
            "model.name": str(root / "model"), "data": [{"source": str(root / "data")}], "output_dir": str(root / "ours"),
            "train.max_steps": args.steps, "train.max_length": args.max_length, "train.packing": True,
            "train.micro_batch": args.micro_batch, "train.global_batch": args.micro_batch,
            "train.gradient_checkpointing": True, "checkpoints.every_steps": 10**9,
        })
        try:
            import liger_kernel  # noqa: F401

            recipe.train.liger_kernel = cuda
        except ImportError:
            pass
        prepared = prepare(recipe)
        trainer = build_trainer(prepared, root / "ours", cuda)
        results.append(run_side("rfactory recipe", trainer, config, args, gpus) | {
            "attention": trainer.model.config._attn_implementation, "liger": recipe.train.liger_kernel,
            "dropped_over_max_length": prepared.plan.overlong["count"]})
        del trainer, prepared
        if cuda:
            torch.cuda.empty_cache()

        examples, _ = load_examples([DataSource(source=str(root / "data"))], seed=0)
        defaults = SFTConfig(output_dir=str(root / "trl"), max_steps=args.steps, report_to="none",
                             save_strategy="no",
                             bf16=cuda, use_cpu=not cuda, disable_tqdm=True)
        model = AutoModelForCausalLM.from_pretrained(root / "model", dtype=torch.float32)
        trainer = SFTTrainer(model=model, args=defaults, train_dataset=examples.select_columns(["messages"]),
                             processing_class=tokenizer)
        trainer.remove_callback(PrinterCallback)
        results.append(run_side("TRL defaults", trainer, config, args, gpus) | {
            "attention": model.config._attn_implementation, "liger": False, "dropped_over_max_length": 0})

    device = torch.cuda.get_device_name(0) if cuda else "CPU"
    print(f"\nSFT throughput on {device}, {args.shape} (random weights), {args.examples} examples, "
          f"{args.steps} steps ({args.warmup} untimed)")
    print(f"{'side':<16} {'tok/s/GPU':>10} {'MFU':>7} {'real tokens':>12} {'peak GB':>8} {'attention':>18}")
    for r in results:
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        share = f"{r['real_token_share']:.0%}"
        peak = f"{r['peak_memory_gb']}" if r["peak_memory_gb"] is not None else "-"
        print(f"{r['side']:<16} {r['tokens_per_s_per_gpu']:>10,.0f} {mfu:>7} {share:>12} {peak:>8} {r['attention']:>18}")
    ratio = results[0]["tokens_per_s_per_gpu"] / results[1]["tokens_per_s_per_gpu"]
    print(f"ratio rfactory / TRL defaults: {ratio:.2f}x tokens/s per GPU")
    print("bench-result: " + json.dumps({"device": device, "shape": args.shape, "ratio": round(ratio, 3), "sides": results}))


if __name__ == "__main__":
    main()
