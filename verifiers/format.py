"""The R1 format reward: `<think>…</think><answer>…</answer>`.

Strict mode (the default) gives 1.0 only when the completion is exactly one think
block followed by one answer block: each tag once, in order, no nesting, nothing
outside the blocks but whitespace, and an answer that shows something: invisible
characters (zero-width and bidi marks, Hangul fillers, combining marks alone, ...), LaTeX
spacing and delimiters, phantoms and empty groups do not make an answer non-empty.
Partial mode gives 0.2 for each of the four tags that occurs exactly once and 0.2 more
for the strict shape, so it reaches 1.0 exactly when strict mode does.

Pre-filled templates. DeepSeek-R1-style chat templates end the prompt with
`<think>`, so the completion starts inside the thinking and never contains the
opening tag. `think_prefilled` (the rule every verifier shares, core.read_completion):
  - "true":  the opening `<think>` is assumed, and must not appear again;
  - "false": the completion must open the think block itself;
  - "auto" (default): pre-filled when the prompt (a string or chat messages) ends
    inside an open `<think>`, or when the completion has a `</think>` with no
    `<think>` before it. "auto" trusts the completion when no prompt text is
    available, so a model that drops its opening tag is not penalised there: use
    "false"/"true" when you know your template.

End-of-turn tokens (`<|im_end|>`, `</s>`, ... core.END_TOKENS, or `end_tokens`) at the
end of a completion are not "text after </answer>".

Separate thinking. When the thinking arrives in its own field (`reasoning_content`,
`reasoning`, `thinking`), it counts as the think block, and the content must be
the answer block alone.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from typing import Literal

from verifiers.core import (
    Sample,
    Score,
    Status,
    Verifier,
    end_tokens_option,
    error_score,
    read_completion,
    think_prefilled_option,
)

TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_TAG_RE = re.compile(r"</?(?:think|answer)>")

# What renders as nothing in an answer, removed before looking for a visible character: phantoms
# with their argument, LaTeX spacing, the names of wrappers (`\text`, `\boxed`, ...: their argument
# decides), math delimiters and braces, HTML line breaks and comments (entities are read first).
_SHOWS_NOTHING = re.compile(
    r"\\(?:[hv]?phantom|hspace\*?|vspace\*?|kern|mkern|hskip|mskip)\s*\{(?:[^{}]|\{[^{}]*\})*\}"
    r"|\\(?:quad|qquad|enspace|thinspace|medspace|thickspace|negthinspace|negmedspace|space|nobreakspace"
    r"|displaystyle|textstyle|scriptstyle|scriptscriptstyle|text\w*|math\w*|mbox|boxed|fbox|operatorname"
    r"|left|right|big|Big|bigg|Bigg)(?![A-Za-z])"
    r"|\\[,;:! ~>]|\\[()\[\]]|[${}~]|<!--.*?-->|<br\s*/?>",
    re.DOTALL,
)
_CAN_HIDE = re.compile(r"phantom|space|kern|skip|<|&")
_SHOWN = re.compile(r"\d|(?<![\\A-Za-z])[A-Za-z]")
_MARKUP = re.compile(r"[\\&<${}~]|[\x00-\x08\x0e-\x1f\x7f]")
# Letters that render blank (Hangul fillers, Braille blank); all other blanks are caught by category.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"})


def shows_something(text: str) -> bool:
    """Whether `text` renders at least one visible character (see the module docstring)."""
    if text.isascii() and not _MARKUP.search(text):  # plain ASCII: any non-space character shows
        return not text.isspace() and bool(text)
    if not _CAN_HIDE.search(text) and _SHOWN.search(text):
        return True  # a digit, or a letter that is no command name, with nothing that could hide it
    if "&" in text:
        text = html.unescape(text)  # &nbsp;, &#x200B; are the characters they name
    text = _SHOWS_NOTHING.sub("", text)
    return any(
        not ch.isspace() and ch not in _BLANK_LETTERS and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
        for ch in text
    )


def check_format(text: str, *, prefilled: bool = False) -> tuple[bool, list[str], dict[str, int]]:
    """Check `text` against the strict R1 template.

    Returns (ok, problems, tag_counts); with `prefilled` the text is taken to
    start inside an already-open think block.
    """
    tags = [(m.group(), m.start(), m.end()) for m in _TAG_RE.finditer(text)]
    if prefilled:
        tags.insert(0, ("<think>", 0, 0))
    counts = {t: 0 for t in TAGS}
    for tag, _, _ in tags:
        counts[tag] += 1

    problems = []
    for tag in TAGS:
        if counts[tag] == 0:
            problems.append(f"missing {tag}")
        elif counts[tag] > 1:
            problems.append(f"{tag} appears {counts[tag]} times")
    if problems:
        return False, problems, counts

    (_, _, think_open), (_, think_close, think_end), (_, ans_start, ans_open), (_, ans_close, ans_end) = tags
    if [t for t, _, _ in tags] != list(TAGS):
        problems.append("tags out of order or nested: " + " ".join(t for t, _, _ in tags))
        return False, problems, counts
    if text[: tags[0][1]].strip():
        problems.append("text before <think>")
    if text[think_end:ans_start].strip():
        problems.append("text between </think> and <answer>")
    if text[ans_end:].strip():
        problems.append("text after </answer>")
    if not shows_something(text[ans_open:ans_close]):
        problems.append("empty answer")
    return not problems, problems, counts


class FormatVerifier(Verifier):
    """R1 template <think>…</think><answer>…</answer>; strict or per-tag partial credit."""

    name = "format"

    def __init__(
        self,
        mode: Literal["strict", "partial"] = "strict",
        think_prefilled: Literal["auto", "true", "false"] | bool = "auto",
        end_tokens: Sequence[str] | None = None,
    ) -> None:
        if mode not in ("strict", "partial"):
            raise ValueError(f"format: mode must be 'strict' or 'partial', got {mode!r}")
        self.mode = mode
        self.think_prefilled = think_prefilled_option(think_prefilled, "format")
        self.end_tokens = end_tokens_option(end_tokens, "format")

    def score(self, sample: Sample) -> Score:
        try:
            reading = read_completion(
                sample.completion, sample.prompt, think_prefilled=self.think_prefilled, end_tokens=self.end_tokens
            )
        except TypeError as exc:
            return error_score(f"unreadable completion: {exc}")
        # Thinking that came separately is the think block; tags inside it are nesting.
        ok, problems, counts = check_format(reading.text, prefilled=False)
        info = {"prefilled": reading.prefilled}
        if problems:
            info["problems"] = problems
        if self.mode == "strict":
            return Score(1.0 if ok else 0.0, Status.OK, info=info)
        value = 0.2 * sum(counts[t] == 1 for t in TAGS) + (0.2 if ok else 0.0)
        return Score(round(value, 6), Status.OK, info=info)
