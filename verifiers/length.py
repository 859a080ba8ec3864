"""Length shaping: cosine-scaled length around an accuracy verifier, and DAPO's soft overlong punishment.

    cosine_length   a correct short completion earns more than a correct long one; a wrong short one is
                    punished more than a wrong long one (open-r1's `get_cosine_scaled_reward`)
    overlong        0 up to the last `soft_punish_cache` of the length budget, then a linear ramp to -1,
                    -1 past the budget (DAPO eq. 13; TRL's `get_soft_overlong_punishment`)

Length is measured on the completion as generated: a separate reasoning field counts, wrapped back in its
<think> tags (`core.completion_text`). The unit is stated in every Score's info:
  - "tokens": the ids in `sample.meta["completion_ids"]` when the trainer passes them (TRL does), else the
    named tokenizer applied to the text (without special tokens);
  - "chars": characters of the text;
  - `unit: auto` (default) takes tokens when ids or a tokenizer are available, else characters.

Where we differ from the anchors, and why:
  - Past `max_len`, cosine_length stays at the long end of its range. open-r1 takes cos(pi * len / max_len)
    unclamped, so a correct completion of twice `max_len` earns `max_value_correct` again, as much as an
    empty one; lengths up to `max_len` give exactly open-r1's values.
  - An unusable gold (the accuracy verifier answers None) gives None, not open-r1's 1.0 "skip" reward,
    which is gradient towards whatever the completion did.
  - With a separate reasoning field, open-r1 measures only the message content; we measure the thinking too,
    since that is what grows.
  - `group_relative: true` (beyond the anchors): a length is measured against its GRPO group (same
    `meta["group"]`, else same prompt): progress = (length - the group's shortest) / the group's longest,
    so the shortest completion of every group sits at progress 0 and the rest by how much longer they are,
    in proportion: the same shaping for a prompt answered in 30 tokens as for one answered in 3000, where a
    fixed `max_len` is either too short for the hard prompt or too long to matter for the easy one. Being
    relative to the longest, a 1-token difference between two 3000-token answers barely moves the reward
    (a min-max scale would turn it into the whole range). A sample alone in its group, or with no prompt
    and no group, uses the fixed `max_len` scale; info["scale"] says which was used. The group is what
    arrives in one batch.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from verifiers.core import Sample, Score, Status, Verifier, completion_text, error_score, get_verifier

UNITS = ("auto", "tokens", "chars")
NO_IDS = "no meta['completion_ids'] and no tokenizer to count tokens with"


# ---------------------------------------------------------------- measuring


class CompletionTokens:
    """Token ids of completions: `meta["completion_ids"]` when present, else a tokenizer on the text.

    tokenizer: None, a transformers tokenizer, or the name/path of one, loaded from local files only
    (nothing downloads at run time). A named tokenizer is loaded when this object is built, so a bad name
    fails at configuration time, and again lazily after unpickling.
    """

    def __init__(self, tokenizer: Any = None, *, owner: str = "length"):
        if tokenizer is not None and not isinstance(tokenizer, str) and not callable(tokenizer):
            raise TypeError(f"{owner}: tokenizer must be a name/path or a transformers tokenizer, "
                            f"got {type(tokenizer).__name__}")
        self.owner = owner
        self.name = tokenizer if isinstance(tokenizer, str) else None
        self._tokenizer = None if isinstance(tokenizer, str) else tokenizer
        self._lock = threading.Lock()
        if self.name is not None:
            self._load()

    @property
    def has_tokenizer(self) -> bool:
        return self.name is not None or self._tokenizer is not None

    def _load(self) -> Any:
        with self._lock:
            if self._tokenizer is None and self.name is not None:
                from transformers import AutoTokenizer  # heavy: only when a tokenizer is named

                try:
                    self._tokenizer = AutoTokenizer.from_pretrained(self.name, local_files_only=True)
                except (OSError, ValueError) as exc:
                    raise ValueError(f"{self.owner}: cannot load tokenizer {self.name!r} from local files "
                                     f"(nothing is downloaded): {exc}") from None
            return self._tokenizer

    def ids_batch(self, samples: Sequence[Sample]) -> list[Sequence[Any] | str]:
        """Token ids per sample, or a string saying why there are none (NO_IDS: no ids, no tokenizer)."""
        out: list[Sequence[Any] | str] = []
        need: list[int] = []
        for i, sample in enumerate(samples):
            ids = sample.meta.get("completion_ids") if isinstance(sample.meta, Mapping) else None
            if ids is None:
                out.append(NO_IDS)
                need.append(i)
                continue
            if hasattr(ids, "tolist"):  # a tensor or an array
                ids = ids.tolist()
            if not isinstance(ids, (list, tuple)):
                out.append(f"meta['completion_ids'] must be a list of token ids, got {type(ids).__name__}")
                continue
            out.append(ids)
        if need and self.has_tokenizer:
            texts: dict[int, str] = {}
            for i in need:
                try:
                    texts[i] = completion_text(samples[i].completion)
                except TypeError as exc:
                    out[i] = f"unreadable completion: {exc}"
            tokenizer = self._load()
            with self._lock:  # a fast tokenizer is not safe to call from several threads at once
                encoded = tokenizer(list(texts.values()), add_special_tokens=False)["input_ids"] if texts else []
            for i, ids in zip(texts, encoded, strict=True):
                out[i] = ids
        return out

    def __getstate__(self) -> dict[str, Any]:  # picklable (TRL's async trainer, Ray): reload by name there
        state = self.__dict__.copy()
        del state["_lock"]
        if self.name is not None:
            state["_tokenizer"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def _check_unit(unit: Any, owner: str, allowed: Sequence[str] = UNITS) -> str:
    if unit not in allowed:
        raise ValueError(f"{owner}: unit must be one of {', '.join(allowed)}; got {unit!r}")
    return unit


class _Lengths:
    """Length of each sample in the configured unit: (length, unit) or an error reason."""

    def __init__(self, unit: str, tokenizer: Any, owner: str):
        self.unit = _check_unit(unit, owner)
        self.tokens = CompletionTokens(tokenizer, owner=owner)

    def measure(self, samples: Sequence[Sample]) -> list[tuple[int, str] | str]:
        if self.unit == "chars":
            return [_chars(s) for s in samples]
        out: list[tuple[int, str] | str] = []
        for sample, got in zip(samples, self.tokens.ids_batch(samples), strict=True):
            if not isinstance(got, str):
                out.append((len(got), "tokens"))
            elif self.unit == "auto" and got == NO_IDS:
                out.append(_chars(sample))
            else:
                out.append(got)
        return out


def _chars(sample: Sample) -> tuple[int, str] | str:
    try:
        return len(completion_text(sample.completion)), "chars"
    except TypeError as exc:  # hostile input: a Score with a reason, never an exception
        return f"unreadable completion: {exc}"


def _positive_int(value: Any, key: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {key} must be a positive integer, got {value!r}")
    return value


def _finite(value: Any, key: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{owner}: {key} must be a finite number, got {value!r}")
    return float(value)


# ---------------------------------------------------------------- cosine-scaled length


def cosine_scale(progress: float, start: float, end: float) -> float:
    """`start` at progress 0, `end` at progress 1, along half a cosine; progress is clamped to [0, 1]."""
    progress = min(max(progress, 0.0), 1.0)
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * progress))


def cosine_length_reward(
    correct: bool,
    length: float,
    max_len: float,
    *,
    min_value_wrong: float = -1.0,
    max_value_wrong: float = -0.5,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
) -> float:
    """open-r1's cosine-scaled reward for one completion (clamped at `max_len`, see the module docstring).

    Correct: `max_value_correct` at length 0 down to `min_value_correct` at `max_len`.
    Wrong: `min_value_wrong` at length 0 up to `max_value_wrong` at `max_len`.
    """
    if correct:
        return cosine_scale(length / max_len, max_value_correct, min_value_correct)
    return cosine_scale(length / max_len, min_value_wrong, max_value_wrong)


class CosineLengthVerifier(Verifier):
    """Cosine-scaled length around an accuracy verifier: short and right earns most, short and wrong least.

    accuracy: the wrapped verifier: a registered name ("math", default) or {verifier: NAME, params: {...}},
        or a Verifier; or {component: NAME}: the Scores of that component of the CompositeReward, so the
        accuracy check runs once per sample for both (`reuses` names it; the composite calls `score_with`).
        A value >= correct_threshold (default 1.0) is correct; its None passes through.
    min_value_wrong, max_value_wrong, min_value_correct, max_value_correct: the two ranges
        (open-r1's defaults: -1..-0.5 and 0.5..1).
    max_len: the length at which the scale reaches the long end (default 1000).
    unit: auto | tokens | chars; tokenizer: a name/path or tokenizer for tokens without completion_ids.
    group_relative: progress = (length - the group's shortest) / the group's longest, instead of length / max_len.
    """

    name = "cosine_length"

    def __init__(
        self,
        accuracy: str | Mapping[str, Any] | Verifier = "math",
        *,
        min_value_wrong: float = -1.0,
        max_value_wrong: float = -0.5,
        min_value_correct: float = 0.5,
        max_value_correct: float = 1.0,
        max_len: int = 1000,
        unit: str = "auto",
        tokenizer: Any = None,
        correct_threshold: float = 1.0,
        group_relative: bool = False,
    ):
        owner = "cosine_length"
        self.values = {
            key: _finite(v, key, owner)
            for key, v in (("min_value_wrong", min_value_wrong), ("max_value_wrong", max_value_wrong),
                           ("min_value_correct", min_value_correct), ("max_value_correct", max_value_correct))
        }
        for kind in ("wrong", "correct"):
            if self.values[f"min_value_{kind}"] > self.values[f"max_value_{kind}"]:
                raise ValueError(f"{owner}: min_value_{kind} ({self.values[f'min_value_{kind}']}) is above "
                                 f"max_value_{kind} ({self.values[f'max_value_{kind}']})")
        self.max_len = _positive_int(max_len, "max_len", owner)
        self.correct_threshold = _finite(correct_threshold, "correct_threshold", owner)
        if not isinstance(group_relative, bool):
            raise ValueError(f"{owner}: group_relative must be true or false, got {group_relative!r}")
        self.group_relative = group_relative
        self._lengths = _Lengths(unit, tokenizer, owner)
        self.reuses = _reused_component(accuracy, owner)
        self.accuracy = None if self.reuses is not None else _build_accuracy(accuracy, owner)

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        if self.accuracy is None:
            raise ValueError(f"cosine_length: accuracy is the component {self.reuses!r}; score through the "
                             "CompositeReward that has it, or give accuracy as a verifier")
        samples = list(samples)
        return self.score_with(samples, self.accuracy.score_batch(samples))

    def score_with(self, samples: Sequence[Sample], accuracy: Sequence[Score]) -> list[Score]:
        """The shaped scores of `samples` given their accuracy Scores (one per sample, in order)."""
        samples, inner = list(samples), list(accuracy)
        if len(inner) != len(samples):
            raise RuntimeError(f"cosine_length: the accuracy verifier returned {len(inner)} scores "
                               f"for {len(samples)} samples")
        lengths = self._lengths.measure(samples)
        progress = self._progress(samples, lengths)
        out = []
        for acc, measured, prog in zip(inner, lengths, progress, strict=True):
            acc_info = {"value": acc.value, "status": str(acc.status), **acc.info}
            if acc.value is None:  # an unusable gold or an outage stays None, never a shaped 0
                out.append(Score(None, acc.status, info={"error": acc.info.get("error", str(acc.status)),
                                                         "accuracy": acc_info}))
                continue
            if isinstance(measured, str):
                out.append(error_score(measured))
                continue
            length, unit = measured
            correct = acc.value >= self.correct_threshold
            scale, p = prog
            start, end = ((self.values["max_value_correct"], self.values["min_value_correct"]) if correct
                          else (self.values["min_value_wrong"], self.values["max_value_wrong"]))
            info = {"length": length, "unit": unit, "correct": correct, "scale": scale, "progress": p,
                    "accuracy": acc_info}
            if scale == "fixed":
                info["max_len"] = self.max_len
            out.append(Score(cosine_scale(p, start, end), Status.OK, info=info))
        return out

    def _progress(self, samples: list[Sample], lengths: list[tuple[int, str] | str]) -> list[tuple[str, float]]:
        out = [("fixed", min(m[0] / self.max_len, 1.0) if not isinstance(m, str) else 0.0) for m in lengths]
        if not self.group_relative:
            return out
        groups: dict[tuple[str, str], list[int]] = {}
        for i, (s, m) in enumerate(zip(samples, lengths, strict=True)):
            key = _group_key(s)
            if key is not None and not isinstance(m, str):
                groups.setdefault((key, m[1]), []).append(i)
        for members in groups.values():
            if len(members) < 2:
                continue  # nothing to compare with: the fixed scale
            values = [lengths[i][0] for i in members]  # type: ignore[index]
            lo, hi = min(values), max(values)
            for i, v in zip(members, values, strict=True):
                out[i] = ("group", (v - lo) / hi if hi else 0.0)
        return out

    def close(self) -> None:
        if self.accuracy is not None:
            self.accuracy.close()


def _group_key(sample: Sample) -> str | None:
    meta = sample.meta if isinstance(sample.meta, Mapping) else {}
    if meta.get("group") is not None:
        return "group:" + str(meta["group"])
    if sample.prompt is None:
        return None
    if isinstance(sample.prompt, str):
        return "prompt:" + sample.prompt
    try:
        return "prompt:" + json.dumps(sample.prompt, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return "prompt:" + repr(sample.prompt)


def _reused_component(spec: Any, owner: str) -> str | None:
    """The component name in {component: NAME}, else None."""
    if not isinstance(spec, Mapping) or "component" not in spec:
        return None
    if set(spec) != {"component"} or not isinstance(spec["component"], str) or not spec["component"]:
        raise ValueError(f"{owner}: accuracy {{component: NAME}} takes only the name of another component, "
                         f"got {spec!r}")
    return spec["component"]


def _build_accuracy(spec: Any, owner: str) -> Verifier:
    if isinstance(spec, Verifier):
        return spec
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, Mapping):
        bad = set(spec) - {"verifier", "params"}
        if bad:
            raise ValueError(f"{owner}: accuracy has unknown key(s) {sorted(bad)}; expected 'verifier', 'params' "
                             "(or 'component' alone)")
        name, params = spec.get("verifier"), spec.get("params") or {}
        if not isinstance(name, str):
            raise ValueError(f"{owner}: accuracy.verifier is required: the name of a registered verifier")
        if not isinstance(params, Mapping):
            raise ValueError(f"{owner}: accuracy.params must be a mapping, got {type(params).__name__}")
    else:
        raise ValueError(f"{owner}: accuracy must be a verifier name or {{verifier, params}}, got {spec!r}")
    return get_verifier(name, **dict(params))


# ---------------------------------------------------------------- overlong


def soft_overlong_punishment(length: int, max_completion_len: int, soft_punish_cache: int) -> float:
    """DAPO's soft overlong punishment: 0 up to max - cache, linear to -1 at max, -1 beyond."""
    threshold = max_completion_len - soft_punish_cache
    if length <= threshold:
        return 0.0
    if length <= max_completion_len:
        return (threshold - length) / soft_punish_cache
    return -1.0


class OverlongVerifier(Verifier):
    """DAPO soft overlong punishment: 0, then linear to -1 over the last soft_punish_cache of the budget.

    max_completion_len: the length budget (L_max); soft_punish_cache: the punished stretch before it
    (L_cache, 0 <= L_cache <= L_max). unit: auto (tokens when completion_ids or a tokenizer are
    available, else characters) | tokens | chars; tokenizer: a name/path or tokenizer.
    """

    name = "overlong"

    def __init__(self, max_completion_len: int, soft_punish_cache: int, *, unit: str = "auto",
                 tokenizer: Any = None):
        owner = "overlong"
        self.max_completion_len = _positive_int(max_completion_len, "max_completion_len", owner)
        if (isinstance(soft_punish_cache, bool) or not isinstance(soft_punish_cache, int)
                or not 0 <= soft_punish_cache <= max_completion_len):
            raise ValueError(f"{owner}: soft_punish_cache must be an integer from 0 to max_completion_len "
                             f"({max_completion_len}), got {soft_punish_cache!r}")
        self.soft_punish_cache = soft_punish_cache
        self._lengths = _Lengths(unit, tokenizer, owner)

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        out = []
        for measured in self._lengths.measure(list(samples)):
            if isinstance(measured, str):
                out.append(error_score(measured))
                continue
            length, unit = measured
            value = soft_overlong_punishment(length, self.max_completion_len, self.soft_punish_cache)
            out.append(Score(value, Status.OK, info={"length": length, "unit": unit,
                                                     "max_completion_len": self.max_completion_len,
                                                     "soft_punish_cache": self.soft_punish_cache}))
        return out
