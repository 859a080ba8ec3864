"""mini-R1: DeepSeek-R1's recipe in miniature, from scratch, on a CPU in minutes.

    python examples/mini_r1.py --out runs/mini_r1

The task: sums of five digits 0-4 ("4+4+0+3+2="), 3,125 problems, 200 of them held out and never trained
on. The model: a Llama-architecture transformer of ~0.1M parameters with a character tokenizer, both built
here (nothing downloads). The stages, as in the R1 paper:
  (a) cold start: a short SFT on demonstrations from a sloppy teacher: half of them work the sum out
      (<think>4+4=8 8+0=8 8+3=11 11+2=13</think><answer>13</answer>), half restate it and answer at once
      (<think>4+4+0+3+2</think><answer>13</answer>). The model picks up both habits and is weak;
  (b) reasoning RL: GRPO (verifiers.grpo, the "deepseekmath" preset at G=8) with the R1-Zero reward,
      examples/r1_zero.yaml (math accuracy + 0.3 format) through verifiers.load_reward. Rewarded on
      outcomes only, the policy learns which habit gets sums right for it; the language reward does not
      apply to a task written in digits;
  (c) rejection sampling: completions of the GRPO model on training prompts, kept by
      `verifiers filter --min-reward 1.3 --best-of-group` (correct, well formatted, one per prompt), and a
      second SFT on them (R1's stage 3 fine-tunes the base model: here the same architecture from its
      random initialisation);
  (d) distillation: the same data into a smaller student trained from scratch.
Held-out accuracy (greedy) after each stage, and pass@1 against maj@k of the GRPO model's sampled
completions, go to OUT/metrics.json; the curves to OUT/mini_r1.png and OUT/grpo_train.png.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from verifiers import load_reward
from verifiers.grpo import GRPOConfig, GRPOTrainer, evaluate, generate, plot_metrics
from verifiers.grpo.tiny import char_tokenizer, tiny_llama

HERE = Path(__file__).resolve().parent
REWARD_CONFIG = HERE / "r1_zero.yaml"


# ---------------------------------------------------------------------------------------------- the task
def problems(seed: int, *, terms: int = 5, digits: int = 5) -> list[dict[str, Any]]:
    """Every sum of `terms` digits below `digits`, shuffled, with two demonstrations: the worked solution
    (a running total, one addition at a time) and a shortcut that restates the sum and answers at once."""
    rows = []
    for values in itertools.product(range(digits), repeat=terms):
        expr = "+".join(map(str, values))
        steps, total = [], values[0]
        for v in values[1:]:
            steps.append(f"{total}+{v}={total + v}")
            total += v
        rows.append({
            "prompt": f"{expr}=", "reference": str(total), "task": "math",
            "solution": f"<think>{' '.join(steps)}</think><answer>{total}</answer>",
            "shortcut": f"<think>{expr}</think><answer>{total}</answer>",
        })
    random.Random(seed).shuffle(rows)
    return rows


# ------------------------------------------------------------------------------------------------- SFT
def sft(model: Any, tok: Any, pairs: list[tuple[str, str]], *, steps: int, lr: float, batch: int = 32,
        seed: int = 0) -> list[float]:
    """Supervised fine-tuning on (prompt, completion) pairs: cross-entropy on the completion and EOS only."""
    gen = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * max(0.1, 1 - s / steps))
    model.train()
    losses = []
    for _ in range(steps):
        chunk = gen.sample(pairs, min(batch, len(pairs)))
        ids, labels = [], []
        for prompt, completion in chunk:
            p = tok(prompt, add_special_tokens=False)["input_ids"]
            c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            ids.append(p + c)
            labels.append([-100] * len(p) + c)
        width = max(len(x) for x in ids)
        input_ids = torch.tensor([x + [tok.pad_token_id] * (width - len(x)) for x in ids])
        label_t = torch.tensor([y + [-100] * (width - len(y)) for y in labels])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
        loss = model(input_ids=input_ids, attention_mask=mask, labels=label_t).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return losses


# ------------------------------------------------------------------------------------------ the stages
def held_out_eval(model: Any, tok: Any, reward: Any, rows: list[dict[str, Any]], args: argparse.Namespace,
                  *, k: int = 1) -> dict[str, Any]:
    if k == 1:
        return evaluate(model, tok, reward, rows, greedy=True, max_new_tokens=args.max_new_tokens)
    return evaluate(model, tok, reward, rows, k=k, greedy=False, max_new_tokens=args.max_new_tokens, seed=args.seed)


def rejection_sample(model: Any, tok: Any, rows: list[dict[str, Any]], out: Path, args: argparse.Namespace) -> Path:
    """Sample completions of the training prompts and keep the correct, well-formatted ones with
    `verifiers filter` (the public CLI), one per prompt."""
    raw = out / "rollouts.jsonl"
    torch.manual_seed(args.seed + 1)
    with raw.open("w", encoding="utf-8") as f:
        for start in range(0, len(rows), 64):
            chunk = rows[start: start + 64]
            ro = generate(model, tok, [r["prompt"] for r in chunk], n=args.rs_samples,
                          max_new_tokens=args.max_new_tokens, temperature=1.0)
            for i, text in enumerate(ro.texts):
                row = chunk[i // args.rs_samples]
                f.write(json.dumps({"prompt": row["prompt"], "completion": text, "reference": row["reference"],
                                    "task": "math"}) + "\n")
    kept = out / "rejection_sft.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    subprocess.run(
        [sys.executable, "-m", "verifiers", "filter", str(raw), "--config", str(REWARD_CONFIG), "--output",
         str(kept), "--min-reward", "1.3", "--best-of-group"],
        check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return kept


def plot_stages(metrics: dict[str, Any], curve: list[tuple[int, float]], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps, accs = zip(*curve, strict=True)
    left.plot(steps, [100 * a for a in accs], marker="o")
    left.set_xlabel("GRPO step")
    left.set_ylabel("held-out accuracy (%, greedy)")
    left.set_title("GRPO: held-out accuracy")
    left.grid(alpha=0.3)
    names = [n for n, st in metrics["stages"].items() if st.get("accuracy") is not None]
    values = [100 * metrics["stages"][n]["accuracy"] for n in names]
    right.bar(names, values, color=["#999", "#1f77b4", "#2ca02c", "#ff7f0e"][: len(names)])
    for i, v in enumerate(values):
        right.text(i, v + 1, f"{v:.1f}", ha="center")
    right.set_ylabel("held-out accuracy (%, greedy)")
    right.set_title("mini-R1 stages")
    right.set_ylim(0, 105)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output folder: metrics.json, *.png, the GRPO log and data")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--held-out", type=int, default=200, help="held-out prompts")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--cold-start", type=int, default=2000, help="cold-start SFT examples")
    p.add_argument("--shortcut-share", type=float, default=0.5,
                   help="share of cold-start demonstrations that answer without working")
    p.add_argument("--cold-steps", type=int, default=150, help="cold-start SFT steps (kept short: a weak start)")
    p.add_argument("--grpo-steps", type=int, default=40)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--prompts-per-step", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4, help="GRPO learning rate")
    p.add_argument("--eval-every", type=int, default=5, help="GRPO steps between held-out evaluations")
    p.add_argument("--rs-prompts", type=int, default=2000, help="training prompts for rejection sampling")
    p.add_argument("--rs-samples", type=int, default=4, help="samples per prompt for rejection sampling")
    p.add_argument("--sft-steps", type=int, default=600, help="stage-3 and distillation SFT steps")
    p.add_argument("--student-hidden", type=int, default=32)
    p.add_argument("--k", type=int, default=8, help="k for pass@1 / maj@k")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--skip-distill", action="store_true")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    rows = problems(args.seed)
    held, train = rows[: args.held_out], rows[args.held_out:]
    tok = char_tokenizer([r["prompt"] + r["solution"] for r in rows])
    reward = load_reward(REWARD_CONFIG)
    metrics: dict[str, Any] = {"stages": {}, "task": "sums of five digits 0-4", "held_out_prompts": len(held),
                               "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    seconds: dict[str, float] = {}

    def stage(name: str, model: Any, t0: float) -> None:
        result = held_out_eval(model, tok, reward, held, args)
        seconds[name] = round(time.perf_counter() - t0, 1)
        metrics["stages"][name] = {"accuracy": result["accuracy"], "format": result["format"],
                                   "params": sum(p.numel() for p in model.parameters()), "seconds": seconds[name],
                                   "example": result["examples"][0]}
        print(f"[{time.perf_counter() - t_start:6.0f}s] {name:14s} held-out accuracy {result['accuracy']:.3f}  "
              f"format {result['format']:.3f}", file=sys.stderr, flush=True)

    # (a) cold start: a short SFT on formatted solutions
    t0 = time.perf_counter()
    model = tiny_llama(tok, hidden=args.hidden, layers=args.layers, seed=args.seed)
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    # a sloppy teacher: a share of the demonstrations answer at once, without working
    cold = [(r["prompt"], r["shortcut"] if i % 100 < 100 * args.shortcut_share else r["solution"])
            for i, r in enumerate(train[: args.cold_start])]
    sft(model, tok, cold, steps=args.cold_steps, lr=3e-3, seed=args.seed)
    stage("sft", model, t0)

    # (b) GRPO with the composite R1-Zero reward, held-out accuracy every eval_every steps
    t0 = time.perf_counter()
    config = GRPOConfig.from_preset(
        "deepseekmath", group_size=args.group_size, prompts_per_step=args.prompts_per_step, lr=args.lr,
        max_new_tokens=args.max_new_tokens, steps=args.grpo_steps, seed=args.seed,
    )
    grpo_rows = [{k: r[k] for k in ("prompt", "reference", "task")} for r in train]
    curve = [(0, metrics["stages"]["sft"]["accuracy"])]

    def every(trainer: GRPOTrainer, stats: dict[str, Any]) -> None:
        if stats["step"] % args.eval_every == 0 or stats["step"] == args.grpo_steps:
            curve.append((stats["step"], held_out_eval(trainer.model, tok, reward, held, args)["accuracy"]))
            print(f"[{time.perf_counter() - t_start:6.0f}s] GRPO step {stats['step']:4d}  train reward "
                  f"{stats['reward']:.3f}  held-out accuracy {curve[-1][1]:.3f}", file=sys.stderr, flush=True)

    trainer = GRPOTrainer(model, tok, reward, grpo_rows, config, out_dir=out / "grpo")
    trainer.train(callback=every)
    plot_metrics(trainer.history, out / "grpo_train.png", title="mini-R1 GRPO (training rollouts)")
    stage("grpo", model, t0)
    sampled = held_out_eval(model, tok, reward, held, args, k=args.k)
    metrics["pass@1"] = sampled["pass@1"]
    metrics["maj@k"] = sampled[f"maj@{args.k}"]
    metrics[f"pass@{args.k}"] = sampled[f"pass@{args.k}"]
    metrics["k"] = args.k
    metrics["grpo_curve"] = [{"step": s, "accuracy": a} for s, a in curve]
    grpo_state = {k: v.clone() for k, v in model.state_dict().items()}

    # (c) rejection sampling with `verifiers filter`, then SFT of the base model on what was kept
    t0 = time.perf_counter()
    kept_file = rejection_sample(model, tok, train[: args.rs_prompts], out, args)
    kept = [json.loads(line) for line in kept_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    metrics["rejection_sampling"] = {"prompts": min(args.rs_prompts, len(train)), "samples": args.rs_samples,
                                     "kept": len(kept)}
    pairs = [(r["prompt"], r["completion"]) for r in kept]
    if pairs:
        model.load_state_dict(base_state)
        sft(model, tok, pairs, steps=args.sft_steps, lr=3e-3, seed=args.seed)
        stage("rejection_sft", model, t0)
    else:
        metrics["stages"]["rejection_sft"] = {"accuracy": None, "skipped": "no sampled completion passed the filter"}

    # (d) distillation of the same data into a smaller student, from scratch
    if pairs and not args.skip_distill:
        t0 = time.perf_counter()
        student = tiny_llama(tok, hidden=args.student_hidden, layers=args.layers, heads=4, seed=args.seed)
        sft(student, tok, pairs, steps=args.sft_steps, lr=3e-3, seed=args.seed)
        stage("distill", student, t0)

    model.load_state_dict(grpo_state)
    metrics["grpo_gain_points"] = round(100 * (metrics["stages"]["grpo"]["accuracy"]
                                               - metrics["stages"]["sft"]["accuracy"]), 1)
    metrics["seconds"] = round(time.perf_counter() - t_start, 1)
    metrics["threads"] = args.threads
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    plot_stages(metrics, curve, out / "mini_r1.png")
    reward.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
