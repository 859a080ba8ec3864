"""The calls the verifiers make on a backend that renders prompts itself and batches them in this
process (transformers, vLLM offline): render with `self.prompts` (tokens.PromptTokens), refuse an
over-long input with `self.too_long` before it reaches the model, run the rest through
`self.batcher`, keyed so that requests of one kind share a batch. A class using these provides
those three attributes and a `_run_batch(key, rows)` that serves the keys named here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verifiers.judge.batcher import run_keyed
from verifiers.judge.prompts import JudgeRequest


class JudgeCalls:
    """`label_logprobs` and `generate`, as JudgeVerifier calls them; batch keys ("verdict", label
    ids) and ("generate", n, temperature, max_new_tokens)."""

    prompts: Any  # tokens.PromptTokens
    batcher: Any  # batcher.Batcher
    too_long: Any  # (ids) -> Exception | None

    def render(self, request: JudgeRequest) -> list[int]:
        return self.prompts.judge_ids(request)

    def label_ids(self, prefill: str, labels: tuple[str, ...]) -> tuple[str, tuple[tuple[int, ...], ...]]:
        """The pre-fill to end the prompt with and each label's tokens (`PromptTokens.label_ids`)."""
        return self.prompts.label_ids(prefill, labels)

    def label_logprobs(self, requests: Sequence[JudgeRequest], labels: tuple[str, ...]) -> list[Any]:
        """Per request, log p(label) over the whole vocabulary for the token after the pre-fill, or an Exception."""
        rows = self.prompts.verdict_ids(requests, labels)
        return run_keyed(self.batcher, [self.too_long(ids) or (("verdict", lab), ids) for lab, ids in rows])

    def generate(
        self, requests: Sequence[JudgeRequest], *, n: int, temperature: float, max_new_tokens: int
    ) -> list[Any]:
        """Per request, n generated texts (only the new tokens, special tokens dropped), or an Exception."""
        key = ("generate", n, float(temperature), max_new_tokens)
        return run_keyed(self.batcher, [self.too_long(ids) or (key, ids) for ids in map(self.render, requests)])


class RewardModelCalls:
    """`rewards`, as RewardModelVerifier calls it; batch key ("reward",)."""

    prompts: Any  # tokens.PromptTokens
    batcher: Any  # batcher.Batcher
    too_long: Any  # (ids) -> Exception | None

    def render(self, prompt: list[dict[str, str]], completion: str) -> list[int]:
        return self.prompts.conversation_ids(prompt, completion)

    def rewards(self, conversations: Sequence[tuple[list[dict[str, str]], str]]) -> list[Any]:
        """Per (prompt messages, completion), the head's raw outputs at the last token, or an Exception."""
        rows = (self.render(*conversation) for conversation in conversations)
        return run_keyed(self.batcher, [self.too_long(ids) or (("reward",), ids) for ids in rows])
