"""Rollouts for GRPO: sample completions with `model.generate`, score them, and compute per-token log-probs.

Works with any Hugging Face causal LM and its tokenizer. Prompts are left-padded; a completion ends at
(and includes) the first EOS token, or is truncated at max_new_tokens. Position ids are computed from the
attention mask both when sampling and when scoring, so a left-padded prompt gives the same log-probs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from verifiers.core import Sample, Verifier


@dataclass
class Rollouts:
    """A batch of completions, prompt after prompt (n consecutive rows per prompt).

    prompt_ids, prompt_mask: (N, P) left-padded; completion_ids, completion_mask: (N, T), mask 1 up to and
    including EOS; texts: the decoded completions (without EOS); truncated: (N,) bool, no EOS was produced.
    """

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    texts: list[str]
    truncated: torch.Tensor

    def select(self, rows: torch.Tensor | list[int]) -> Rollouts:
        rows = torch.as_tensor(rows, dtype=torch.long)
        return Rollouts(self.prompt_ids[rows], self.prompt_mask[rows], self.completion_ids[rows],
                        self.completion_mask[rows], [self.texts[i] for i in rows.tolist()], self.truncated[rows])


def _token_id(tokenizer: Any, name: str) -> int:
    value = getattr(tokenizer, name, None)
    if value is None:
        raise ValueError(f"the tokenizer has no {name}; set one (e.g. tokenizer.pad_token = tokenizer.eos_token)")
    return int(value)


@torch.no_grad()
def generate(
    model: Any, tokenizer: Any, prompts: Sequence[str], *, n: int = 1, max_new_tokens: int = 256,
    temperature: float = 1.0, top_p: float = 1.0, greedy: bool = False,
) -> Rollouts:
    """n completions per prompt (rows prompt after prompt): sampled from the full distribution at
    `temperature` (no top-k; top-p when < 1), or greedy."""
    pad_id, eos_id = _token_id(tokenizer, "pad_token_id"), _token_id(tokenizer, "eos_token_id")
    enc = tokenizer(list(prompts), return_tensors="pt", padding=True, padding_side="left")
    prompt_ids = enc["input_ids"].repeat_interleave(n, dim=0)
    prompt_mask = enc["attention_mask"].repeat_interleave(n, dim=0)
    was_training = model.training
    model.eval()
    sampling = ({"do_sample": False} if greedy
                else {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0})
    out = model.generate(
        input_ids=prompt_ids, attention_mask=prompt_mask, max_new_tokens=max_new_tokens,
        pad_token_id=pad_id, eos_token_id=eos_id, **sampling,
    )
    model.train(was_training)
    completion_ids = out[:, prompt_ids.shape[1]:]
    is_eos = completion_ids == eos_id
    has_eos = is_eos.any(-1)
    length = torch.where(has_eos, is_eos.int().argmax(-1) + 1, torch.full_like(has_eos, completion_ids.shape[1],
                                                                                dtype=torch.long))
    positions = torch.arange(completion_ids.shape[1]).unsqueeze(0)
    completion_mask = (positions < length.unsqueeze(-1)).long()
    completion_ids = torch.where(completion_mask.bool(), completion_ids, torch.full_like(completion_ids, pad_id))
    texts = [
        tokenizer.decode(ids[: int(k) - int(e)], skip_special_tokens=True)
        for ids, k, e in zip(completion_ids.tolist(), length, has_eos, strict=True)
    ]
    return Rollouts(prompt_ids, prompt_mask, completion_ids, completion_mask, texts, ~has_eos)


def token_logprobs(
    model: Any, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, completion_ids: torch.Tensor,
    completion_mask: torch.Tensor, *, temperature: float = 1.0,
) -> torch.Tensor:
    """(N, T) log-probs of the completion tokens under `model` at `temperature` (with gradient when enabled)."""
    input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
    attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
    logits = logits[:, prompt_ids.shape[1] - 1: -1].float() / temperature
    picked = logits.gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def score(
    reward: Verifier, rows: Sequence[dict[str, Any]], texts: Sequence[str], n: int,
) -> tuple[list[float | None], list[dict[str, float | None]]]:
    """Reward values (None where the reward could not score) and per-component values for n completions
    per row; a row is {"prompt", "reference" (or "answer"), "task"?}."""
    samples = []
    for i, text in enumerate(texts):
        row = rows[i // n]
        samples.append(Sample(text, prompt=row.get("prompt"), reference=row.get("reference", row.get("answer")),
                              task=row.get("task")))
    scores = reward.score_batch(samples)
    values = [s.value for s in scores]
    components = [dict(s.components) for s in scores]
    return values, components


def evaluate(
    model: Any, tokenizer: Any, reward: Verifier, rows: Sequence[dict[str, Any]], *, k: int = 1,
    greedy: bool = True, max_new_tokens: int = 256, temperature: float = 1.0, batch_size: int = 64,
    accuracy_component: str = "accuracy", seed: int | None = 0,
) -> dict[str, Any]:
    """Held-out metrics: accuracy (mean `accuracy_component`, or mean reward when absent), reward, format
    and length means over all completions; with k > 1 sampled completions also pass@1 (the mean accuracy),
    pass@k and maj@k (verifiers.evaluate: majority vote over the extracted answers) over each prompt's k.
    A fixed `seed` makes sampled evaluations repeatable (the global torch RNG is restored afterwards)."""
    from verifiers.math import extract_answer

    state = torch.get_rng_state()
    if seed is not None:
        torch.manual_seed(seed)
    values, comps, texts = [], [], []
    try:
        per_batch = max(1, batch_size // k)
        for start in range(0, len(rows), per_batch):
            chunk = rows[start: start + per_batch]
            ro = generate(model, tokenizer, [r["prompt"] for r in chunk], n=k, max_new_tokens=max_new_tokens,
                          temperature=temperature, greedy=greedy)
            v, c = score(reward, chunk, ro.texts, k)
            values += v
            comps += c
            texts += ro.texts
    finally:
        torch.set_rng_state(state)

    def mean(xs: list) -> float | None:
        xs = [x for x in xs if x is not None]
        return sum(xs) / len(xs) if xs else None

    correct = [c.get(accuracy_component, v) for c, v in zip(comps, values, strict=True)]
    result: dict[str, Any] = {
        "n_prompts": len(rows), "k": k, "accuracy": mean(correct), "reward": mean(values),
        "format": mean([c.get("format") for c in comps]),
        "completion_chars": mean([len(t) for t in texts]),
    }
    if k > 1:
        from verifiers.evaluate import evaluate_group

        groups = [
            evaluate_group(str(i), [extract_answer(t) for t in texts[i * k: (i + 1) * k]],
                           [(x or 0) >= 1 for x in correct[i * k: (i + 1) * k]], [1, k])
            for i in range(len(rows))
        ]
        result["pass@1"] = mean([g.pass_at[1] for g in groups])
        result[f"pass@{k}"] = mean([g.pass_at[k] for g in groups])
        result[f"maj@{k}"] = mean([g.maj_at[k] for g in groups])
    result["examples"] = texts[: min(4, len(texts))]
    return result
