"""Seconds per GRPO step: our reference trainer (verifiers.grpo) beside TRL's GRPOTrainer, in one run.

    python benchmarks/bench_grpo.py [--steps 6] [--threads 2]

Same tiny model (the mini-R1 Llama, random weights, same seed), same data (mini-R1's arithmetic
prompts), same reward (examples/r1_zero.yaml through verifiers.load_reward; TRL gets it through
verifiers.integrations.trl.trl_reward) and the same settings: 16 prompts x G=8 completions per step,
48 new tokens, temperature 1, no top-k, beta 0.04 with a frozen reference model, the per-sequence mean
loss ("grpo"), one optimizer step per rollout batch. Run in the order ours, TRL, TRL, ours; the first
step of each run is warm-up and not counted; the table gives the median of the rest, in wall-clock seconds and in CPU seconds of the trainer's own
process (less sensitive to other jobs on a shared machine; the math workers are outside it for both). Prints a markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

from mini_r1 import REWARD_CONFIG, problems  # noqa: E402

from verifiers import load_reward  # noqa: E402
from verifiers.grpo import GRPOConfig, GRPOTrainer  # noqa: E402
from verifiers.grpo.tiny import char_tokenizer, tiny_llama  # noqa: E402

G, PROMPTS, NEW_TOKENS, BETA, LR = 8, 16, 48, 0.04, 1e-4


def ours(tok, rows, steps: int) -> list[tuple[float, float]]:
    model = tiny_llama(tok, hidden=64, layers=2, seed=0)
    config = GRPOConfig(group_size=G, prompts_per_step=PROMPTS, max_new_tokens=NEW_TOKENS, beta=BETA, lr=LR,
                        steps=steps, agg="seq_mean", temperature=1.0)
    with load_reward(REWARD_CONFIG) as reward:
        trainer = GRPOTrainer(model, tok, reward, rows, config)
        out = []
        for _ in range(steps):
            wall, cpu = time.perf_counter(), time.process_time()
            trainer.step()
            out.append((time.perf_counter() - wall, time.process_time() - cpu))
        return out


def trl(tok, rows, steps: int) -> list[tuple[float, float]]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer as TRLTrainer

    from verifiers.integrations.trl import trl_reward

    stamps: list[tuple[float, float]] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if not stamps:
                stamps.append((time.perf_counter(), time.process_time()))

        def on_step_end(self, args, state, control, **kw):
            stamps.append((time.perf_counter(), time.process_time()))

    with tempfile.TemporaryDirectory() as out:
        # TRL builds its reference model from a path, so the same initial weights go through disk
        tiny_llama(tok, hidden=64, layers=2, seed=0).save_pretrained(f"{out}/model")
        tok.save_pretrained(f"{out}/model")
        args = TRLConfig(
            output_dir=out, use_cpu=True, bf16=False, report_to=[], save_strategy="no", logging_steps=1,
            max_steps=steps, learning_rate=LR, lr_scheduler_type="constant", per_device_train_batch_size=G * PROMPTS, num_generations=G,
            gradient_accumulation_steps=1, steps_per_generation=1, num_iterations=1, max_completion_length=NEW_TOKENS,
            temperature=1.0, top_k=0, beta=BETA, epsilon=0.2, loss_type="grpo", scale_rewards="group",
            disable_dropout=True, seed=0, dataloader_num_workers=0,
        )
        data = Dataset.from_list([{"prompt": r["prompt"], "reference": r["reference"], "task": r["task"]}
                                  for r in rows])
        trainer = TRLTrainer(model=f"{out}/model", processing_class=tok, reward_funcs=trl_reward(REWARD_CONFIG), args=args,
                             train_dataset=data, callbacks=[Clock()])
        trainer.train()
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:], strict=False)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=6, help="steps per trainer, the first one not counted")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = [{k: r[k] for k in ("prompt", "reference", "task")} for r in problems(0)[200:]]
    tok = char_tokenizer([r["prompt"] + r["solution"] for r in problems(0)])
    load_before = os.getloadavg()[0]
    # ours, TRL, TRL, ours: a load change during the run hits both alike
    a1 = ours(tok, rows, args.steps)
    b1 = trl(tok, rows, args.steps)
    b2 = trl(tok, rows, args.steps)
    a2 = ours(tok, rows, args.steps)
    load_after = os.getloadavg()[0]
    a, b = a1[1:] + a2[1:], b1[1:] + b2[1:]
    ours_s, trl_s = statistics.median(x[0] for x in a), statistics.median(x[0] for x in b)
    ours_c, trl_c = statistics.median(x[1] for x in a), statistics.median(x[1] for x in b)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{args.threads}, load average {load_before:.1f} -> {load_after:.1f}; torch {torch.__version__}")
    print(f"settings: {PROMPTS} prompts x G={G}, {NEW_TOKENS} new tokens, beta {BETA}; order ours, TRL, TRL, ours, "
          f"{args.steps} steps each, the first of each not timed")
    print("| trainer | wall s/step (median) | ratio to TRL | CPU s/step of the trainer process (median) | ratio |")
    print("|---|---|---|---|---|")
    print(f"| verifiers.grpo | {ours_s:.3f} | {ours_s / trl_s:.2f}x | {ours_c:.3f} | {ours_c / trl_c:.2f}x |")
    print(f"| TRL GRPOTrainer | {trl_s:.3f} | 1.00x | {trl_c:.3f} | 1.00x |")
    for name, runs in (("ours", (a1, a2)), ("TRL", (b1, b2))):
        print(f"raw wall {name}: " + " ... ".join(str([round(x[0], 3) for x in r]) for r in runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
