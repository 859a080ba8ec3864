"""Reasoning-steps reward (open-r1's `reasoning_steps_reward`): counts step markers, capped.

    value = min(1, markers / min_steps)          min_steps = 3 by default ("3 steps and more")

The markers are open-r1's: "Step N:", a numbered line "N.", a line starting with "-" or "*", and the
transition words "First,", "Second,", "Next,", "Finally,". Two choices differ from open-r1, both where its
code and its documentation disagree:
  - a numbered line counts at the start of every line, as its docstring says ("numbered lists ... at start
    of line"); its regex lacks the multiline flag, so only the completion's very first line could count;
  - "3.14" at the start of a line is a number, not step 3 (a digit right after the dot is not a marker).
`pattern` replaces the markers with your own regular expression (matched with re.MULTILINE).
The text is the completion as generated (a separate reasoning field wrapped back in <think> tags).
A shaping term a policy can game by writing markers; weight it lightly.
"""

from __future__ import annotations

import re

from verifiers.core import Sample, Score, Status, Verifier, completion_text, error_score

STEP_MARKERS = r"(Step \d+:|^\d+\.(?!\d)|\n-|\n\*|First,|Second,|Next,|Finally,)"


def count_steps(text: str, pattern: str | re.Pattern[str] = STEP_MARKERS) -> int:
    """The number of step markers in `text`."""
    regex = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.MULTILINE)
    return sum(1 for _ in regex.finditer(text))


class ReasoningStepsVerifier(Verifier):
    """Step-by-step reasoning: min(1, step markers / min_steps).

    min_steps: markers for full credit (default 3, open-r1's); pattern: a regex replacing the markers.
    """

    name = "reasoning_steps"

    def __init__(self, min_steps: int = 3, pattern: str | None = None):
        if isinstance(min_steps, bool) or not isinstance(min_steps, int) or min_steps <= 0:
            raise ValueError(f"reasoning_steps: min_steps must be a positive integer, got {min_steps!r}")
        if pattern is not None and (not isinstance(pattern, str) or not pattern):
            raise ValueError(f"reasoning_steps: pattern must be a non-empty regular expression, got {pattern!r}")
        try:
            self.regex = re.compile(STEP_MARKERS if pattern is None else pattern, re.MULTILINE)
        except re.error as exc:
            raise ValueError(f"reasoning_steps: pattern {pattern!r} is not a valid regular expression: {exc}") from None
        if self.regex.search("") is not None:  # it would count a step at every position of any text
            raise ValueError(f"reasoning_steps: pattern {pattern!r} matches empty text")
        self.min_steps = min_steps

    def score(self, sample: Sample) -> Score:
        try:
            text = completion_text(sample.completion)
        except TypeError as exc:
            return error_score(f"unreadable completion: {exc}")
        steps = count_steps(text, self.regex)
        return Score(min(1.0, steps / self.min_steps), Status.OK, info={"steps": steps})
