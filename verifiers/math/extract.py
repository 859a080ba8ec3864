"""Answer extraction for the math verifier (public as verifiers.math.extract_answer).

Only the text a completion commits to counts: after the last </think>, inside the last <answer> block when
there is one, then the last box, an "answer is" phrase, bold, and last-resort plain forms. Every scan is
bounded (the last 20 boxes, 5000 characters per brace match, the tail of the text), so a megabyte of
degenerate output costs milliseconds.
"""

from __future__ import annotations

import re

from verifiers.core import Completion, committed_text, split_completion
from verifiers.format import hide_markup
from verifiers.math.limits import MAX_ANSWER_CHARS  # an answer block longer than this is searched


def extract_answer(completion: Completion) -> str | None:
    """The final answer a completion commits to, or None.

    Only the visible part counts: text after the last </think>, never a separate reasoning field, and
    nothing at all when a <think> block is left open; chat-template tokens (`<|im_end|>`, `<|im_start|>user`
    ...) end the text. Order: the last <answer>...</answer> block (searched again for a box, an "answer
    is" phrase or bold, else taken whole), the last \\boxed{} (or a "final answer is ..." phrase written
    after it), the last "final answer is ..." / "answer: ..." / "答案是 ..." phrase, the last **bold**
    span, then plain forms: a short completion taken whole, else a display block or matrix the text ends
    with, else the last $math$ of the last line (or the number after it: "the largest $n$ is 34"), else
    the math a sentence ends with ("... gives 1 - \\sqrt{2}"), else the last number of the last line (not
    when that line holds many numbers or several equations). A hedge ("either 3 or 5") is no answer, and
    neither are several answers offered together ("\\boxed{3} or \\boxed{5}": see extract_answers);
    "3 or 5" is returned as written and compares as the list [3, 5], which never equals one value.
    """
    answers = extract_answers(completion)
    return answers[0] if answers is not None and len(answers) == 1 else None


def extract_answers(completion: Completion) -> list[str] | None:
    """The answers a completion commits to: one, or several offered together ("\\boxed{1} and
    \\boxed{2}", "$3$ or $5$", "**3**, **5**"), in order; None when there is none.

    Several answers equal a gold with several parts ("1 and 2", "\\{1, 2\\}") compared as a list,
    and never a gold with one value, so offering alternatives for one answer is a hedge that scores 0.
    """
    try:
        _, text = split_completion(completion)
    except TypeError:
        return None
    visible = committed_text(text)
    if visible is None:
        return None
    visible = _cut_chat_tokens(visible)
    if _MAY_HIDE_RE.search(visible):
        visible = hide_markup(visible)  # what the reader cannot see is no answer (format's rule)
    blocks = _answer_blocks(visible)
    if blocks:
        # every <answer> block counts (two blocks, or one nested in another, offer two answers), and
        # nothing after the last may retract it ("<answer>3</answer> Actually the answer is \boxed{5}")
        found = []
        for block in blocks:
            got = _from_block(block)
            if got is None:
                continue
            if not got:
                return None
            found.extend(g for g in got if g not in found)
        if _contradicts(visible[visible.rfind("</answer>") + 9 :] if "</answer>" in visible else "", found):
            return None
    else:
        found = _extract_marked(visible)
        if found is None:
            plain = _extract_plain(visible)
            found = None if plain is None else [plain]
    if not found:
        return None
    found = [unstrike(f).strip() for f in found]
    if not all(found) or any(_is_hedge(f) for f in found):
        return None
    return found


