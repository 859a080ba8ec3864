"""Answer extraction for the math verifier (public as verifiers.math.extract_answer).

Only the text a completion commits to counts: after the last </think>, inside the last <answer> block when
there is one, then the last box, an "answer is" phrase, bold, and last-resort plain forms. Every scan is
bounded (the last 20 boxes, 5000 characters per brace match, the tail of the text), so a megabyte of
degenerate output costs milliseconds.
"""

from __future__ import annotations

import re

from verifiers.core import Completion, committed_text, split_completion
from verifiers.math.limits import MAX_ANSWER_CHARS  # an answer block longer than this is searched


def extract_answer(completion: Completion) -> str | None:
    """The final answer a completion commits to, or None.

    Only the visible part counts: text after the last </think>, never a separate reasoning field, and
    nothing at all when a <think> block is left open. Order: the last <answer>...</answer> block (searched
    again for a box, an "answer is" phrase or bold, else taken whole), the last \\boxed{}, the last
    "final answer is ..." / "answer: ..." phrase, the last **bold** span, then plain forms: a short
    completion taken whole, else the last $math$ of the last line, else the math a sentence ends with
    ("... gives 1 - \\sqrt{2}"), else the last number of the last line (not when that line holds many
    numbers or several equations). A hedge ("either 3 or 5", "\\boxed{3} or \\boxed{5}") is no answer;
    "3 or 5" is returned as written and compares as the list [3, 5], which never equals one value.
    """
    try:
        _, text = split_completion(completion)
    except TypeError:
        return None
    visible = committed_text(text)
    if visible is None:
        return None
    block = _last_tag_block(visible, "answer")
    if block is not None:
        found = _extract_marked(block)
        if found is None and block.strip():
            found = block.strip() if len(block.strip()) <= MAX_ANSWER_CHARS else _extract_plain(block)
    else:
        found = _extract_marked(visible)
        if found is None:
            found = _extract_plain(visible)
    if found is None:
        return None
    found = found.strip()
    if not found or _is_hedge(found):
        return None
    return found


def _last_tag_block(text: str, tag: str) -> str | None:
    start = text.rfind(f"<{tag}>")
    if start < 0:
        return None
    start += len(tag) + 2
    end = text.find(f"</{tag}>", start)
    return text[start:] if end < 0 else text[start:end]


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
# "final answer is", "final answer:", "the answer is", "answer:"; not "answered" or "an answer to".
_PHRASE_RE = re.compile(
    r"\bfinal answer\b\s*(?:is\b)?\s*[:=]?|\banswer\b\s*(?:is\b\s*[:=]?|[:=])", re.IGNORECASE
)
_BOLD_RE = re.compile(r"\*\*([^*\n]{1,200})\*\*")
_MATH_SEG_RE = re.compile(
    r"\$\$([^$]{1,1000})\$\$|\$([^$]{1,1000})\$|\\\((.{1,1000}?)\\\)|\\\[(.{1,1000}?)\\\]", re.DOTALL
)
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?%?")
# What may stand between two answers offered together: spacing, punctuation, "or"/"and", \quad, \\, "(or".
_CONNECTIVE_RE = re.compile(
    r"(?:\s|[$.,;:/&~()]|\\[,;:! ]|\\q?quad\b|\\\\|\\text\s*\{\s*(?:or|and)?\s*\}|\b(?:or|and)\b)*",
    re.IGNORECASE,
)


def _extract_marked(text: str) -> str | None:
    """A box, an "answer is" phrase or a bold span, last one wins."""
    boxes = boxed_contents(text)
    if boxes:
        if len(boxes) >= 2 and _offered_together(text, boxes[-2], boxes[-1]):
            return ""  # "\boxed{3} or \boxed{5}": a hedge, and no other rule may pick one of them
        return boxes[-1][0]
    phrase = _extract_phrase(text)
    if phrase is not None:
        return phrase
    tail = text[-20_000:]
    bolds = [(m.group(1), m.end(), m.start()) for m in _BOLD_RE.finditer(tail)]
    if bolds:
        if len(bolds) >= 2 and _offered_together(tail, bolds[-2], bolds[-1]):
            return ""  # "**3** or **5**"
        return strip_dollars(bolds[-1][0])
    return None


def _offered_together(text: str, first: tuple[str, int, int], last: tuple[str, int, int]) -> bool:
    """Two different answers (content, end, start) with only a connective or spacing between them
    ("\boxed{3} and \boxed{5}", "\boxed{3}\boxed{5}"): the model offers both, so neither counts."""
    if first[1] > last[2] or first[0].strip() == last[0].strip():
        return False  # nested (\boxed{\boxed{5}}), or the same answer repeated
    gap = text[first[1] : last[2]]
    return len(gap) <= 40 and _CONNECTIVE_RE.fullmatch(gap) is not None


