"""The GRPO policy loss and group-normalised advantages, in plain PyTorch.

Shapes: B completions, T completion tokens (right-padded; `mask` is 1 on real tokens).

    policy_loss(logp, old_logp, ref_logp, advantages, mask, *, eps_low=0.2, eps_high=0.2,
                beta=0.0, agg="seq_mean", max_len=None, ratio="token", return_stats=False)

Per token:  -min(r * A, clip(r, 1 - eps_low, 1 + eps_high) * A) + beta * k3
  r   = pi / pi_old, the importance ratio: per token (`ratio="token"`, GRPO) or one per sequence,
        exp(mean over its tokens of log pi - log pi_old) (`ratio="sequence"`, GSPO);
  k3  = pi_ref / pi - log(pi_ref / pi) - 1, the unbiased, always non-negative KL estimator
        of DeepSeekMath's GRPO.
Aggregation over tokens (`agg`):
  seq_mean    mean over sequences of each sequence's token mean (DeepSeekMath GRPO, GSPO);
  token_mean  sum over all tokens / number of tokens (DAPO's token-level loss);
  constant    sum over all tokens / (B * max_len) (Dr. GRPO: no length normalisation).
"""

from __future__ import annotations

from typing import Literal

import torch

from verifiers.grpo.config import AGGREGATIONS, RATIOS, SCALES

Agg = Literal["seq_mean", "token_mean", "constant"]


def k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || pi_ref): exp(ref - logp) - (ref - logp) - 1 (>= 0)."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1.0


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, agg: str, max_len: int | None = None) -> torch.Tensor:
    """Reduce a (B, T) per-token quantity to a scalar over the masked tokens (see module docstring)."""
    mask = mask.to(per_token.dtype)
    masked = per_token * mask
    if agg == "seq_mean":
        return (masked.sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if agg == "token_mean":
        return masked.sum() / mask.sum().clamp(min=1.0)
    if agg == "constant":
        length = per_token.shape[-1] if max_len is None else max_len
        return masked.sum() / (per_token.shape[0] * length)
    raise ValueError(f"agg must be one of {AGGREGATIONS}, got {agg!r}")


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    beta: float = 0.0,
    agg: Agg = "seq_mean",
    max_len: int | None = None,
    ratio: Literal["token", "sequence"] = "token",
    return_stats: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, float]]:
    """The clipped GRPO surrogate plus beta * k3, aggregated by `agg`; a scalar to minimise.

    logp, old_logp, ref_logp, mask: (B, T); advantages: (B,) or (B, T). `ref_logp` may be None
    when beta is 0. With `return_stats` returns (loss, stats) where stats holds floats: kl (mean
    k3 per token), ratio (mean), clip_low / clip_high (fraction of tokens whose clipped side was
    taken below 1 - eps_low / above 1 + eps_high).
    """
    if logp.shape != old_logp.shape or logp.shape != mask.shape:
        raise ValueError(f"logp {tuple(logp.shape)}, old_logp {tuple(old_logp.shape)} and mask "
                         f"{tuple(mask.shape)} must have the same (B, T) shape")
    if ratio not in RATIOS:
        raise ValueError(f"ratio must be one of {RATIOS}, got {ratio!r}")
    if agg not in AGGREGATIONS:
        raise ValueError(f"agg must be one of {AGGREGATIONS}, got {agg!r}")
    if eps_low < 0 or eps_high < 0:
        raise ValueError(f"eps_low and eps_high must be >= 0, got {eps_low}, {eps_high}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if beta > 0 and ref_logp is None:
        raise ValueError("beta > 0 needs ref_logp (the reference model's log-probs)")
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(-1)
    advantages = advantages.to(logp.dtype)
    fmask = mask.to(logp.dtype)

    log_ratio = logp - old_logp
    if ratio == "sequence":
        # GSPO: one length-normalised ratio per sequence, shared by its tokens (gradient flows through it).
        log_ratio = ((log_ratio * fmask).sum(-1) / fmask.sum(-1).clamp(min=1.0)).unsqueeze(-1)
        log_ratio = log_ratio.expand_as(logp)
    r = torch.exp(log_ratio)
    clipped = torch.clamp(r, 1.0 - eps_low, 1.0 + eps_high)
    unclipped_obj, clipped_obj = r * advantages, clipped * advantages
    per_token = -torch.minimum(unclipped_obj, clipped_obj)
    kl = None
    if beta > 0 or (ref_logp is not None and return_stats):
        kl = k3(logp, ref_logp)
        if beta > 0:
            per_token = per_token + beta * kl
    loss = aggregate(per_token, mask, agg, max_len)
    if not return_stats:
        return loss

    with torch.no_grad():
        n = fmask.sum().clamp(min=1.0)
        took_clip = clipped_obj < unclipped_obj
        stats = {
            "ratio": float((r * fmask).sum() / n),
            "clip_low": float(((took_clip & (r < 1.0 - eps_low)).to(logp.dtype) * fmask).sum() / n),
            "clip_high": float(((took_clip & (r > 1.0 + eps_high)).to(logp.dtype) * fmask).sum() / n),
            "kl": float((kl * fmask).sum() / n) if kl is not None else 0.0,
        }
    return loss, stats


def group_advantages(
    rewards: torch.Tensor, group_size: int, *, scale: Literal["group", "batch", "none"] = "group",
    eps: float = 1e-4,
) -> torch.Tensor:
    """(r - mean of its group) / std, for rewards laid out group after group (N = groups * group_size).

    `scale`: "group" divides by the group's std (DeepSeekMath), "batch" by the whole batch's std,
    "none" does not divide (Dr. GRPO). Stds are population stds, plus `eps`. A NaN reward (a sample
    that could not be scored) takes no part in its group's statistics and gets advantage 0, so it
    never becomes gradient. A group whose rewards are all equal gets advantages 0 (never NaN).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    r = rewards.detach().to(torch.float64).reshape(-1, group_size)
    valid = ~torch.isnan(r)
    count = valid.sum(-1, keepdim=True).clamp(min=1)
    r0 = torch.where(valid, r, torch.zeros_like(r))
    mean = r0.sum(-1, keepdim=True) / count
    centred = torch.where(valid, r - mean, torch.zeros_like(r))
    if scale == "group":
        std = ((centred**2).sum(-1, keepdim=True) / count).sqrt()
        centred = centred / (std + eps)
    elif scale == "batch":
        n = valid.sum().clamp(min=1)
        batch_mean = r0.sum() / n
        std = ((torch.where(valid, r - batch_mean, torch.zeros_like(r)) ** 2).sum() / n).sqrt()
        centred = centred / (std + eps)
    return centred.reshape(rewards.shape).to(torch.float32)
