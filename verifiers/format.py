"""The R1 format reward: `<think>…</think><answer>…</answer>`.

Strict mode (the default) gives 1.0 only when the completion is exactly one think
block followed by one answer block: each tag once, in order, no nesting, nothing
outside the blocks but whitespace, and an answer that shows something: invisible
characters (zero-width and bidi marks, Hangul fillers, combining marks alone, ...), LaTeX
spacing and delimiters, phantoms and empty groups do not make an answer non-empty, nor does
text that markup hides (white or transparent text, CSS display:none, closed <details>,
comments, markdown link definitions; README "What the rewards refuse").
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
# with their argument, LaTeX spacing and struts, labels, the names of wrappers (`\text`, `\boxed`,
# `\llap`, a colour or a scale: their argument decides), math delimiters and braces, HTML line breaks and comments
# (entities are read first).
_SHOWS_NOTHING = re.compile(
    r"\\(?:[hv]?phantom|hspace\*?|vspace\*?|kern|mkern|hskip|mskip|label)\s*\{(?:[^{}]|\{[^{}]*\})*\}"
    r"|\\(?:textcolor|color|colorbox|scalebox)\s*(?:\[[^\[\]{}]*\]\s*)?\{[^{}]*\}"
    r"|\\(?:quad|qquad|enspace|thinspace|medspace|thickspace|negthinspace|negmedspace|space|nobreakspace"
    r"|displaystyle|textstyle|scriptstyle|scriptscriptstyle|text\w*|math\w*|mbox|hbox|vbox|boxed|fbox"
    r"|operatorname|left|right|big|Big|bigg|Bigg|strut|null|relax|empty|nonumber|notag|llap|rlap|clap"
    r"|smash|underline|overline)(?![A-Za-z])"
    r"|\\[,;:! ~>]|\\[()\[\]]|[${}~]|<!--.*?-->|<br\s*/?>|</?(?:su[bp]|del|s|strike)\b[^<>]*>",
    re.DOTALL,
)
_CAN_HIDE = re.compile(r"phantom|space|kern|skip|color|box|strut|label|<|&|\[|%")
_SHOWN = re.compile(r"\d|(?<![\\A-Za-z])[A-Za-z]")
_MARKUP = re.compile(r"[\\&<${}~\[%]|[\x00-\x08\x0e-\x1f\x7f]")
# Letters that render blank (Hangul fillers, Braille blank); all other blanks are caught by category.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"})

# Markup that hides what it holds (removed with its content before anything else): text in the page's
# colour (white, transparent) or in its own box's colour, by LaTeX or by HTML/CSS; CSS that removes it
# (display:none, visibility:hidden, opacity:0, font-size:0) or the `hidden` attribute; the body of a
# closed <details> (its <summary> shows); <script>, <style>, <template>; a zero scale; a TeX comment
# (`%` inside math); markdown link definitions (`[//]: # (42)`) and link targets (the link text shows).
# Inline HTML tags draw nothing (hide_markup keeps sub, sup and strike-through tags: the math verifier reads
# them). Colours the page may not have (black on a dark theme) still show.
_PAGE_COLOURS = (
    r"white|transparent|#f{3}(?:f{3})?(?![0-9a-f])|rgba?\(\s*255\s*,\s*255\s*,\s*255\s*(?:,[^)]*)?\)|rgba\([^)]*,\s*0(?:\.0*)?\s*\)"
)
# LaTeX colour specs: {white}, [rgb]{1,1,1}, [RGB]{255,255,255}, [gray]{1}, [HTML]{FFFFFF} (spaces removed)
_LATEX_PAGE_COLOUR = re.compile(
    rf"\{{(?:{_PAGE_COLOURS})\}}|\[rgb\]\{{1(?:\.0*)?,1(?:\.0*)?,1(?:\.0*)?\}}|\[rgb\]\{{255,255,255\}}"
    r"|\[gray\]\{1(?:\.0*)?\}|\[html\]\{f{6}\}",
    re.IGNORECASE,
)
_COLOUR_CMD = re.compile(r"\\(textcolor|color|colorbox|scalebox)\s*((?:\[[^\[\]{}]*\]\s*)?\{[^{}]*\})", re.IGNORECASE)
_HTML_HIDES = re.compile(
    r"(?:^|\s)hidden(?=\s*(?:=|/|$))|display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)|opacity\s*:\s*0*(?:\.0*)?\s*(?![\w.])"
    rf"|font-size\s*:\s*0*(?:\.0*)?\s*[a-z%]*\s*(?![\w.])|(?<![-\w])color\s*[:=]\s*[\"']?\s*(?:{_PAGE_COLOURS})",
    re.IGNORECASE,
)
# A tag is a name and attributes (name=value, or hidden/open alone), so "0<b and b>1" is no tag.
_ATTRS = r"""(?:\s+(?:[\w:-]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>=`$\\]+)|(?i:hidden|open)))*\s*/?"""
_HTML_OPEN = re.compile(rf"<([A-Za-z][\w-]*)({_ATTRS})>")
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|bdi|bdo|big|center|cite|code|details|dfn|div|em|font|i|ins|kbd|mark|p|q|samp"
    r"|small|span|strong|summary|tt|u|var|wbr|section|article|header|footer|main|aside|nav"
    r"|label|figure|figcaption)\b" + _ATTRS + ">",
    re.IGNORECASE,
)
# [label]: destination, then at most a title: "[//]: # (42)"; "[0, 1]: it increases" is prose
_MD_LINK_DEFINITION = re.compile(
    r"""^ {0,3}\[[^\]\n]+\]:[ \t]*\S+(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*$""", re.MULTILINE
)
_MD_LINK = re.compile(r"(?<!!)\[([^\[\]\n]*)\]\(([^()\n]*)\)")
# A link shows its text; it is a link when its text is empty or its target looks like an address, so
# "[0,1](1+x)" stays math.
_LINK_TARGET = re.compile(r"\s*<?(?:[a-zA-Z][\w+.-]*:|/|#|\.{0,2}/|www\.|[\w-]+\.[a-zA-Z]{2,})")
_MATH_SPAN = re.compile(  # bounded: unclosed openers must cost linear time
    r"\$\$.{0,1000}?\$\$|\$[^$]{0,1000}\$|\\\(.{0,1000}?\\\)|\\\[.{0,1000}?\\\]", re.DOTALL
)
# A comment that opens the math or one of its lines ("$%42$"); "$25%$" stays a percentage
_TEX_COMMENT = re.compile(r"(^(?:\$\$|\$|\\\(|\\\[)|\n)[ \t]*%[^\n]*?(?=\n|\$|\\[)\]]|\Z)")


def _group_end(text: str, start: int) -> int:
    """The index just after the group that opens at text[start] ("{"), or len(text) if it never closes."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    return len(text)


def _hide_latex(text: str) -> str:
    """`text` without what LaTeX colours as the page or its box, or scales to nothing."""
    out, pos, box = [], 0, None
    for m in _COLOUR_CMD.finditer(text):
        if m.start() < pos:
            continue  # inside a part already removed
        cmd, spec = m.group(1).lower(), re.sub(r"\s+", "", m.group(2)).lower()
        if cmd == "colorbox":
            box = spec
            continue
        if cmd == "scalebox":
            hidden = re.fullmatch(r"\{0*(?:\.0*)?\}", spec) is not None
        else:
            hidden = _LATEX_PAGE_COLOUR.fullmatch(spec) is not None or spec == box
        if not hidden:
            continue
        after = m.end()
        while after < len(text) and text[after].isspace():
            after += 1
        if cmd == "color":  # a switch: it holds the rest of its group
            depth, end = 0, len(text)
            for i in range(m.end(), len(text)):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                if depth < 0:
                    end = i
                    break
        elif after < len(text) and text[after] == "{":
            end = _group_end(text, after)
        else:
            end = min(after + 1, len(text))  # one token: \textcolor{white}4
        out.append(text[pos : m.start()])
        pos = end
    return "".join(out) + text[pos:] if out else text


def _hide_html(text: str) -> str:
    """`text` without HTML elements that hide their content (see above), then without any tag."""
    for _ in range(20):  # nested hiders: removed one element at a time
        for m in _HTML_OPEN.finditer(text):
            name, attrs = m.group(1).lower(), m.group(2) or ""
            if name in ("script", "style", "template") or _HTML_HIDES.search(attrs):
                keep = ""
            elif name == "details" and not re.search(r"\bopen\b", attrs, re.IGNORECASE):
                keep = None  # only the summary shows
            else:
                continue
            close = re.compile(rf"<(/?){re.escape(name)}\b[^<>]*>", re.IGNORECASE)
            depth, end = 1, len(text)
            for c in close.finditer(text, m.end()):
                depth += -1 if c.group(1) else 1
                if depth == 0:
                    end = c.end()
                    break
            if keep is None:
                summary = re.search(r"<summary\b[^<>]*>(.*?)(?:</summary>|$)", text[m.end() : end], re.DOTALL)
                keep = summary.group(1) if summary else ""  # a browser's default label is no answer
            text = text[: m.start()] + keep + text[end:]
            break
        else:
            break
    return _HTML_TAG.sub("", text)


def _link_text(m: re.Match[str]) -> str:
    return m.group(1) if not m.group(1).strip() or _LINK_TARGET.match(m.group(2)) else m.group()


def hide_markup(text: str) -> str:
    """`text` without the markup that hides content, with what it hides (see above); HTML tags that
    draw nothing themselves are removed, their content kept. The math verifier reads answers through it."""
    if "color" in text or "scalebox" in text:
        text = _hide_latex(text)
    if "%" in text:
        text = _MATH_SPAN.sub(lambda m: _TEX_COMMENT.sub(r"\1", m.group()), text)
    if "<" in text:
        text = _hide_html(text)
    if "[" in text:
        text = _MD_LINK.sub(_link_text, _MD_LINK_DEFINITION.sub("", text))
    return text


def shows_something(text: str) -> bool:
    """Whether `text` renders at least one visible character (see the module docstring)."""
    if text.isascii() and not _MARKUP.search(text):  # plain ASCII: any non-space character shows
        return not text.isspace() and bool(text)
    if not _CAN_HIDE.search(text) and _SHOWN.search(text):
        return True  # a digit, or a letter that is no command name, with nothing that could hide it
    if "&" in text:
        text = html.unescape(text)  # &nbsp;, &#x200B; are the characters they name
    text = _SHOWS_NOTHING.sub("", hide_markup(text))
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
