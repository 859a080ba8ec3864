"""OpenRLHF's remote reward function for any reward config: `--reward.remote_url /path/to/openrlhf.py`.

    VERIFIERS_CONFIG=/abs/path/r1.yaml python -m openrlhf.cli.train_ppo_ray ... \\
        --reward.remote_url $(python -c "import verifiers.integrations.openrlhf as m; print(m.__file__)")

OpenRLHF loads this file with `importlib.util.spec_from_file_location` and calls
`reward_func(queries, prompts, labels)` (one sample per call, in a worker thread). `queries` are
prompt + response decoded with special tokens kept; `prompts` the prompts as rendered by the chat
template; `labels` the dataset's label column (the reference answer, or a test suite as JSON).
It expects `{"rewards": ..., "scores": ..., "extra_logs": {name: ...}}`.

What this does with them:
- the response is the query after its prompt (or after the last assistant-turn marker when the
  decoded prompt does not match exactly), with end-of-turn tokens removed;
- the prompt's last user turn is the prompt the verifiers see (so `language: {target: auto}` reads
  the user's language, not the system prompt's), and a `<think>` the template pre-fills is kept;
- rewards are the composite reward; scores are the reward divided by the total weight of the
  components that applied, clipped to 0..1 (what dynamic filtering compares against its range); extra_logs has one value per component, NaN where the component did not apply.
- None (an outage, an unusable label) becomes NaN by default: never a 0 that would become gradient.
  With `--algo.dynamic_filtering_enable` a group holding a NaN score is dropped (its average is not in range).
  VERIFIERS_ON_NONE=raise raises instead; VERIFIERS_ON_NONE=<number> is your explicit value.
Environment: VERIFIERS_CONFIG (required), VERIFIERS_TASK (a route key for every sample),
VERIFIERS_ON_NONE (nan | raise | a number).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from typing import Any

from verifiers.core import CHAT_TURNS, Completion, Sample, Score, Verifier, strip_end_tokens

ENV_CONFIG, ENV_TASK, ENV_ON_NONE = "VERIFIERS_CONFIG", "VERIFIERS_TASK", "VERIFIERS_ON_NONE"


def _after_last(text: str, markers: Sequence[str]) -> int:
    """The index just after the last of `markers` in text, -1 when none occurs."""
    return max((text.rfind(m) + len(m) if m in text else -1) for m in markers)


def response_of(query: str, prompt: str | None) -> str:
    """The response part of a decoded prompt + response, end-of-turn tokens removed.

    The query is cut after the prompt (usually at its very start; a BOS token the decoder puts back
    moves it). When the decoded prompt differs from the prompt string, the cut is after the last
    assistant-turn marker, and the prompt's own pre-fill after that marker (e.g. "<think>") is not
    counted twice."""
    at = query.find(prompt) if prompt else -1
    if at >= 0:
        return strip_end_tokens(query[at + len(prompt) :])
    assistants = [t[2] for t in CHAT_TURNS]
    cut = _after_last(query, assistants)
    if cut < 0:
        return strip_end_tokens(query)
    response = query[cut:]
    if prompt and (turn := _after_last(prompt, assistants)) >= 0:
        prefill = prompt[turn:].strip()
        if prefill and response.lstrip().startswith(prefill):
            response = response.lstrip()[len(prefill) :]
    return strip_end_tokens(response.removeprefix("\n"))


def prompt_messages(prompt: str | None) -> Completion | None:
    """A rendered prompt as chat messages: its last user turn, and the assistant's pre-filled start
    (e.g. "<think>\\n") when the template leaves one. The prompt itself when no template is recognised."""
    if not prompt:
        return prompt
    for user, end, assistant in CHAT_TURNS:
        start = prompt.rfind(user)
        if start < 0:
            continue
        body = prompt[start + len(user) :]
        stop = body.find(end)
        text = (body if stop < 0 else body[:stop]).strip()
        messages: list[dict[str, Any]] = [{"role": "user", "content": text}]
        turn = prompt.rfind(assistant)
        if turn > start:
            prefill = prompt[turn + len(assistant) :].strip()
            if prefill:
                messages.append({"role": "assistant", "content": prefill})
        return messages
    return prompt


def on_none_policy(value: str | None) -> float | str:
    """VERIFIERS_ON_NONE: "nan" (default), "raise", or a number."""
    if value in (None, "", "nan"):
        return "nan"
    if value == "raise":
        return "raise"
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{ENV_ON_NONE} must be nan, raise or a number, got {value!r}") from None


def _label(label: Any) -> Any:
    return None if label is None or (isinstance(label, float) and math.isnan(label)) else label


def queries_to_samples(
    queries: Sequence[str], prompts: Sequence[str] | None, labels: Sequence[Any] | None, *, task: str | None = None
) -> list[Sample]:
    """OpenRLHF's queries, prompts and labels as Samples; ValueError names a wrong shape."""
    for name, seq in (("queries", queries), ("prompts", prompts), ("labels", labels)):
        if isinstance(seq, (str, bytes)):  # len() would count its characters as samples
            raise ValueError(f"{name} must be a list with one entry per sample, got a single {type(seq).__name__}")
    n = len(queries)
    prompts = list(prompts) if prompts is not None else [None] * n
    labels = list(labels) if labels is not None else [None] * n
    if len(prompts) != n or len(labels) != n:
        raise ValueError(f"got {n} queries, {len(prompts)} prompts and {len(labels)} labels; they must match")
    for i, q in enumerate(queries):
        if not isinstance(q, str):
            raise ValueError(f"query {i} must be a string, got {type(q).__name__}")
        if prompts[i] is not None and not isinstance(prompts[i], str):
            raise ValueError(f"prompt {i} must be a string, got {type(prompts[i]).__name__}")
    return [
        Sample(response_of(q, p), prompt=prompt_messages(p), reference=_label(lab), task=task)
        for q, p, lab in zip(queries, prompts, labels, strict=True)
    ]