def boxed_contents(text: str) -> list[tuple[str, int, int]]:
    """(content, end, start) of the last few balanced \\boxed{...} / \\fbox{...} (bounded work on any input)."""
    out = []
    for m in list(_BOX_RE.finditer(text))[-20:]:
        close = matching_brace(text, m.end() - 1)
        if close is not None:
            out.append((text[m.end() : close], close + 1, m.start()))
    return out


def matching_brace(text: str, open_at: int, limit: int = 5000) -> int | None:
    """Index of the brace closing text[open_at], skipping escaped \\{ \\}; None if not within limit."""
    depth = 0
    for i in range(open_at, min(len(text), open_at + limit)):
        c = text[i]
        if c in "{}" and i > 0 and text[i - 1] == "\\":
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _extract_phrase(text: str) -> str | None:
    tail = text[-20_000:]
    last = None
    for m in _PHRASE_RE.finditer(tail):
        last = m
    if last is None:
        return None
    rest = tail[last.end() :].lstrip(" \t*")
    lines = [ln.strip() for ln in rest.split("\n")]
    line = next((ln for ln in lines if ln), "")
    line = line.strip("*").strip()
    segs = [
        (next(g for g in m.groups() if g is not None), m.end(), m.start())
        for m in _MATH_SEG_RE.finditer(line)
    ]
    if segs:
        if len(segs) >= 2 and _offered_together(line, segs[0], segs[1]):
            return ""  # "the answer is $3$ or $5$": a hedge
        return segs[0][0]
    line = re.sub(r"[.\s]+$", "", line)
    return line if 0 < len(line) <= 200 else None


def strip_dollars(s: str) -> str:
    s = s.strip()
    seg = _MATH_SEG_RE.fullmatch(s)
    return next(g for g in seg.groups() if g is not None) if seg else s


def _extract_plain(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if len(text) <= 40 and "\n" not in text and (not _PROSE_WORD_RE.search(text) or len(text.split()) == 1):
        return strip_dollars(text.rstrip("."))  # the whole completion is the answer
    last_line = text[text.rfind("\n") + 1 :][-2000:]
    segs = _MATH_SEG_RE.findall(last_line)
    if segs:
        return next(g for g in segs[-1] if g)
    tail = _math_tail(last_line)
    if tail is not None:
        return tail
    numbers = _NUMBER_RE.findall(last_line)
    if not numbers or len(numbers) > 10 or last_line.count("=") > 1:
        return None  # many numbers or several equations: guesses or working, not an answer (#60)
    return numbers[-1].rstrip(",")


_MATHY_RE = re.compile(r"[\d\\+*/^=()<>]|^-$|^-[\d\\(]")
_PROSE_WORD_RE = re.compile(r"(?<![\\a-zA-Z])(?!(?:sqrt|exp|pi|ln|log|sin|cos|tan)\b)[a-zA-Z]{2,}")


def _math_tail(line: str) -> str | None:
    """The math expression a sentence ends with: "... taking the smaller root gives 1 - \\sqrt{2}"."""
    tokens = line.strip().rstrip(".").split()
    taken: list[str] = []
    for tok in reversed(tokens[-30:]):
        joins = taken and (tok in ("or", "and") or (len(tok) == 1 and tok.isalpha()))
        if _MATHY_RE.search(tok) or joins:
            taken.append(tok)
        else:
            break
    while taken and taken[-1] in ("or", "and"):  # "... roots are x = 2 or x = 3": drop a leading "are"-side
        taken.pop()
    if not taken or (len(taken) == 1 and _NUMBER_RE.fullmatch(taken[0])):
        return None  # a bare number is left to the last-number rule
    if any(
        _NUMBER_RE.fullmatch(a) and _NUMBER_RE.fullmatch(b) and not b.endswith(",")
        for a, b in zip(taken, taken[1:], strict=False)
    ):
        return None  # "1 1 1 ...": numbers side by side are degenerate output; "3, 4 or 5" is a list
    expr = " ".join(reversed(taken)).rstrip(",;:")
    one_equation_each = all(piece.count("=") <= 1 for piece in re.split(r"\s(?:or|and)\s", expr))
    return expr if one_equation_each and len(expr) <= 200 else None


def _is_hedge(answer: str) -> bool:
    """ "either 7 or 9", "maybe 4". A plain "2 or 3" stays: it compares as the list [2, 3], which is
    right for the roots {2, 3} and never equal to a single gold."""
    flat = re.sub(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}", r"\1", answer)
    return bool(re.search(r"(?:^|[\s$,(])(?:either|maybe|perhaps|possibly|probably)(?:[\s$(]|$)", flat, re.I))
