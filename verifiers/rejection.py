"""Rejection sampling: keep the scored completions good enough to become SFT data (R1 stage 3).

A completion is kept when its reward has a value (never a None: an outage is not a pass),
the reward is at least `min_reward`, and each component named in `min_components` has a value at
least its minimum (e.g. accuracy 1, format 1, language 0.95: correct, well formatted, one language).
With best-of-group, only the highest-reward kept completion of each prompt group survives (the
first one on a tie), in the order the groups first appear.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verifiers.core import Score


@dataclass
class Criteria:
    """What a completion needs to be kept."""

    min_reward: float
    min_components: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in {"min_reward": self.min_reward, **self.min_components}.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"minimum for {name!r} must be a finite number, got {value!r}")

    def rejects(self, score: Score) -> str | None:
        """None when the score passes; else the reason it does not (a short, countable phrase)."""
        if score.value is None:
            return f"reward None ({score.status})"
        if not math.isfinite(score.value):  # NaN compares False with everything: it would pass every minimum
            return "reward not finite"
        if score.value < self.min_reward:
            return "reward below minimum"
        for name, minimum in self.min_components.items():
            value = score.components.get(name)
            if value is None or not math.isfinite(value):
                return f"{name}: no value"
            if value < minimum:
                return f"{name} below minimum"
        return None


class BestOfGroup:
    """Keeps the highest-reward item offered per group key (the first one on a tie)."""

    def __init__(self) -> None:
        self._best: dict[Hashable, tuple[float, Any]] = {}

    def offer(self, key: Hashable, reward: float, item: Any) -> bool:
        """Offer an item; True when it is now its group's best."""
        held = self._best.get(key)
        if held is None or reward > held[0]:
            self._best[key] = (reward, item)
            return True
        return False

    def items(self) -> list[Any]:
        """The best item of each group, in the order the groups were first offered."""
        return [item for _, item in self._best.values()]

    def __len__(self) -> int:
        return len(self._best)


def select(
    scores: Sequence[Score],
    criteria: Criteria,
    *,
    groups: Sequence[Hashable] | None = None,
) -> list[int]:
    """Indices of the scores that are kept, in order; with `groups` (one key per score), only each
    group's best kept score."""
    if groups is not None and len(groups) != len(scores):
        raise ValueError(f"groups and scores differ in length: {len(groups)} != {len(scores)}")
    kept = [i for i, s in enumerate(scores) if criteria.rejects(s) is None]
    if groups is None:
        return kept
    best = BestOfGroup()
    for i in kept:
        best.offer(groups[i], scores[i].value, i)
    return best.items()


def parse_minimums(pairs: Sequence[str]) -> dict[str, float]:
    """`NAME=X` pairs (e.g. `format=1`) -> {"format": 1.0}; ValueError names a bad pair."""
    out: dict[str, float] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not sep or not name or not math.isfinite(value):
            raise ValueError(f"{pair!r}: expected COMPONENT=NUMBER, e.g. format=1")
        out[name] = value
    return out


def output_row(row: Mapping[str, Any], score: Score, prefix: str = "") -> dict[str, Any]:
    """A kept row as written: the input row plus its reward and components (not the bulky info),
    named `<prefix>reward` and `<prefix>components`. ValueError when the row already has a column of
    one of those names: the input's own value is never overwritten."""
    names = (f"{prefix}reward", f"{prefix}components")
    taken = [n for n in names if n in row]
    if taken:
        raise ValueError(
            f"the input has a column {taken[0]!r}, which an output column would overwrite; write the output "
            f"columns under a prefix, e.g. --prefix score_"
        )
    return {**row, names[0]: score.value, names[1]: dict(score.components)}