def openrlhf_result(reward: Verifier, scores: Sequence[Score], *, on_none: float | str = "nan") -> dict[str, Any]:
    """Scores as OpenRLHF wants them: {"rewards", "scores" (0..1), "extra_logs" per component}, plain lists."""
    components = getattr(reward, "components", {})
    rewards, unit, logs = [], [], {name: [] for name in components}
    for score in scores:
        rewards.append(_value(score, on_none))
        unit.append(_unit(score, components, rewards[-1]))
        for name in components:
            v = score.components.get(name)
            logs[name].append(math.nan if v is None else float(v))
    return {"rewards": rewards, "scores": unit, "extra_logs": logs}


def score_queries(
    reward: Verifier,
    queries: Sequence[str],
    prompts: Sequence[str] | None,
    labels: Sequence[Any] | None,
    *,
    task: str | None = None,
    on_none: float | str = "nan",
) -> dict[str, Any]:
    """Score OpenRLHF's queries; returns {"rewards", "scores", "extra_logs"} as plain lists of floats."""
    samples = queries_to_samples(queries, prompts, labels, task=task)
    return openrlhf_result(reward, reward.score_batch(samples), on_none=on_none)


def _value(score: Score, on_none: float | str) -> float:
    if score.value is not None and math.isfinite(score.value):
        return float(score.value)
    if on_none == "raise":
        raise RuntimeError(f"reward is None ({score.status}): {score.info.get('error', 'no value')}")
    return math.nan if on_none == "nan" else float(on_none)


def _unit(score: Score, components: Any, value: float) -> float:
    """The reward on 0..1: divided by the total positive weight of the components that gave a value."""
    if score.value is None or not math.isfinite(score.value):
        return value if math.isnan(value) else min(max(value, 0.0), 1.0)
    total = sum(c.weight for name, c in components.items() if c.weight > 0 and score.components.get(name) is not None)
    scaled = score.value / total if total > 0 else score.value
    return min(max(scaled, 0.0), 1.0)


_reward = None
_reward_key: str | None = None
_lock = threading.Lock()


def _get_reward() -> Verifier:
    global _reward, _reward_key
    path = os.environ.get(ENV_CONFIG)
    if not path:
        raise RuntimeError(f"set {ENV_CONFIG} to the reward YAML for verifiers' OpenRLHF reward_func")
    with _lock:
        if _reward is None or _reward_key != path:
            from verifiers.composite import load_reward

            _reward, _reward_key = load_reward(path), path
        return _reward


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kw: Any) -> dict[str, Any]:
    """OpenRLHF's reward function (see the module doc); tensors when torch is importable."""
    result = score_queries(
        _get_reward(), queries, prompts, labels,
        task=os.environ.get(ENV_TASK) or None, on_none=on_none_policy(os.environ.get(ENV_ON_NONE)),
    )
    try:
        import torch
    except ImportError:  # OpenRLHF always has torch; lists serve everyone else
        return result
    return {
        "rewards": torch.tensor(result["rewards"], dtype=torch.float32),
        "scores": torch.tensor(result["scores"], dtype=torch.float32),
        "extra_logs": {k: torch.tensor(v, dtype=torch.float32) for k, v in result["extra_logs"].items()},
    }
