"""The reference GRPO trainer in plain PyTorch (DeepSeekMath's GRPO, with Dr. GRPO, DAPO and GSPO options).

    from verifiers.grpo import PRESETS, GRPOConfig, GRPOTrainer
    from verifiers.grpo.loss import policy_loss, group_advantages

loss.py: the policy loss and advantages; rollout.py: sampling, scoring, log-probs, held-out evaluation;
trainer.py: the loop, checkpoints, the metrics log and plot; config.py: GRPOConfig and PRESETS.
Importing this package does not import torch; GRPOTrainer (and the rest) load it on first use.
"""

from __future__ import annotations

from typing import Any

from verifiers.grpo.config import PRESETS, GRPOConfig

__all__ = ["PRESETS", "GRPOConfig", "GRPOTrainer", "plot_metrics", "read_metrics", "evaluate", "generate"]


def __getattr__(name: str) -> Any:
    if name in ("GRPOTrainer", "plot_metrics", "read_metrics"):
        from verifiers.grpo import trainer

        return getattr(trainer, name)
    if name in ("evaluate", "generate"):
        from verifiers.grpo import rollout

        return getattr(rollout, name)
    raise AttributeError(f"module 'verifiers.grpo' has no attribute {name!r}")
