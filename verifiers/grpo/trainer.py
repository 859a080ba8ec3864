"""The GRPO loop: rollouts -> rewards -> group advantages -> clipped policy-gradient updates.

    trainer = GRPOTrainer(model, tokenizer, reward, rows, GRPOConfig.from_preset("r1", ...), out_dir="run")
    trainer.train()          # or trainer.step() one rollout batch at a time

`rows` are dicts {"prompt": str, "reference": gold (or "answer"), "task": optional routing key}; `reward`
is any Verifier, normally a CompositeReward from `verifiers.load_reward`. A reward of None (the sample could
not be scored) takes no part in its group's statistics and is masked out of the loss. Dropout is off
throughout, so the ratio is exactly 1 at a batch's first update.

Files in out_dir: metrics.jsonl (one row per step), metrics.png (reward, accuracy, KL, completion length),
checkpoint-<step>/state.pt (model, reference, optimizer, scheduler, data order and RNG states: resuming
reproduces the next step).
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from verifiers.core import Verifier
from verifiers.grpo.config import GRPOConfig
from verifiers.grpo.loss import group_advantages, policy_loss
from verifiers.grpo.rollout import Rollouts, generate, score, token_logprobs


def _mean(xs: Sequence[float | None]) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


class GRPOTrainer:
    def __init__(
        self, model: Any, tokenizer: Any, reward: Verifier, rows: Sequence[dict[str, Any]],
        config: GRPOConfig | None = None, *, out_dir: str | Path | None = None, ref_model: Any = None,
    ) -> None:
        if not rows:
            raise ValueError("GRPOTrainer: no training rows")
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
                raise ValueError(f"GRPOTrainer: row {i} needs a 'prompt' string, got {row!r:.200}")
        self.model, self.tokenizer, self.reward, self.rows = model, tokenizer, reward, list(rows)
        self.config = config or GRPOConfig()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self._py_rng = random.Random(cfg.seed)
        self.ref_model = None
        if cfg.beta > 0:
            self.ref_model = ref_model if ref_model is not None else copy.deepcopy(model)
            self.ref_model.eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay,
            betas=(0.9, 0.99),
        )
        warmup = cfg.warmup_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)
        self.step_count = 0
        self._order: list[int] = []
        self._pos = 0
        self.history: list[dict[str, Any]] = []

    # -- data -------------------------------------------------------------------------------------
    def _next_rows(self, count: int) -> list[dict[str, Any]]:
        out = []
        while len(out) < count:
            if self._pos >= len(self._order):
                self._order = list(range(len(self.rows)))
                self._py_rng.shuffle(self._order)
                self._pos = 0
            out.append(self.rows[self._order[self._pos]])
            self._pos += 1
        return out

    # -- rollouts ---------------------------------------------------------------------------------
    def _rollout_round(self, count: int) -> tuple[Rollouts, torch.Tensor, list[dict], torch.Tensor]:
        cfg, g = self.config, self.config.group_size
        rows = self._next_rows(count)
        ro = generate(self.model, self.tokenizer, [r["prompt"] for r in rows], n=g,
                      max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p)
        values, comps = score(self.reward, rows, ro.texts, g)
        rewards = torch.tensor([float("nan") if v is None else float(v) for v in values])
        raw = rewards.clone()
        if cfg.overlong_buffer > 0:
            # DAPO's soft overlong punishment: a linear penalty over the last buffer tokens before the limit.
            buffer = cfg.overlong_buffer * cfg.max_new_tokens
            length = ro.completion_mask.sum(-1).float()
            over = (length - (cfg.max_new_tokens - buffer)).clamp(min=0) / buffer
            rewards = rewards - cfg.overlong_penalty * over.clamp(max=1.0)
        return ro, rewards, comps, raw

    def _collect(self) -> tuple[Rollouts, torch.Tensor, dict[str, Any]]:
        """One rollout batch; with dynamic sampling, groups whose rewards are all equal are dropped and
        replaced by fresh prompts, for up to max_sampling_rounds rounds."""
        cfg, g = self.config, self.config.group_size
        kept: list[tuple[Rollouts, torch.Tensor]] = []
        all_raw, all_comps, all_lengths, all_trunc = [], [], [], []
        n_groups = dropped = rounds = 0
        while n_groups < cfg.prompts_per_step and rounds < cfg.max_sampling_rounds:
            rounds += 1
            ro, rewards, comps, raw = self._rollout_round(cfg.prompts_per_step - n_groups
                                                          if cfg.dynamic_sampling else cfg.prompts_per_step)
            all_raw.append(raw)
            all_comps += comps
            all_lengths.append(ro.completion_mask.sum(-1).float())
            all_trunc.append(ro.truncated.float())
            if not cfg.dynamic_sampling:
                kept.append((ro, rewards))
                n_groups = cfg.prompts_per_step
                break
            grouped = rewards.reshape(-1, g)
            valid = ~torch.isnan(grouped)  # unscored samples neither make nor break a group's spread
            high = torch.where(valid, grouped, torch.full_like(grouped, -torch.inf)).amax(-1)
            low = torch.where(valid, grouped, torch.full_like(grouped, torch.inf)).amin(-1)
            spread = (valid.sum(-1) >= 2) & (high - low > 1e-6)
            keep_groups = spread.nonzero().flatten().tolist()
            dropped += len(grouped) - len(keep_groups)
            rows = [gi * g + j for gi in keep_groups for j in range(g)]
            if rows:
                kept.append((ro.select(rows), rewards[rows]))
                n_groups += len(keep_groups)
        raw = torch.cat(all_raw)
        stats: dict[str, Any] = {
            "reward": _mean([None if torch.isnan(x) else float(x) for x in raw]),
            "reward_none": float(torch.isnan(raw).float().mean()),
            "completion_len": float(torch.cat(all_lengths).mean()),
            "truncated": float(torch.cat(all_trunc).mean()),
            "sampling_rounds": rounds, "groups_dropped": dropped,
        }
        names = sorted({k for c in all_comps for k in c})
        for name in names:
            stats[f"reward/{name}"] = _mean([c.get(name) for c in all_comps])
        stats["accuracy"] = stats.get(f"reward/{cfg.accuracy_component}", stats["reward"])
        if not kept:
            return None, None, stats
        ro = kept[0][0] if len(kept) == 1 else _concat([k[0] for k in kept], self.tokenizer.pad_token_id)
        rewards = torch.cat([k[1] for k in kept])
        return ro, rewards, stats

    # -- one step ---------------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        """One rollout batch and its updates; returns (and logs) the step's metrics."""
        cfg = self.config
        t0 = time.perf_counter()
        ro, rewards, stats = self._collect()
        t_rollout = time.perf_counter() - t0
        self.step_count += 1
        stats = {"step": self.step_count, **stats}
        if ro is None:  # every group was dropped: nothing to learn from
            stats.update({"loss": None, "kl": None, "seconds": time.perf_counter() - t0, "skipped": True})
            self._log(stats)
            return stats

        advantages = group_advantages(rewards, cfg.group_size, scale=cfg.scale_rewards)
        mask = ro.completion_mask.clone()
        mask[torch.isnan(rewards)] = 0
        if cfg.mask_truncated:
            mask[ro.truncated] = 0
        n = len(rewards)
        n_updates = cfg.updates_per_batch * cfg.minibatches
        micro = cfg.micro_batch_size or n // cfg.minibatches
        with torch.no_grad():
            old_logp = self._logp(self.model, ro, micro) if n_updates > 1 else None
            ref_logp = self._logp(self.ref_model, ro, micro) if self.ref_model is not None else None

        self.model.eval()  # dropout off: the ratio is exactly 1 at the first update
        step_stats: list[dict[str, float]] = []
        losses, grad_norms = [], []
        per_mini = n // cfg.minibatches
        for _ in range(cfg.updates_per_batch):
            for m in range(cfg.minibatches):
                mini = list(range(m * per_mini, (m + 1) * per_mini))
                mini_tokens = mask[mini].sum().clamp(min=1)
                self.optimizer.zero_grad(set_to_none=True)
                total = 0.0
                for start in range(0, per_mini, micro):
                    idx = mini[start: start + micro]
                    part = ro.select(idx)
                    logp = token_logprobs(self.model, part.prompt_ids, part.prompt_mask, part.completion_ids,
                                          part.completion_mask, temperature=cfg.temperature)
                    old = old_logp[idx] if old_logp is not None else logp.detach()
                    loss, st = policy_loss(
                        logp, old, ref_logp[idx] if ref_logp is not None else None, advantages[idx], mask[idx],
                        eps_low=cfg.eps_low, eps_high=cfg.eps_high, beta=cfg.beta, agg=cfg.agg,
                        max_len=cfg.max_new_tokens, ratio=cfg.ratio, return_stats=True,
                    )
                    # weights that make the accumulated gradient that of the whole minibatch
                    weight = (float(mask[idx].sum() / mini_tokens) if cfg.agg == "token_mean"
                              else len(idx) / per_mini)
                    (loss * weight).backward()
                    total += loss.item() * weight
                    step_stats.append(st)
                grad_norms.append(float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)))
                self.optimizer.step()
                losses.append(total)
        self.scheduler.step()
        stats.update({
            "loss": _mean(losses), "grad_norm": _mean(grad_norms), "lr": self.scheduler.get_last_lr()[0],
            **{k: _mean([s[k] for s in step_stats]) for k in ("kl", "ratio", "clip_low", "clip_high")},
            "rollout_seconds": t_rollout, "seconds": time.perf_counter() - t0,
        })
        self._log(stats)
        if cfg.save_every and self.out_dir is not None and self.step_count % cfg.save_every == 0:
            self.save(self.out_dir / f"checkpoint-{self.step_count}")
        return stats

    def _logp(self, model: Any, ro: Rollouts, micro: int) -> torch.Tensor:
        model.eval()
        parts = []
        for start in range(0, len(ro.texts), micro):
            p = ro.select(list(range(start, min(start + micro, len(ro.texts)))))
            parts.append(token_logprobs(model, p.prompt_ids, p.prompt_mask, p.completion_ids, p.completion_mask,
                                        temperature=self.config.temperature))
        return torch.cat(parts)

    def train(self, steps: int | None = None, *, plot: bool = True, callback: Any = None) -> list[dict[str, Any]]:
        """Run until `steps` (default config.steps) steps are done in total; `callback(trainer, stats)` after
        each step. Writes the plot at the end when out_dir is set."""
        target = self.config.steps if steps is None else steps
        while self.step_count < target:
            stats = self.step()
            if callback is not None:
                callback(self, stats)
        if plot and self.out_dir is not None:
            plot_metrics(self.history, self.out_dir / "metrics.png")
        return self.history

    # -- logging and checkpoints ------------------------------------------------------------------
    def _log(self, stats: dict[str, Any]) -> None:
        self.history.append(stats)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(stats) + "\n")

    def save(self, path: str | Path) -> Path:
        """Everything the next step depends on, in path/state.pt."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {
            "step": self.step_count, "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "ref_model": self.ref_model.state_dict() if self.ref_model is not None else None,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "order": self._order, "pos": self._pos, "py_rng": self._py_rng.getstate(),
            "torch_rng": torch.get_rng_state(), "history": self.history,
        }
        torch.save(state, path / "state.pt")
        return path

    def load(self, path: str | Path) -> None:
        """Restore a checkpoint written by save(); metrics.jsonl rows after its step are dropped."""
        file = Path(path) / "state.pt"
        if not file.is_file():
            raise FileNotFoundError(f"no GRPO checkpoint at {file}")
        state = torch.load(file, weights_only=False)
        self.model.load_state_dict(state["model"])
        if self.ref_model is not None and state["ref_model"] is not None:
            self.ref_model.load_state_dict(state["ref_model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step_count, self._order, self._pos = state["step"], state["order"], state["pos"]
        self._py_rng.setstate(state["py_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.history = state["history"]
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "metrics.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps(row) + "\n" for row in self.history)


def _concat(parts: list[Rollouts], pad_id: int) -> Rollouts:
    """Stack rollouts of different prompt/completion widths (prompts padded left, completions right)."""
    p = max(r.prompt_ids.shape[1] for r in parts)
    t = max(r.completion_ids.shape[1] for r in parts)

    def left(x: torch.Tensor, width: int, value: int) -> torch.Tensor:
        return torch.nn.functional.pad(x, (width - x.shape[1], 0), value=value)

    def right(x: torch.Tensor, width: int, value: int) -> torch.Tensor:
        return torch.nn.functional.pad(x, (0, width - x.shape[1]), value=value)

    return Rollouts(
        torch.cat([left(r.prompt_ids, p, pad_id) for r in parts]),
        torch.cat([left(r.prompt_mask, p, 0) for r in parts]),
        torch.cat([right(r.completion_ids, t, pad_id) for r in parts]),
        torch.cat([right(r.completion_mask, t, 0) for r in parts]),
        [x for r in parts for x in r.texts], torch.cat([r.truncated for r in parts]),
    )


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_metrics(history: Sequence[dict[str, Any]] | str | Path, png: str | Path, *, title: str = "GRPO") -> Path:
    """Reward (and its components), accuracy, KL and completion length against step, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(history) if isinstance(history, (str, Path)) else list(history)
    steps = [r["step"] for r in rows]

    def series(key: str) -> list[float]:
        return [float("nan") if r.get(key) is None else r[key] for r in rows]

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    ax = axes[0][0]
    ax.plot(steps, series("reward"), label="reward")
    for key in sorted({k for r in rows for k in r if k.startswith("reward/")}):
        ax.plot(steps, series(key), label=key.split("/", 1)[1], alpha=0.7)
    ax.set_title("reward (train rollouts)")
    ax.legend(fontsize=8)
    for ax, key, name in ((axes[0][1], "accuracy", "accuracy (train rollouts)"), (axes[1][0], "kl", "KL (k3)"),
                          (axes[1][1], "completion_len", "completion length (tokens)")):
        ax.plot(steps, series(key))
        ax.set_title(name)
    for ax in axes.flat:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return png
