"""GRPOConfig (every knob of the reference trainer) and PRESETS (the published recipes). No torch here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

AGGREGATIONS = ("seq_mean", "token_mean", "constant")
RATIOS = ("token", "sequence")
SCALES = ("group", "batch", "none")


@dataclass
class GRPOConfig:
    """Settings of one GRPO run; `GRPOConfig.from_preset("dapo", lr=1e-5)` starts from a recipe.

    One *step* = one rollout batch (prompts_per_step prompts x group_size completions), then
    updates_per_batch passes over it (mu in DeepSeekMath), each split into `minibatches` optimizer
    steps, each accumulated over micro-batches of micro_batch_size completions (0: one micro-batch).
    """

    # rollouts
    group_size: int = 8
    prompts_per_step: int = 8
    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    # optimisation
    steps: int = 100
    lr: float = 1e-6
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    warmup_steps: int = 0
    updates_per_batch: int = 1
    minibatches: int = 1
    micro_batch_size: int = 0
    # the loss
    beta: float = 0.04
    eps_low: float = 0.2
    eps_high: float = 0.2
    agg: str = "seq_mean"
    scale_rewards: str = "group"
    ratio: str = "token"
    # DAPO's sampling and shaping
    dynamic_sampling: bool = False
    max_sampling_rounds: int = 4
    overlong_buffer: float = 0.0
    overlong_penalty: float = 1.0
    mask_truncated: bool = False
    # bookkeeping
    seed: int = 0
    save_every: int = 0
    accuracy_component: str = "accuracy"

    def __post_init__(self) -> None:
        positive = ("group_size", "prompts_per_step", "max_new_tokens", "updates_per_batch", "minibatches",
                    "max_sampling_rounds")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GRPOConfig.{name}: must be a positive integer, got {value!r}")
        for name in ("steps", "warmup_steps", "micro_batch_size", "save_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"GRPOConfig.{name}: must be an integer >= 0, got {value!r}")
        for name in ("lr", "weight_decay", "max_grad_norm", "beta", "eps_low", "eps_high", "overlong_penalty"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise ValueError(f"GRPOConfig.{name}: must be a number >= 0, got {value!r}")
        if not isinstance(self.temperature, (int, float)) or not self.temperature > 0:
            raise ValueError(f"GRPOConfig.temperature: must be > 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"GRPOConfig.top_p: must be in (0, 1], got {self.top_p!r}")
        if not 0 <= self.overlong_buffer < 1:
            raise ValueError(f"GRPOConfig.overlong_buffer: a fraction of max_new_tokens in [0, 1), "
                             f"got {self.overlong_buffer!r}")
        choices = {"agg": AGGREGATIONS, "scale_rewards": SCALES, "ratio": RATIOS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"GRPOConfig.{name}: must be one of {allowed}, got {getattr(self, name)!r}")
        n = self.group_size * self.prompts_per_step
        if n % self.minibatches:
            raise ValueError(f"GRPOConfig.minibatches: {self.minibatches} does not divide the {n} completions "
                             f"of a step")

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> GRPOConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown GRPO preset {name!r}; known: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# The published recipes, as overrides of GRPOConfig's defaults. Sizes (G, lr) are the papers';
# a small run overrides them.
PRESETS: dict[str, dict[str, Any]] = {
    # DeepSeekMath (Shao et al. 2024): G=64, beta=0.04, eps=0.2, per-sequence token means, group std.
    "deepseekmath": {"group_size": 64, "lr": 1e-6, "beta": 0.04, "eps_low": 0.2, "eps_high": 0.2,
                     "agg": "seq_mean", "scale_rewards": "group", "ratio": "token"},
    # DeepSeek-R1 (2025): the same loss with G=16 and beta=0.001.
    "r1": {"group_size": 16, "lr": 3e-6, "beta": 0.001, "eps_low": 0.2, "eps_high": 0.2,
           "agg": "seq_mean", "scale_rewards": "group", "ratio": "token"},
    # Dr. GRPO (Liu et al. 2025): no std scaling, a constant normaliser instead of length means, no KL.
    "dr_grpo": {"beta": 0.0, "agg": "constant", "scale_rewards": "none", "ratio": "token"},
    # DAPO (Yu et al. 2025): clip-higher, token-level loss, dynamic sampling, overlong shaping, no KL.
    "dapo": {"beta": 0.0, "eps_low": 0.2, "eps_high": 0.28, "agg": "token_mean", "scale_rewards": "group",
             "ratio": "token", "dynamic_sampling": True, "overlong_buffer": 0.2, "overlong_penalty": 1.0},
    # GSPO (Zheng et al. 2025): one length-normalised ratio per sequence, tiny clip range, no KL.
    "gspo": {"beta": 0.0, "eps_low": 3e-4, "eps_high": 4e-4, "agg": "seq_mean", "scale_rewards": "group",
             "ratio": "sequence"},
}
