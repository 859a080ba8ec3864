"""N-gram repetition penalty (open-r1's and TRL's `get_repetition_penalty_reward`; "Demystifying Long
Chain-of-Thought Reasoning", appendix C.2).

    value = (1 - unique n-grams / all n-grams) * max_penalty          max_penalty <= 0

over the completion's lower-cased whitespace-separated words (open-r1's definition, the default), or over
its token ids with `unit: tokens` (TRL >= 1.x's definition: `meta["completion_ids"]`, else a tokenizer). A
completion shorter than one n-gram, or empty, gets 0. No repeated n-gram gives 0 (never -0.0); a completion
that is one n-gram over and over approaches `max_penalty`.

The text is the completion as generated: a separate reasoning field counts, wrapped back in its <think>
tags, since degenerate loops happen in the thinking (open-r1 reads only the message content).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from verifiers.core import Sample, Score, Status, Verifier, completion_text, error_score
from verifiers.length import CompletionTokens


def repetition_penalty(items: Sequence[Any], ngram_size: int = 3, max_penalty: float = -1.0) -> float:
    """The penalty for a sequence of words or token ids: (1 - unique/total n-grams) * max_penalty."""
    total = len(items) - ngram_size + 1
    if total <= 0:
        return 0.0
    # the set keeps n-gram hashes, not the n-grams: a third faster, and a long completion's n-grams are
    # not all held at once (a collision between two 64-bit hashes is far below any reward's precision)
    unique = len(set(map(hash, zip(*(items[i:] for i in range(ngram_size)), strict=False))))
    scaling = 1.0 - unique / total
    return scaling * max_penalty if scaling else 0.0


class RepetitionVerifier(Verifier):
    """N-gram repetition penalty: (1 - unique/total n-grams) * max_penalty, 0 for no repetition.

    ngram_size (default 3); max_penalty (<= 0, default -1.0); unit: words (lower-cased, split on
    whitespace; open-r1) | tokens (completion_ids or a tokenizer; TRL); tokenizer: a name/path or tokenizer.
    """

    name = "repetition"

    def __init__(self, ngram_size: int = 3, max_penalty: float = -1.0, *, unit: str = "words",
                 tokenizer: Any = None):
        owner = "repetition"
        if isinstance(ngram_size, bool) or not isinstance(ngram_size, int) or ngram_size <= 0:
            raise ValueError(f"{owner}: ngram_size must be a positive integer, got {ngram_size!r}")
        if isinstance(max_penalty, bool) or not isinstance(max_penalty, (int, float)) or not math.isfinite(max_penalty):
            raise ValueError(f"{owner}: max_penalty must be a finite number, got {max_penalty!r}")
        if max_penalty > 0:
            raise ValueError(f"{owner}: max_penalty {max_penalty} should not be positive")
        if unit not in ("words", "tokens"):
            raise ValueError(f"{owner}: unit must be words or tokens, got {unit!r}")
        self.ngram_size = ngram_size
        self.max_penalty = float(max_penalty)
        self.unit = unit
        self.tokens = CompletionTokens(tokenizer, owner=owner)

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        samples = list(samples)
        if self.unit == "tokens":
            units: list[Sequence[Any] | str] = self.tokens.ids_batch(samples)
        else:
            units = [_words(s) for s in samples]
        out = []
        for items in units:
            if isinstance(items, str):
                out.append(error_score(items))
                continue
            try:
                value = repetition_penalty(items, self.ngram_size, self.max_penalty)
            except TypeError as exc:  # token ids that cannot be hashed (nested lists, dicts)
                out.append(error_score(f"meta['completion_ids'] must hold token ids: {exc}"))
                continue
            n = max(len(items) - self.ngram_size + 1, 0)
            out.append(Score(value, Status.OK, info={"unit": self.unit, "ngrams": n, "ngram_size": self.ngram_size}))
        return out


def _words(sample: Sample) -> list[str] | str:
    try:
        return completion_text(sample.completion).lower().split()
    except TypeError as exc:
        return f"unreadable completion: {exc}"