# Struck-out text is taken back: markdown ~~…~~, HTML <del>/<s>/<strike>, \sout{…}/\st{…} anywhere in an
# answer, and a \cancel{…} (also \bcancel, \xcancel) the answer opens with. A \cancel inside an
# expression is a cancelled factor ("\frac{\cancel{2}x}{\cancel{2}}"), so it stays.
_STRUCK_RE = re.compile(
    r"(?<![\\\w~])~~(?=\S)[^~\n]*?(?<=\S)~~(?![~\w])|<(del|s|strike)\b[^<>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_STRIKE_CMD_RE = re.compile(r"\\(?:sout|st)\s*\{")
_LEADING_CANCEL_RE = re.compile(r"^\s*\$?\s*\\[bx]?cancel\s*\{")


def unstrike(answer: str) -> str:
    """`answer` without its struck-out text (see above): "~~5~~ 3" is 3, "~~3~~" is nothing."""
    if "~~" in answer or "<" in answer:
        answer = _STRUCK_RE.sub(" ", answer)
    for _ in range(20):
        m = _STRIKE_CMD_RE.search(answer) or _LEADING_CANCEL_RE.search(answer)
        if m is None:
            break
        close = matching_brace(answer, m.end() - 1)
        if close is None:
            break
        answer = answer[: m.start()] + " " + answer[close + 1 :]
    return answer


_MAY_HIDE_RE = re.compile(r"color|scalebox|<[a-zA-Z]|\]\(|\]:")


def _from_block(block: str) -> list[str] | None:
    """The answers in one <answer> block: marked ones, else the block itself; [] when refused."""
    found = _extract_marked(block)
    if found is None and block.strip():
        plain = block.strip() if len(block.strip()) <= MAX_ANSWER_CHARS else _extract_plain(block)
        found = None if plain is None else [plain]
    return found


def _answer_blocks(text: str) -> list[str]:
    """The contents of the <answer> blocks (the last 20): each runs to its </answer> or to the next
    <answer>, so a block nested in another is a block of its own."""
    starts = [m.end() for m in _ANSWER_OPEN_RE.finditer(text)][-20:]
    out = []
    for start in starts:
        ends = [e for e in (text.find("</answer>", start), text.find("<answer>", start)) if e >= 0]
        out.append(text[start : min(ends)] if ends else text[start:])
    return out


# Words that take back the answer written just before them: "\boxed{3} is wrong", "... 3 is not correct".
_NEGATED_AFTER_RE = re.compile(
    r"^[\s$.)\]*]*(?:\\[)\]]\s*)?(?:is|was|would be|seems|looks|appears)?\s*(?:(?:not|n't|never)\b|"
    r"(?:wrong|incorrect|false|invalid|impossible|a mistake|an error|mistaken|ruled out|excluded)\b|"
    r"是错|错了|错误|不对|不正确|不是)",
    re.IGNORECASE,
)
# Words that negate the answer right before it: "the answer is not \boxed{3}", "cannot be **3**".
_NEGATED_BEFORE_RE = re.compile(
    r"(?:\bnot|n't|\bnever|\bcannot be|\brule[sd]? out|\bruling out|\bexclude[sd]?|\bexcluding|\bexcept|"
    r"\\neq?|≠|不是|不等于)(?:\s+(?:be|equal to|equal|equals|to))?[\s$(\\\[:]*$",
    re.IGNORECASE,
)
# A question mark right after a box or bold answer: "Could it be \boxed{3}?", "**3**?" (not an answer).
_QUESTIONED_RE = re.compile(r"^[\s$)\]*]*(?:\\[)\]]\s*)?[\s$*]*[?？]")
# A retraction or hedge right after the answer that names another value: "\boxed{3} (just kidding, it
# is 5)", "<answer>3</answer> (Or possibly 5.)", "<answer>3</answer> wait, no: 5".
_RETRACT_RE = re.compile(
    r"\b(?:actually|kidding|instead|rather|correction|or|maybe|perhaps|possibly|probably|unless|otherwise|"
    r"alternatively|wait|oops|sorry)\b|或|也许|可能|其实|不对",
    re.IGNORECASE,
)


_ANSWER_OPEN_RE = re.compile(r"<answer>")
_ANSWER_TAG_RE = re.compile(r"</?answer>")
_SPACING_RE = re.compile(r"\s+|\$|\\[,;:! ]")
_PARAGRAPH_RE = re.compile(r"\n\s*\n")
_AFTER_SENTENCE_RE = re.compile(r"(?<=[.!。！])\s")
_CLAUSE_RE = re.compile(r"[,;:]|[.!?](?=\s)")


def _same_answers(a: list[str], b: list[str]) -> bool:
    def key(x: str) -> str:
        return _SPACING_RE.sub("", x)

    return sorted(map(key, a)) == sorted(map(key, b))


def _contradicts(tail: str, found: list[str]) -> bool:
    """True when the text after an answer takes it back: it says the answer is wrong, or states a
    different one (a box or an "answer is" phrase)."""
    tail = _ANSWER_TAG_RE.sub(" ", tail)
    if not tail.strip():
        return False
    if _NEGATED_AFTER_RE.match(tail):
        return True
    later = outer_boxes(tail)
    stated = _offered(tail, later) if later else _extract_phrase(tail) if _PHRASE_RE.search(tail) else None
    if stated is not None:
        return not _same_answers(stated, found)
    head = _PARAGRAPH_RE.split(tail.strip(), maxsplit=1)[0][:300]  # the rest of the paragraph
    if len(found) == 1 and _RETRACT_RE.search(head):
        segs = [next(g for g in m.groups() if g) for m in _MATH_SEG_RE.finditer(head)]
        return any(not _same_answers([v.rstrip(",")], found) for v in segs or _NUMBER_RE.findall(head))
    return False


def extract_gold(reference: str) -> str | None:
    """The answer in a gold as datasets ship it: GSM8K's "... #### 72", a sentence ("The answer is 72."),
    a full solution with a box, several boxes (joined as a list), or a bare answer (returned as is).
    None when the gold has such a marker but no answer after it ("####" alone)."""
    text = reference.strip()
    if "####" in text:
        text = text[text.rfind("####") + 4 :].strip()
        return text.rstrip(".").strip() or None
    if "\\boxed" in text or "\\fbox" in text:
        boxes = boxed_contents(text)
        if boxes:
            return ", ".join(_offered(text, boxes)) if len(boxes) > 1 else boxes[-1][0].strip() or None
    if len(text) > 30 and _PHRASE_RE.search(text) or text.lower().startswith(("the answer", "answer")):
        phrase = _extract_phrase(text)
        if phrase:
            return ", ".join(phrase)
    return text


# Chat-template and end-of-text tokens: whatever follows one is not the model's answer.
_CHAT_TOKEN_RE = re.compile(r"<\|(?:im_start|im_end|endoftext|end_of_text|eot_id|end|user|assistant)\|>|</s>")


def _cut_chat_tokens(text: str) -> str:
    """The text up to the first chat-template token that follows some content."""
    for m in _CHAT_TOKEN_RE.finditer(text):
        if text[: m.start()].strip():
            return text[: m.start()]
    return text


def _last_tag_block(text: str, tag: str) -> str | None:
    start = text.rfind(f"<{tag}>")
    if start < 0:
        return None
    start += len(tag) + 2
    end = text.find(f"</{tag}>", start)
    return text[start:] if end < 0 else text[start:end]


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
# "final answer is", "final answer:", "the answer is", "answer:", "答案是 / 答案为 / 最终答案："; not "answered"
# or "an answer to".
_PHRASE_RE = re.compile(
    r"\bfinal answer\b\s*(?:is\b)?\s*[:=]?|\banswer\b\s*(?:is\b\s*[:=]?|[:=])|(?:最终)?答案\s*(?:是|为|[:：])\s*",
    re.IGNORECASE,
)
_FINAL_PHRASE_RE = re.compile(r"\bfinal answer is\b", re.IGNORECASE)
_BOLD_RE = re.compile(r"\*\*([^*\n]{1,200})\*\*")
# $$...$$, $...$, \(...\), \[...\]; an escaped \$ (currency) inside is content, not a delimiter.
_MATH_SEG_RE = re.compile(
    r"(?<!\\)\$\$((?:\\.|[^$\\]){1,1000}?)\$\$|(?<!\\)\$((?:\\.|[^$\\]){1,1000}?)(?<!\\)\$"
    r"|\\\((.{1,1000}?)\\\)|\\\[(.{1,1000}?)\\\]",
    re.DOTALL,
)
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?%?")
# What may stand between two answers offered together: spacing, punctuation, "or"/"and", \quad, \\, "(or".
_CONNECTIVE_RE = re.compile(
    r"(?:\s|[$.,;:/&~()]|\\[,;:! ]|\\q?quad\b|\\\\|\\text\s*\{\s*(?:or|and)?\s*\}|\b(?:or|and)\b)*",
    re.IGNORECASE,
)
# Minerva's closing formula and the like: a sentence after the answer that is not part of it.
_AFTER_ANSWER_RE = re.compile(r"\.\s+(?:I hope|Hope|This is|That is|Thus|So|Therefore)\b.*$|[。．].*$")

Found = tuple[str, int, int]  # (content, end, start) of a marked answer in its text


def _extract_marked(text: str) -> list[str] | None:
    """A box, an "answer is" phrase or a bold span, last one wins; several when offered together."""
    boxes = outer_boxes(text)
    if boxes:
        tail = text[boxes[-1][1] :]
        later = _FINAL_PHRASE_RE.search(tail[-2000:])
        if later is not None:  # "\boxed{16N} ... The final answer is (C).": the phrase is the commitment
            phrase = _extract_phrase(tail[-2000:])
            if phrase:
                return phrase
        offered = _offered(text, boxes)
        # "\boxed{3} is wrong; the answer is 5": the last box is taken back, so there is no answer;
        # "the answer is not \boxed{3}": negated where it stands
        before = text[max(0, boxes[-1][2] - 80) : boxes[-1][2]]
        if _contradicts(tail[:2000], offered) or _NEGATED_BEFORE_RE.search(before) or _QUESTIONED_RE.match(tail):
            return []
        return offered
    phrase = _extract_phrase(text)
    if phrase is not None:
        return phrase
    tail = text[-20_000:]
    bolds = [(m.group(1), m.end(), m.start()) for m in _BOLD_RE.finditer(tail)]
    if bolds:
        offered = [strip_dollars(b) for b in _offered(tail, bolds)]
        before = tail[max(0, bolds[-1][2] - 80) : bolds[-1][2]]
        after = tail[bolds[-1][1] :]
        refused = _NEGATED_AFTER_RE.match(after) or _NEGATED_BEFORE_RE.search(before) or _QUESTIONED_RE.match(after)
        return [] if refused else offered
    return None


def _offered(text: str, found: list[Found]) -> list[str]:
    """The last answer and those offered together with it ("\\boxed{3} and \\boxed{5}"), in order."""
    chain = [found[-1]]
    for prev in reversed(found[:-1]):
        if not _offered_together(text, prev, chain[0]):
            break
        chain.insert(0, prev)
    out: list[str] = []
    for content, _, _ in chain:
        if content.strip() not in out:
            out.append(content.strip())
    return out


def _offered_together(text: str, first: Found, last: Found) -> bool:
    """Two boxes or bold answers (content, end, start) offered together: nothing but a few words between
    them, in one sentence ("\\boxed{3} \\vee \\boxed{5}", "\\boxed{3} or else \\boxed{5}", "**5**, maybe
    **3**", a bulleted list, "\\boxed{3}\\boxed{5}"). What the boxes hold decides, not the connective;
    boxes apart (a sentence or some reasoning between them) are working, and the last one counts."""
    if first[1] > last[2]:
        return False  # nested: \boxed{\boxed{5}}
    gap = text[first[1] : last[2]]
    if len(gap) > 300 or _SENTENCE_END_RE.search(gap):
        return False
    return len(_PROSE_RE.findall(_COMMAND_RE.sub(" ", gap))) < 4


def _segs_together(text: str, first: Found, last: Found) -> bool:
    """Two math spans after an "answer is" phrase offered together: only a connective between them
    ("$3$ or $5$"), or a hedge in one sentence ("$3$, or maybe $5$", "$3$ unless it is $5$")."""
    gap = text[first[1] : last[2]]
    if len(gap) <= 40 and _CONNECTIVE_RE.fullmatch(gap) is not None:
        return True
    return len(gap) <= 200 and not _SENTENCE_END_RE.search(gap) and _HEDGE_RE.search(gap) is not None


_SENTENCE_END_RE = re.compile(r"(?<!\d)[.!?。！？](?=\s|$|\$|\\[)\]])")
_PROSE_RE = re.compile(r"[^\W\d_]{2,}")
_COMMAND_RE = re.compile(r"\\[a-zA-Z]+")
_HEDGE_RE = re.compile(
    r"\b(?:or|either|maybe|perhaps|possibly|probably|unless|otherwise|else|alternatively|also|might|could)\b"
    r"|\\(?:lor|vee)(?![a-zA-Z])|或|或者|也许|可能",
    re.IGNORECASE,
)


def outer_boxes(text: str) -> list[Found]:
    """The boxes not inside another box, their contents with any inner box unwrapped: in
    "\\boxed{\\boxed{3} or 5}" the answer is "3 or 5", not the inner 3."""
    out: list[Found] = []
    for content, end, start in boxed_contents(text):
        if out and start < out[-1][1]:
            continue  # inside the previous box
        out.append((unbox(content), end, start))
    return out


def unbox(text: str) -> str:
    """text with every \\boxed{...} / \\fbox{...} wrapper removed, keeping what it holds."""
    for _ in range(20):
        m = _BOX_RE.search(text)
        if m is None:
            break
        close = matching_brace(text, m.end() - 1)
        if close is None:
            break
        text = text[: m.start()] + text[m.end() : close] + text[close + 1 :]
    return text


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


def _extract_phrase(text: str) -> list[str] | None:
    tail = text[-20_000:]
    last = None
    for m in _PHRASE_RE.finditer(tail):
        last = m
    if last is None:
        return None
    rest = tail[last.end() :].lstrip(" \t*")
    lines = [ln.strip() for ln in rest.split("\n")]
    line = next((ln for ln in lines if ln), "")
    line = line.replace("**", "").strip("*").strip()  # "The answer is **5**."
    if _NEGATED_AFTER_RE.match(line) or _question(line):
        return []  # "the answer is not $3$", "the answer is $3$?"
    segs = [
        (next(g for g in m.groups() if g is not None), m.end(), m.start())
        for m in _MATH_SEG_RE.finditer(line)
    ]
    if segs:
        first = [segs[0]]
        for seg in segs[1:]:
            if not _segs_together(line, first[-1], seg):
                break
            first.append(seg)
        if _NEGATED_AFTER_RE.match(line[first[-1][1] :]):
            return []  # "the answer is $3$, which is wrong"
        return list(dict.fromkeys(content.strip() for content, _, _ in first))
    line = _AFTER_ANSWER_RE.sub("", line)
    line = re.sub(r"[.\s]+$", "", line)
    return [line] if 0 < len(line) <= 200 else None


def _question(sentence: str) -> bool:
    """True when the sentence an answer sits in is a question ("Is the answer $3$?")."""
    first = _AFTER_SENTENCE_RE.split(sentence, maxsplit=1)[0]
    return first.rstrip(" $*").endswith(("?", "？"))


def strip_dollars(s: str) -> str:
    s = s.strip()
    seg = _MATH_SEG_RE.fullmatch(s)
    return next(g for g in seg.groups() if g is not None) if seg else s


def _extract_plain(text: str) -> str | None:
    """A plain answer (see extract_answer), unless the sentence it sits in asks, negates or hedges it:
    "Is the answer $3$?", "We can rule out 3.", "The answer cannot be $3$.", "$3$ unless it is $5$"."""
    found = _plain_answer(text)
    if found is None:
        return None
    text = text.strip()
    last_line = text[text.rfind("\n") + 1 :][-2000:]
    at = last_line.rfind(found)
    before = last_line[: at if at >= 0 else len(last_line)]
    clause = _CLAUSE_RE.split(before)[-1]
    if _question(last_line[max(at, 0) :]) or _NEGATION_RE.search(clause):
        return None
    values = _MATH_SEG_RE.findall(last_line) or _NUMBER_RE.findall(last_line)
    if len(values) > 1 and _PLAIN_HEDGE_RE.search(last_line):
        return None
    other = re.search(_OR_BEFORE + re.escape(found), last_line) if len(values) > 1 else None
    if other is not None:  # "There are 12 or 9 muffins.", "$12$ or $9$": offered together, a list
        return f"{strip_dollars(other.group(1))}, {found}"
    return found


_NEGATION_RE = re.compile(
    r"\b(?:not|cannot|never|rule[sd]? out|ruling out|exclude[sd]?|excluding|eliminate[sd]?|except|wrong|"
    r"incorrect|false|unlikely|rather than|instead of)\b|n't\b",
    re.IGNORECASE,
)
# Another value, at most a word (a unit), "or", then the answer: "12 or 9", "12 muffins or 9", "$12$ or $9$"
_OR_BEFORE = r"(\$[^$\n]{1,200}\$|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d[\d./]*)\s*(?:[^\W\d_]+\s*)?,?\s*(?:\bor\b|或)\s*\$?\s*"
_PLAIN_HEDGE_RE = re.compile(
    r"\b(?:maybe|perhaps|possibly|probably|unless|otherwise|alternatively|either|or else)\b|或|也许",
    re.IGNORECASE,
)


def _plain_answer(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if len(text) <= 40 and "\n" not in text and (not _PROSE_WORD_RE.search(text) or len(text.split()) == 1):
        return strip_dollars(text.rstrip("."))  # the whole completion is the answer
    display = _trailing_display(text)
    if display is not None:
        return display
    last_line = text[text.rfind("\n") + 1 :][-2000:]
    segs = list(_MATH_SEG_RE.finditer(last_line))
    if segs:
        after = _NUMBER_AFTER_RE.match(last_line, segs[-1].end())
        if after is not None:  # "The largest $n$ is 34."
            return after.group(1)
        return next(g for g in segs[-1].groups() if g)
    tail = _math_tail(last_line)
    if tail is not None:
        return tail
    numbers = _NUMBER_RE.findall(last_line)
    if not numbers or len(numbers) > 10 or last_line.count("=") > 1:
        return None  # many numbers or several equations: guesses or working, not an answer (#60)
    return numbers[-1].rstrip(",")


_NUMBER_AFTER_RE = re.compile(r"\s*(?:is|are|equals|=)\s+(-?\d[\d,]*(?:\.\d+)?)\s*\.?\s*$")
_END_ENV_RE = re.compile(r"\\end\{([a-zA-Z]*matrix|array|cases)\}\s*(?:\\right\s*[)\]]\s*)?[.$]*$")


def _trailing_display(text: str) -> str | None:
    """A display block or a matrix the text ends with, over several lines: "$$\\n9\\n$$",
    "\\[ \\n 9 \\n \\]", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"."""
    tail = text[-3000:].rstrip(" .")
    if tail.endswith(("\\]", "$$")):
        segs = list(_MATH_SEG_RE.finditer(tail))
        if segs and segs[-1].end() == len(tail):
            return next(g for g in segs[-1].groups() if g is not None).strip()
    m = _END_ENV_RE.search(tail)
    if m is not None:
        start = tail.rfind("\\begin{" + m.group(1) + "}", 0, m.start())
        if start >= 0:
            left = re.search(r"\\left\s*[(\[]\s*$", tail[:start])
            return tail[left.start() if left else start :].rstrip(" .$")
    return None


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
