"""mini-R1's GRPO stage trained with TRL's GRPOTrainer, rewarded through verifiers.integrations.trl.

    python examples/trl_grpo.py --out runs/trl_grpo [--steps 40]

The same task, tiny model, cold start and GRPO settings as examples/mini_r1.py (G=8, 16 prompts a step,
beta 0.04, lr 1e-4, 48 new tokens); then TRL's GRPOTrainer with
`trl_reward("examples/r1_zero.yaml")` (math accuracy + 0.3 format) as its reward function. Held-out
accuracy (greedy, the same 200 prompts as mini-R1) before and after goes to OUT/metrics.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mini_r1 import REWARD_CONFIG, problems, sft  # noqa: E402

from verifiers import load_reward  # noqa: E402
from verifiers.grpo import evaluate  # noqa: E402
from verifiers.grpo.tiny import char_tokenizer, tiny_llama  # noqa: E402
from verifiers.integrations.trl import trl_reward  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=40, help="GRPO steps")
    p.add_argument("--cold-steps", type=int, default=150)
    p.add_argument("--shortcut-share", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--prompts-per-step", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows = problems(args.seed)
    held, train = rows[:200], rows[200:]
    tok = char_tokenizer([r["prompt"] + r["solution"] for r in rows])
    model = tiny_llama(tok, hidden=64, layers=2, seed=args.seed)
    cold = [(r["prompt"], r["shortcut"] if i % 100 < 100 * args.shortcut_share else r["solution"])
            for i, r in enumerate(train[:2000])]
    sft(model, tok, cold, steps=args.cold_steps, lr=3e-3, seed=args.seed)
    with load_reward(REWARD_CONFIG) as reward:
        before = evaluate(model, tok, reward, held, max_new_tokens=48)["accuracy"]

        config = GRPOConfig(
            output_dir=str(out / "trl"), use_cpu=True, bf16=False, report_to=[], save_strategy="no",
            logging_steps=10, max_steps=args.steps, learning_rate=args.lr, lr_scheduler_type="constant",
            per_device_train_batch_size=args.group_size * args.prompts_per_step, num_generations=args.group_size,
            max_completion_length=48, temperature=1.0, top_k=0, beta=0.04, epsilon=0.2, loss_type="grpo",
            disable_dropout=True, seed=args.seed,
        )
        data = Dataset.from_list([{"prompt": r["prompt"], "reference": r["reference"], "task": r["task"]}
                                  for r in train])
        # TRL builds its reference model from a path: the cold-start model goes through disk
        model.save_pretrained(out / "cold_start")
        tok.save_pretrained(out / "cold_start")
        trainer = GRPOTrainer(model=str(out / "cold_start"), processing_class=tok,
                              reward_funcs=trl_reward(REWARD_CONFIG), args=config, train_dataset=data)
        trainer.train()
        model = trainer.model
        after = evaluate(model, tok, reward, held, max_new_tokens=48)["accuracy"]
    result = {"sft": {"accuracy": before}, "trl_grpo": {"accuracy": after}, "steps": args.steps,
              "seconds": round(time.perf_counter() - t0, 1), "log": trainer.state.log_history}
    (out / "metrics.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"held-out accuracy: cold start {before:.3f} -> TRL GRPO {after:.3f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
