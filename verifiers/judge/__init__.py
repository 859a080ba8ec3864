"""Model-based rewards: LLM-as-judge and scalar reward models, for R1's general-data stage.

    JudgeVerifier(model, mode="verdict" | "generate", backend="transformers" | "openai" | "vllm", ...)   -> "judge"
    RewardModelVerifier(model, ...)                                                              -> "reward_model"

Modules: prompts.py (what the judge reads, the guardrails, verdict parsing), batcher.py
(cross-call batching), tokens.py (requests as token ids, the model's tokenizer alone),
shared.py (one loaded model per process), local.py (the transformers backend),
remote.py (the OpenAI-compatible HTTP backend), vllm.py (vLLM's offline engine), verifier.py
(the two verifiers). Nothing here imports torch, transformers, httpx or vllm until a backend is built.
"""

from verifiers.judge.prompts import DEFAULT_RUBRIC, parse_verdict
from verifiers.judge.verifier import JudgeVerifier, RewardModelVerifier

__all__ = ["DEFAULT_RUBRIC", "JudgeVerifier", "RewardModelVerifier", "parse_verdict"]
