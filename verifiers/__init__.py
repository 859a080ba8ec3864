"""r1-verifiers: verifiers and reward models for DeepSeek-R1-style RL."""

from verifiers.core import (
    Sample,
    Score,
    Status,
    Verifier,
    available,
    get_verifier,
    register,
)

__all__ = [
    "Sample",
    "Score",
    "Status",
    "Verifier",
    "available",
    "get_verifier",
    "register",
    "CompositeReward",
    "load_reward",
]
__version__ = "0.1.0"


def __getattr__(name: str):  # CompositeReward pulls in YAML; keep `import verifiers` minimal
    if name in ("CompositeReward", "load_reward"):
        from verifiers import composite

        return getattr(composite, name)
    raise AttributeError(f"module 'verifiers' has no attribute {name!r}")
