"""Math answer verification: extract the final answer from a completion and decide if it equals the gold.

    extract_answer(completion) -> str | None     the answer a completion commits to (R1-aware)
    math_equal(gold, pred, *, timeout=5.0) -> bool
    MathVerifier(timeout=5.0, workers=None)      registered as "math"

How a pair is decided, cheapest first:
1. Both strings are normalised (boxes, $, \\text{}, \\left, units, degrees, thousands separators, plain-text
   math such as `sqrt(2)` or `pi/2` rewritten to LaTeX) and split into a structure: sets, lists, tuples,
   intervals, unions, matrices, equations and inequalities, with expressions ("atoms") at the leaves.
2. Atoms are compared in this process when that is exact and cheap: identical text, numbers (integers,
   decimals, fractions, percentages) compared as `fractions.Fraction`, words compared case-insensitively.
3. Anything else goes to a pool of worker processes that parse atoms with latex2sympy2_extended and compare
   with sympy (verifiers/_math_sympy.py). A worker that runs past the deadline is killed and replaced, so a
   call returns within timeout + 0.2 s from any thread, asyncio task or Ray worker.

Gold and prediction are not symmetric. The gold sets the precision: gold "0.33" accepts 1/3 (1/3 rounds to
0.33), but gold "1/3" accepts a decimal only when it has at least 3 significant digits and is 1/3 rounded
or truncated to its own places ("0.333", not "0.33"). Two exact values (integers, fractions, terminating
decimals, surds) must be exactly equal: gold "0.5" equals "1/2", and 1/2^99 never equals 1/2^98. A gold
equation "x = 5" accepts the value "5", and a prediction "x = 5" or "2 + 3 = 5" is judged by its last side.
"""

from __future__ import annotations

import atexit
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from verifiers.core import Completion, Sample, Score, Status, Verifier, split_completion

# ---------------------------------------------------------------- caps (checked before any parser)

MAX_ANSWER_CHARS = 1000  # an extracted answer longer than this is rejected, not parsed
MAX_DEPTH = 12  # brace / bracket nesting
MAX_NUMBER_DIGITS = 1000  # digits in one literal (Python refuses int() of > 4300 digits anyway)
MAX_RESULT_DIGITS = 10_000  # a literal power a^b may have at most this many digits
MAX_FACTORIAL = 5000


# ---------------------------------------------------------------- extraction


def extract_answer(completion: Completion) -> str | None:
    """The final answer a completion commits to, or None.

    Only the visible part counts: text after the last </think>, never a separate reasoning field, and
    nothing at all when a <think> block is left open. Order: the last <answer>...</answer> block (searched
    again for a box, an "answer is" phrase or bold, else taken whole), the last \\boxed{}, the last
    "final answer is ..." / "answer: ..." phrase, the last **bold** span, then plain forms: a short
    completion taken whole, else the last $math$ of the last line, else the last number of the last line.
    A hedge ("3 or 5", "\\boxed{3} or \\boxed{5}") is not an answer.
    """
    try:
        _, text = split_completion(completion)
    except TypeError:
        return None
    visible = _visible_text(text)
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


def _visible_text(text: str) -> str | None:
    end = text.rfind("</think>")
    if end >= 0:
        return text[end + len("</think>") :]
    if "<think>" in text:  # thinking never finished: no committed answer
        return None
    return text


def _last_tag_block(text: str, tag: str) -> str | None:
    start = text.rfind(f"<{tag}>")
    if start < 0:
        return None
    start += len(tag) + 2
    end = text.find(f"</{tag}>", start)
    return text[start:] if end < 0 else text[start:end]


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_PHRASE_RE = re.compile(r"(?:final answer|the answer|answer)\s*(?:is|:|=)?\s*:?", re.IGNORECASE)
_BOLD_RE = re.compile(r"\*\*([^*\n]{1,200})\*\*")
_MATH_SEG_RE = re.compile(
    r"\$\$([^$]{1,1000})\$\$|\$([^$]{1,1000})\$|\\\((.{1,1000}?)\\\)|\\\[(.{1,1000}?)\\\]", re.DOTALL
)
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?%?")
_CONNECTIVE_RE = re.compile(r"^[\s$.,;:]*(?:or|and/or|,)[\s$.,;:]*$", re.IGNORECASE)


def _extract_marked(text: str) -> str | None:
    """A box, an "answer is" phrase or a bold span, last one wins."""
    boxes = _boxed_contents(text)
    if boxes:
        if len(boxes) >= 2 and _CONNECTIVE_RE.match(text[boxes[-2][1] : boxes[-1][2]]):
            return ""  # "\boxed{3} or \boxed{5}": a hedge, and no other rule may pick one of them
        return boxes[-1][0]
    phrase = _extract_phrase(text)
    if phrase is not None:
        return phrase
    bolds = _BOLD_RE.findall(text[-20_000:])
    if bolds:
        return _strip_dollars(bolds[-1])
    return None


def _boxed_contents(text: str) -> list[tuple[str, int, int]]:
    """(content, end, start) of the last few balanced \\boxed{...} / \\fbox{...} (bounded work on any input)."""
    out = []
    for m in list(_BOX_RE.finditer(text))[-20:]:
        close = _matching_brace(text, m.end() - 1)
        if close is not None:
            out.append((text[m.end() : close], close + 1, m.start()))
    return out


def _matching_brace(text: str, open_at: int, limit: int = 5000) -> int | None:
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
    seg = _MATH_SEG_RE.search(line)
    if seg:
        return next(g for g in seg.groups() if g is not None)
    line = re.sub(r"[.\s]+$", "", line)
    return line if 0 < len(line) <= 200 else None


def _strip_dollars(s: str) -> str:
    s = s.strip()
    seg = _MATH_SEG_RE.fullmatch(s)
    return next(g for g in seg.groups() if g is not None) if seg else s


def _extract_plain(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if len(text) <= 40 and "\n" not in text and (not _PROSE_WORD_RE.search(text) or len(text.split()) == 1):
        return _strip_dollars(text.rstrip("."))  # the whole completion is the answer
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
        if _MATHY_RE.search(tok) or (len(tok) == 1 and taken and tok.isalpha()):
            taken.append(tok)
        else:
            break
    if not taken or (len(taken) == 1 and _NUMBER_RE.fullmatch(taken[0])):
        return None  # a bare number is left to the last-number rule
    if any(
        _NUMBER_RE.fullmatch(a) and _NUMBER_RE.fullmatch(b) for a, b in zip(taken, taken[1:], strict=False)
    ):
        return None  # "1 1 1 ...": numbers side by side are a list or degenerate output
    expr = " ".join(reversed(taken)).rstrip(",;:")
    return expr if expr.count("=") <= 1 and len(expr) <= 200 else None


def _is_hedge(answer: str) -> bool:
    flat = re.sub(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}", r"\1", answer)
    return bool(re.search(r"(?:^|[\s$,)])(?:or|either)(?:[\s$(]|$)", flat))


# ---------------------------------------------------------------- normalisation

_UNWRAP_RE = re.compile(
    r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}"
)
_REMOVE = [
    (re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])"), ""),
    (re.compile(r"\\(?:displaystyle|textstyle|quad|qquad)(?![a-zA-Z])|(?<!\\)\\[!,;: ]|~"), " "),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![a-zA-Z])"), ""),
    (re.compile(r"\\[dt]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\frac\s*\{([^{}]*)\}\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\sqrt\s*(\d+|[a-zA-Z])(?![a-zA-Z])"), r"\\sqrt{\1}"),
    (re.compile(r"\\\$|\\%"), lambda m: m.group()[1:]),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\(?:le|leq|leqslant)(?![a-zA-Z])|≤"), r" \\le "),
    (re.compile(r"\\(?:ge|geq|geqslant)(?![a-zA-Z])|≥"), r" \\ge "),
    (re.compile(r"\\(?:ne|neq)(?![a-zA-Z])|≠"), r" \\ne "),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
    (re.compile(r"\\(?:varnothing|emptyset)(?![a-zA-Z])|∅"), r"\\{\\}"),
    (re.compile(r"\\lbrace(?![a-zA-Z])"), r"\\{"),
    (re.compile(r"\\rbrace(?![a-zA-Z])"), r"\\}"),
]
# Plain-text math as models write it outside LaTeX.
_PLAIN = [
    (re.compile(r"\*\*"), "^"),
    (re.compile(r"−"), "-"),
    (re.compile(r"[×·]"), r" \\cdot "),
    (re.compile(r"π|(?<![\\a-zA-Z])pi(?![a-zA-Z])"), r"\\pi "),
    (re.compile(r"∞|(?<![\\a-zA-Z])(?:infinity|inf)(?![a-zA-Z])"), r"\\infty "),
    (re.compile(r"(?<![\\a-zA-Z])(sin|cos|tan|cot|sec|csc|ln|log|arcsin|arccos|arctan)(?=\s*\()"), r"\\\1"),
    (re.compile(r"√\s*(\d+|[a-zA-Z])"), r"\\sqrt{\1}"),
]
# "12 cm", "10 cm^2", "5 m/s": a number, a space, then one to three unit-like words.
_UNITS_RE = re.compile(
    r"^(-?[\d.,/]+%?)\s+(?:(?:[a-zA-Z]{2,}|[a-zA-Z]{1,2}(?=\^|/))(?:/[a-zA-Z]+)?(?:\^\{?[23]\}?)?\.?\s*){1,3}$"
)
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_PAREN_CALL_RE = re.compile(r"(?<![\\a-zA-Z])(sqrt|exp)\s*\(")


def normalize(answer: str) -> str:
    """Canonical text of an answer: what the structure parser and the number fast path read."""
    s = str(answer).strip()
    boxes = _boxed_contents(s)
    if boxes:
        s = boxes[-1][0]
    s = _strip_dollars(s)
    for _ in range(3):  # nested wrappers: \text{\textbf{B}}
        s2 = _UNWRAP_RE.sub(r"\1", s)
        if s2 == s:
            break
        s = s2
    for pattern, repl in _REMOVE:
        s = pattern.sub(repl, s)
    for pattern, repl in _PLAIN:
        s = pattern.sub(repl, s)
    s = _rewrite_calls(s)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"^\\?\$\s*|\s*(?:\\?\$)$", "", s)  # dollars as currency
    s = re.sub(r"[\s.]+$", "", s) if not re.search(r"\d\.$", s) or s.endswith("..") else s.rstrip(".")
    s = re.sub(r"^[a-zA-Z]\s*\\in\s+", "", s)  # "x \\in [0, 1]"
    m = _UNITS_RE.match(s)
    if m and not _is_text(s):
        s = m.group(1)
    if _THOUSANDS_RE.match(s) or re.match(r"^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$", s):
        s = s.replace(",", "").replace(" ", "")
    return s


def _rewrite_calls(s: str) -> str:
    """sqrt(x) -> \\sqrt{x}, exp(x) -> e^{x}, with balanced parentheses."""
    for _ in range(20):
        m = _PAREN_CALL_RE.search(s)
        if m is None:
            return s
        close = _matching_paren(s, m.end() - 1)
        if close is None:
            return s
        inner = s[m.end() : close]
        head = r"\sqrt{" if m.group(1) == "sqrt" else "e^{"
        s = s[: m.start()] + head + inner + "}" + s[close + 1 :]
    return s


def _matching_paren(s: str, open_at: int) -> int | None:
    depth = 0
    for i in range(open_at, len(s)):
        depth += {"(": 1, ")": -1}.get(s[i], 0)
        if depth == 0:
            return i
    return None


def _squash(s: str) -> str:
    return s.replace(" ", "")


# ---------------------------------------------------------------- structure


@dataclass(frozen=True)
class Part:
    """A parsed answer. kind: atom | seq (tuple or interval) | set | list | union | matrix | rel.

    atom: text. seq: brackets ("()", "(]", ...) and items. set / list / union: items (order-free).
    matrix: items are rows (each a Part of kind "list" compared in order). rel: ops and items (the sides).
    """

    kind: str
    text: str = ""
    items: tuple[Part, ...] = ()
    brackets: str = ""
    ops: tuple[str, ...] = ()


_REL_RE = re.compile(r"\\le(?![a-zA-Z])|\\ge(?![a-zA-Z])|\\ne(?![a-zA-Z])|\\approx(?![a-zA-Z])|<|>|=")
_MATRIX_RE = re.compile(r"^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.DOTALL)


def parse_structure(s: str, depth: int = 0) -> Part:
    """Split a normalised answer into its structure; leaves are atoms (expression text)."""
    s = s.strip()
    if depth > 4:
        return Part("atom", s)
    if "\\pm" in s or "\\mp" in s:
        first = min(i for i in (s.find("\\pm"), s.find("\\mp")) if i >= 0)
        sign = (" + ", " - ") if s[first : first + 3] == "\\pm" else (" - ", " + ")
        head, rest = s[:first].strip(), s[first + 3 :].strip()
        a = f"{head}{sign[0]}{rest}" if head else rest
        b = f"{head}{sign[1]}{rest}" if head else f"-{rest}"
        return Part("set", items=(parse_structure(a, depth + 1), parse_structure(b, depth + 1)))
    m = _MATRIX_RE.match(s)
    if m:
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
        return Part(
            "matrix",
            items=tuple(
                Part("list", items=tuple(Part("atom", c.strip()) for c in r.split("&"))) for r in rows
            ),
        )
    pieces = _split_top(s, r"\\cup(?![a-zA-Z])|∪")
    if len(pieces) > 1:
        return Part("union", items=tuple(parse_structure(p, depth + 1) for p in pieces))
    if s.startswith("\\{") and s.endswith("\\}") and _encloses(s, 2):
        inner = s[2:-2].strip()
        items = _split_top(inner, r",|;") if inner else []
        return Part("set", items=tuple(parse_structure(p, depth + 1) for p in items))
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _encloses(s, 1):
        items = _split_top(s[1:-1], r",|;")
        if len(items) > 1:
            return Part(
                "seq", brackets=s[0] + s[-1], items=tuple(parse_structure(p, depth + 1) for p in items)
            )
    if not _THOUSANDS_RE.match(s):
        items = _split_top(s, r",|;|\s+and\s+|\\text\{\s*and\s*\}")
        if len(items) > 1:
            return Part("list", items=tuple(parse_structure(p, depth + 1) for p in items))
    sides = _split_top(s, _REL_RE.pattern, keep=True)
    if len(sides) > 1:
        ops = tuple(sides[1::2])
        return Part("rel", ops=ops, items=tuple(Part("atom", p.strip()) for p in sides[0::2]))
    return Part("atom", s)


def _encloses(s: str, width: int) -> bool:
    """True when the opening bracket at s[:width] closes only at the very end."""
    depth = 0
    i = 0
    while i < len(s):
        if s.startswith("\\{", i) or (s[i] in "([" and not s.startswith("\\", i - 1 if i else 0)):
            depth += 1
            i += 2 if s[i] == "\\" else 1
        elif s.startswith("\\}", i) or s[i] in ")]":
            depth -= 1
            i += 2 if s[i] == "\\" else 1
            if depth == 0 and i < len(s):
                return False
        else:
            i += 1
    return depth == 0


def _split_top(s: str, sep: str, keep: bool = False) -> list[str]:
    """Split s on the regex sep where it is not inside any (), [], {} (but \\{...\\} counts as nesting)."""
    out: list[str] = []
    depth = 0
    start = 0
    sep_re = re.compile(sep)
    i = 0
    while i < len(s):
        c = s[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            m = sep_re.match(s, i)
            if m and m.end() > i:
                if c == "," and _THOUSANDS_RE.match(s):
                    i += 1
                    continue
                out.append(s[start:i])
                if keep:
                    out.append(m.group().strip())
                start = i = m.end()
                continue
        i += 1
    out.append(s[start:])
    if any(not p.strip() for p in (out[0::2] if keep else out)):
        return [s]  # a dangling separator: not a structure
    return [p.strip() for p in out]


# ---------------------------------------------------------------- comparison of structures


class NeedSympy(Exception):
    """Raised by the cheap atom comparison when only sympy can decide."""


AtomEqual = Callable[[str, str], bool]


def compare(gold: Part, pred: Part, atom_equal: AtomEqual) -> bool:
    """Structural equality; atom_equal decides the leaves (and may raise NeedSympy)."""
    if gold.kind == "rel" or pred.kind == "rel":
        return _compare_relations(gold, pred, atom_equal)
    if gold.kind == "atom" and pred.kind == "atom":
        return atom_equal(gold.text, pred.text)
    if gold.kind in ("set", "list") and pred.kind in ("set", "list", "seq"):
        if pred.kind == "seq" and gold.kind == "set":
            return False
        if pred.kind == "seq":
            return _ordered(gold.items, pred.items, atom_equal)
        return _unordered(gold.items, pred.items, atom_equal)
    if gold.kind == "seq" and pred.kind == "seq":
        same = gold.brackets == pred.brackets
        return same and _ordered(gold.items, pred.items, atom_equal)
    if gold.kind == "seq" and pred.kind == "list" and gold.brackets == "()":
        return _ordered(gold.items, pred.items, atom_equal)  # "(1, 2)" written as "1, 2"
    if gold.kind == "union" and pred.kind == "union":
        return _unordered(gold.items, pred.items, atom_equal)
    if gold.kind == "matrix" and pred.kind == "matrix":
        return _ordered(gold.items, pred.items, atom_equal)
    if gold.kind == "set" and len(gold.items) == 1:
        return compare(gold.items[0], pred, atom_equal)
    if pred.kind == "set" and len(pred.items) == 1:
        return compare(gold, pred.items[0], atom_equal)
    return False


def _ordered(gold: Sequence[Part], pred: Sequence[Part], atom_equal: AtomEqual) -> bool:
    return len(gold) == len(pred) and all(compare(g, p, atom_equal) for g, p in zip(gold, pred, strict=True))


def _unordered(gold: Sequence[Part], pred: Sequence[Part], atom_equal: AtomEqual) -> bool:
    if len(gold) != len(pred):
        return False
    left = list(pred)
    for g in gold:
        hit = next((i for i, p in enumerate(left) if compare(g, p, atom_equal)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True


_FUNCTION_NAMES_RE = re.compile(
    r"\\?(?:sin|cos|tan|cot|sec|csc|ln|log|exp|sqrt|pi|d?frac|cdot|times|left|right|circ)(?![a-zA-Z])"
)
_FLIP = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le", "=": "=", "\\ne": "\\ne", "\\approx": "="}
_VARIABLE_RE = re.compile(r"^(?:[a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)(?:\([a-z]\))?$")  # x, x_1, \theta, f(x)


def _compare_relations(gold: Part, pred: Part, atom_equal: AtomEqual) -> bool:
    g_eq = gold.kind == "rel" and set(gold.ops) <= {"=", "\\approx"}
    p_eq = pred.kind == "rel" and set(pred.ops) <= {"=", "\\approx"}
    if p_eq and gold.kind != "rel":
        first = pred.items[0].text
        if _VARIABLE_RE.match(first) or not re.search(r"[a-zA-Z]", _FUNCTION_NAMES_RE.sub("", first)):
            return compare(gold, pred.items[-1], atom_equal)  # "x = 5", "2 + 3 = 5"
        return False  # "x + y = 0" does not state the value 0
    if g_eq and pred.kind != "rel":
        if len(gold.items) == 2 and _VARIABLE_RE.match(gold.items[0].text):
            return compare(gold.items[1], pred, atom_equal)  # gold "x = 5", pred "5"
        return False
    g_iv, p_iv = _as_interval(gold), _as_interval(pred)
    if g_iv is not None and p_iv is not None:
        return compare(g_iv, p_iv, atom_equal)
    if gold.kind != "rel" or pred.kind != "rel" or len(gold.items) != len(pred.items):
        return False
    if g_eq and p_eq and len(gold.items) == 2:
        g0, g1 = gold.items
        p0, p1 = pred.items
        if _ordered((g0, g1), (p0, p1), atom_equal) or _ordered((g0, g1), (p1, p0), atom_equal):
            return True
        return atom_equal(f"\\EQ{{{g0.text}}}{{{g1.text}}}", f"\\EQ{{{p0.text}}}{{{p1.text}}}")
    flipped_ops = tuple(_FLIP[o] for o in reversed(pred.ops))
    if gold.ops == pred.ops:
        return _ordered(gold.items, pred.items, atom_equal)
    if gold.ops == flipped_ops:
        return _ordered(gold.items, tuple(reversed(pred.items)), atom_equal)
    return False


def _as_interval(p: Part) -> Part | None:
    """A one-variable inequality as an interval: "x > 3" -> (3, oo), "1 \\le x < 2" -> [1, 2)."""
    if p.kind == "seq" and len(p.items) == 2:
        return p
    if p.kind != "rel" or not set(p.ops) <= {"<", ">", "\\le", "\\ge"}:
        return None
    items, ops = list(p.items), list(p.ops)
    if len(items) == 2 and not _VARIABLE_RE.match(items[0].text) and _VARIABLE_RE.match(items[1].text):
        items, ops = items[::-1], [_FLIP[o] for o in ops]  # "3 < x" -> "x > 3"
    if len(items) == 2 and _VARIABLE_RE.match(items[0].text):
        bound, op = items[1], ops[0]
        if op in ("<", "\\le"):
            return Part(
                "seq", brackets="(" + (")" if op == "<" else "]"), items=(Part("atom", "-\\infty"), bound)
            )
        return Part("seq", brackets=("(" if op == ">" else "[") + ")", items=(bound, Part("atom", "\\infty")))
    if len(items) == 3 and _VARIABLE_RE.match(items[1].text):
        if ops[0] in (">", "\\ge"):
            items, ops = items[::-1], [_FLIP[o] for o in reversed(ops)]
        if ops[0] in ("<", "\\le") and ops[1] in ("<", "\\le"):
            br = ("(" if ops[0] == "<" else "[") + (")" if ops[1] == "<" else "]")
            return Part("seq", brackets=br, items=(items[0], items[2]))
    return None


# ---------------------------------------------------------------- cheap atoms: numbers and words

_INT = r"\d+(?:\.\d+)?|\.\d+"
_NUM_RES = [
    ("dec", re.compile(rf"^([+-]?)({_INT})(%?)$")),
    ("frac", re.compile(r"^([+-]?)(\d+)\s*/\s*(\d+)(%?)$")),
    ("frac", re.compile(r"^([+-]?)\\frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}(%?)$")),
    ("negfrac", re.compile(r"^\\frac\{\s*-\s*(\d+)\s*\}\{\s*(\d+)\s*\}$")),
    ("mixed", re.compile(r"^([+-]?)(\d+)\s*\\frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}$")),
    ("sci", re.compile(rf"^([+-]?)({_INT})\s*(?:\\times|\\cdot)\s*10\^\{{?\s*([+-]?\d{{1,3}})\s*\}}?$")),
    ("sci", re.compile(rf"^([+-]?)({_INT})[eE]([+-]?\d{{1,3}})$")),  # Python's str() of a float reference
]


@dataclass(frozen=True)
class Number:
    """An exact number read from text; places is the count of decimals written (None: not a decimal)."""

    value: Fraction
    places: int | None = None
    percent: bool = False


def parse_number(s: str) -> Number | None:
    """Integers, decimals, a/b, \\frac{a}{b}, mixed numbers, a \\times 10^{k}, with optional %; else None."""
    s = s.strip()
    if not s or len(s) > MAX_NUMBER_DIGITS + 20:
        return None
    for kind, pattern in _NUM_RES:
        m = pattern.match(s)
        if m is None:
            continue
        g = m.groups()
        if kind == "dec":
            places = len(g[1].split(".")[1]) if "." in g[1] else None
            value = Fraction(g[1])
            return Number(-value if g[0] == "-" else value, places, bool(g[2]))
        if kind == "negfrac":
            return Number(-Fraction(int(g[0]), int(g[1]))) if int(g[1]) else None
        if kind == "frac":
            if int(g[2]) == 0:
                return None
            value = Fraction(int(g[1]), int(g[2]))
            return Number(-value if g[0] == "-" else value, None, bool(g[3]))
        if kind == "mixed":
            if int(g[3]) == 0:
                return None
            value = int(g[1]) + Fraction(int(g[2]), int(g[3]))
            return Number(-value if g[0] == "-" else value)
        if kind == "sci":
            value = Fraction(g[1]) * Fraction(10) ** int(g[2])
            return Number(-value if g[0] == "-" else value, None)
    return None


def numbers_equal(gold: Number, pred: Number) -> bool:
    """Exact equality, percent-aware, with the decimal rounding rules of the module docstring."""
    if gold.percent != pred.percent:
        pct, plain = (gold, pred) if gold.percent else (pred, gold)
        options = [(pct.value, plain.value), (pct.value / 100, plain.value)]
    else:
        options = [(gold.value, pred.value)]
    for g, p in options:
        if g == p:
            return True
        if gold.places is not None and pred.places is None and not _terminates(p):
            if round(p, gold.places) == g:
                return True
        if pred.places is not None and gold.places is None and not _terminates(g):
            if decimal_matches(g, p, pred.places):
                return True
    return False


def decimal_matches(exact: Any, decimal: Fraction, places: int) -> bool:
    """A written decimal stands for an exact non-terminating value: rounded or truncated to its places,
    with at least 3 significant digits. exact is a Fraction or anything round() and int() accept."""
    if _significant_digits(decimal, places) < 3:
        return False
    scale = Fraction(10) ** places
    truncated = Fraction(int(exact * scale), scale) if not isinstance(exact, float) else None
    return round(exact, places) == decimal or truncated == decimal


def _significant_digits(value: Fraction, places: int) -> int:
    digits = str(abs(int(value * 10**places)))
    return len(digits.lstrip("0"))


def _terminates(x: Fraction) -> bool:
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


# ---------------------------------------------------------------- cheap atoms: surds and multiples of pi


@dataclass(frozen=True)
class Surd:
    """coeff * sqrt(radicand) * pi**pi_power with radicand square-free: one canonical form per value,
    so two of them are equal exactly when their fields are (sqrt of distinct square-free integers and
    powers of pi are independent over the rationals)."""

    coeff: Fraction
    radicand: int = 1
    pi_power: int = 0

    def times(self, other: Surd) -> Surd:
        square, free = _square_free(self.radicand * other.radicand)
        return _surd(self.coeff * other.coeff * square, free, self.pi_power + other.pi_power)

    def inverse(self) -> Surd:
        if self.coeff == 0:
            raise ZeroDivisionError
        return _surd(1 / (self.coeff * self.radicand), self.radicand, -self.pi_power)

    def power(self, n: int) -> Surd:
        out = Surd(Fraction(1)) if n >= 0 else Surd(Fraction(1))
        base = self if n >= 0 else self.inverse()
        for _ in range(abs(n)):
            out = out.times(base)
        return out

    def approx(self) -> Fraction:
        """The value to 50 significant digits."""
        import decimal

        with decimal.localcontext() as ctx:
            ctx.prec = 60
            v = decimal.Decimal(self.coeff.numerator) / decimal.Decimal(self.coeff.denominator)
            v *= decimal.Decimal(self.radicand).sqrt() * decimal.Decimal(_PI_50) ** self.pi_power
            return Fraction(v)


_PI_50 = "3.14159265358979323846264338327950288419716939937510"
MAX_RADICAND = 10**8  # square-free part by trial division stays under a millisecond


def _surd(coeff: Fraction, radicand: int, pi_power: int) -> Surd:
    return Surd(Fraction(0)) if coeff == 0 else Surd(coeff, radicand, pi_power)


def _square_free(n: int) -> tuple[int, int]:
    """n = square**2 * free with free square-free; returns (square, free)."""
    if n > MAX_RADICAND:
        raise NeedSympy
    square, p = 1, 2
    while p * p <= n:
        while n % (p * p) == 0:
            n //= p * p
            square *= p
        p += 1
    return square, n


_SURD_TOKEN_RE = re.compile(r"\\frac|\\sqrt|\\pi|\\cdot|\\times|\d+(?:\.\d+)?|\.\d+|[{}()^*/+-]|\s+")


def parse_surd(s: str) -> Surd | None:
    """Exact value of a product of rationals, square roots of rationals and powers of pi, such as
    "\\frac{3\\sqrt{2}}{4}", "\\sqrt{72}", "\\pi/8", "2\\pi^2", "-\\frac{1}{\\sqrt{3}}"; None for anything else."""
    if len(s) > 200:
        return None
    tokens = [t for t in _SURD_TOKEN_RE.findall(s) if not t.isspace()]
    if "".join(tokens) != s.replace(" ", ""):
        return None  # a character outside this small grammar
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal pos
        tok = peek()
        if tok is None or (expected is not None and tok != expected):
            raise NeedSympy
        pos += 1
        return tok

    def group() -> Surd:
        take("{")
        value = term()
        take("}")
        return value

    def factor() -> Surd:
        tok = take()
        if tok == "\\frac":
            value = group().times(group().inverse())
        elif tok == "\\sqrt":
            inner = group()
            if inner.radicand != 1 or inner.pi_power != 0 or inner.coeff < 0:
                raise NeedSympy
            value = (
                _surd(Fraction(1, inner.coeff.denominator), 1, 0).times(
                    Surd(Fraction(1), inner.coeff.numerator * inner.coeff.denominator)
                )
                if inner.coeff
                else Surd(Fraction(0))
            )
        elif tok == "\\pi":
            value = Surd(Fraction(1), 1, 1)
        elif tok == "(":
            value = term()
            take(")")
        elif tok[0].isdigit() or tok[0] == ".":
            value = Surd(Fraction(tok))
        else:
            raise NeedSympy
        if peek() == "^":
            take()
            exp_value = group() if peek() == "{" else Surd(Fraction(take()))
            if exp_value.radicand != 1 or exp_value.pi_power or exp_value.coeff.denominator != 1:
                raise NeedSympy
            exp = int(exp_value.coeff)
            if abs(exp) > 64:
                raise NeedSympy
            value = value.power(exp)
        return value

    def product() -> Surd:
        value = factor()
        while peek() not in (None, "}", ")", "/", "+", "-"):
            if peek() in ("\\cdot", "\\times", "*"):
                take()
            value = value.times(factor())
        return value

    def term() -> Surd:
        sign = -1 if peek() == "-" else 1
        if peek() in ("-", "+"):
            take()
        value = product()
        while peek() == "/":
            take()
            value = value.times(factor().inverse())
        if peek() in ("+", "-"):
            raise NeedSympy  # sums are sympy's
        return _surd(sign * value.coeff, value.radicand, value.pi_power)

    try:
        value = term()
        return value if pos == len(tokens) else None
    except (NeedSympy, ZeroDivisionError, ValueError, OverflowError):
        return None


_WORDS_RE = re.compile(r"^[A-Za-z][A-Za-z' \-]*[A-Za-z]$")  # two letters or more
_CHOICE_RE = re.compile(r"^\(?([A-J])\)?[.:]?$")
_PRED_CHOICE_RE = re.compile(r"^(?:option\s+|choice\s+|answer\s+)?\(?([A-J])\)?(?:[.:)]|\s|$)", re.IGNORECASE)
_LATEX_WORDS = {"infty", "pi", "sqrt", "frac", "cdot", "times"}


def _is_text(s: str) -> bool:
    if not _WORDS_RE.match(s) or (len(s.replace(" ", "")) < 3 and s.lower() != "no"):
        return False
    return s.split()[0].lower() not in _LATEX_WORDS


def cheap_atom_equal(gold: str, pred: str) -> bool:
    """Decide two atoms without sympy, or raise NeedSympy."""
    if _squash(gold) == _squash(pred):
        return True
    gn, pn = parse_number(gold), parse_number(pred)
    if gn is not None and pn is not None:
        return numbers_equal(gn, pn)
    g_text, p_text = _is_text(gold), _is_text(pred)
    if g_text or p_text:
        # words only ever equal words (case-insensitive); a text gold never needs sympy
        return g_text and p_text and " ".join(gold.lower().split()) == " ".join(pred.lower().split())
    if (gn is not None and gn.percent) or (pn is not None and pn.percent):
        raise NeedSympy
    gs = Surd(gn.value) if gn is not None else parse_surd(gold)  # mixed numbers: parse_number's reading
    ps = Surd(pn.value) if pn is not None else parse_surd(pred)
    if gs is not None and ps is not None:
        if gs == ps:
            return True
        # a written decimal against an irrational exact value: the rounding rules of numbers_equal
        if pn is not None and pn.places is not None and not pn.percent and gn is None:
            return decimal_matches(gs.approx(), pn.value, pn.places)
        if gn is not None and gn.places is not None and not gn.percent and pn is None:
            return round(ps.approx(), gn.places) == gn.value
        return False
    raise NeedSympy


def choice_letter(gold: str) -> str | None:
    """The letter when the gold is a multiple-choice answer such as "B", "(B)" or "\\text{(B)}"."""
    m = _CHOICE_RE.match(normalize(gold))
    return m.group(1) if m else None


# ---------------------------------------------------------------- caps


def check_caps(s: str) -> str | None:
    """Why s must not reach a parser (too long, too deep, a huge power or factorial), or None."""
    if len(s) > MAX_ANSWER_CHARS:
        return f"answer longer than {MAX_ANSWER_CHARS} characters"
    depth = worst = 0
    for c in s:
        if c in "{([":
            depth += 1
            worst = max(worst, depth)
        elif c in "})]":
            depth -= 1
            if depth < 0:
                return "unbalanced brackets"
    if s.count("{") != s.count("}"):
        return "unbalanced braces"
    if worst > MAX_DEPTH:
        return f"nesting deeper than {MAX_DEPTH}"
    if any(len(d) > MAX_NUMBER_DIGITS for d in re.findall(r"\d+", s)):
        return f"a number longer than {MAX_NUMBER_DIGITS} digits"
    problem = _huge_power(s)
    if problem:
        return problem
    for m in re.finditer(r"(\d+)\s*!|([)}\]])\s*!", s):
        if m.group(1) is not None and int(m.group(1)[:12]) > MAX_FACTORIAL:
            return f"a factorial of more than {MAX_FACTORIAL}"
        if m.group(2) is not None and re.search(r"\^|\d{5}", s[max(0, m.start() - 60) : m.start()]):
            return "a factorial of a large expression"
    return None


_POWER_RE = re.compile(r"(\d+(?:\.\d+)?)\s*\^\s*(?:\{\s*(\d+)\s*\}|(\d))")


def _huge_power(s: str) -> str | None:
    """Evaluate literal powers innermost first, in log space: a result over MAX_RESULT_DIGITS digits,
    or over a million inside another exponent (a tower such as 9^{9^{9}}), is rejected."""
    for _ in range(100):
        m = _POWER_RE.search(s)
        if m is None:
            return None
        base, exp = float(m.group(1)), int((m.group(2) or m.group(3))[:12])
        digits = exp * math.log10(base) if base > 0 else 0.0
        if digits > MAX_RESULT_DIGITS:
            return f"a power with more than {MAX_RESULT_DIGITS} digits"
        if digits > 6 and _inside_exponent(s, m.start()):
            return "a power tower"
        value = str(int(base**exp)) if digits <= 6 and base.is_integer() else "1"
        s = s[: m.start()] + value + s[m.end() :]
    return "too many powers"


def _inside_exponent(s: str, at: int) -> bool:
    depth = 0
    for i in range(at - 1, -1, -1):
        if s[i] == "}":
            depth += 1
        elif s[i] == "{":
            if depth == 0 and s[:i].rstrip().endswith("^"):
                return True
            depth = max(0, depth - 1)
    return False


# ---------------------------------------------------------------- the decision


@dataclass
class Verdict:
    """The outcome of one (gold, prediction) pair."""

    status: Status
    equal: bool = False
    reason: str = ""


def decide_cheap(gold: str, pred: str) -> Verdict | None:
    """Decide in this process, or None when a worker (sympy) has to."""
    if len(gold) > 4 * MAX_ANSWER_CHARS:
        return Verdict(
            Status.INVALID_REFERENCE, reason=f"reference longer than {4 * MAX_ANSWER_CHARS} characters"
        )
    if len(pred) > 4 * MAX_ANSWER_CHARS:
        return Verdict(Status.OK, False, f"answer longer than {4 * MAX_ANSWER_CHARS} characters")
    g, p = normalize(gold), normalize(pred)
    if not g:
        return Verdict(Status.INVALID_REFERENCE, reason="empty reference")
    if _squash(g) == _squash(p):
        return Verdict(Status.OK, True)
    letter = choice_letter(gold)
    if letter is not None:
        m = _PRED_CHOICE_RE.match(p)
        return Verdict(Status.OK, bool(m) and m.group(1).upper() == letter)
    problem = check_caps(g)
    if problem:
        return Verdict(Status.INVALID_REFERENCE, reason=f"reference rejected: {problem}")
    if not p:
        return Verdict(Status.NO_ANSWER, reason="empty answer")
    problem = check_caps(p)
    if problem:
        return Verdict(Status.OK, False, f"answer rejected: {problem}")
    try:
        return Verdict(Status.OK, compare(parse_structure(g), parse_structure(p), cheap_atom_equal))
    except NeedSympy:
        return None


# ---------------------------------------------------------------- the worker pool


_default_pool = None
_default_lock = threading.Lock()


def _get_default_pool() -> Any:
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            from verifiers._math_pool import WorkerPool

            _default_pool = WorkerPool(os.cpu_count() or 1)
            atexit.register(_default_pool.close)
        return _default_pool


class _ResultCache:
    """A small thread-safe LRU of decided pairs: a GRPO group repeats the same answers."""

    def __init__(self, size: int = 8192):
        self._data: OrderedDict[tuple[str, str], Verdict] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Verdict | None:
        with self._lock:
            v = self._data.get(key)
            if v is not None:
                self._data.move_to_end(key)
            return v

    def put(self, key: tuple[str, str], verdict: Verdict) -> None:
        if verdict.status not in (Status.OK, Status.INVALID_REFERENCE):
            return  # timeouts and crashes are not facts about the pair
        with self._lock:
            self._data[key] = verdict
            if len(self._data) > self._size:
                self._data.popitem(last=False)


_cache = _ResultCache()


def decide(
    gold: str, pred: str, *, timeout: float, pool: Any = None, deadline: float | None = None
) -> Verdict:
    """The verdict for one pair; uses the cache, the cheap path, then a worker within the deadline."""
    key = (gold, pred)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    start = time.monotonic()
    verdict = decide_cheap(gold, pred)
    if verdict is None:
        pool = pool or _get_default_pool()
        verdict = _run_guarded(pool, (gold, pred), deadline=deadline or start + timeout)
    _cache.put(key, verdict)
    return verdict


def _run_guarded(pool: Any, pair: tuple[str, str], **limits: float) -> Verdict:
    """pool.run, with a failure to start or talk to a worker reported as status error (value None)."""
    try:
        return pool.run(pair, key=pair[0], **limits)
    except Exception as exc:
        return Verdict(Status.ERROR, reason=f"math worker unavailable: {type(exc).__name__}: {exc}")


def math_equal(gold: Any, pred: Any, *, timeout: float = 5.0) -> bool:
    """True when pred is mathematically equal to gold (gold first; see the module docstring for the
    asymmetry). Returns within timeout + 0.2 s from any thread; a timeout, an unusable gold or an
    unparseable prediction all give False."""
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    verdict = decide(_as_text(gold), _as_text(pred), timeout=timeout)
    return verdict.status == Status.OK and verdict.equal


def _as_text(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, (str, int, float, Fraction)):
        raise TypeError(f"an answer must be a string or a number, got {type(x).__name__}")
    return x if isinstance(x, str) else str(x)


# ---------------------------------------------------------------- the verifier


class MathVerifier(Verifier):
    """Math answer equivalence: 1.0 when the completion's final answer equals the gold, else 0.0.

    timeout: seconds of worker time per sample (the hard limit; the worker is killed past it).
    workers: worker processes; None shares one module-wide pool of os.cpu_count() workers.
    Statuses: ok (1.0 / 0.0), no_answer (0.0), timeout (0.0), invalid_reference (None), error (None,
    a worker died). info: "extracted" (the answer string), "gold", and "error" with the reason.
    """

    name = "math"

    def __init__(self, timeout: float = 5.0, workers: int | None = None):
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise ValueError(f"math verifier: timeout must be a positive number of seconds, got {timeout!r}")
        if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
            raise ValueError(f"math verifier: workers must be a positive integer or None, got {workers!r}")
        self.timeout = float(timeout)
        self.workers = workers
        self._pool: Any = None
        self._lock = threading.Lock()

    def _get_pool(self) -> Any:
        if self.workers is None:
            return _get_default_pool()
        with self._lock:
            if self._pool is None:
                from verifiers._math_pool import WorkerPool

                self._pool = WorkerPool(self.workers)
            return self._pool

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        """Scores in input order. Cheap pairs are decided here; the rest are spread over the workers,
        each with its own `timeout` counted from when a worker takes it."""
        scores: list[Score | None] = [None] * len(samples)
        pending: dict[tuple[str, str], list[int]] = {}  # one worker task per distinct pair
        for i, sample in enumerate(samples):
            gold, pred, early = self._prepare(sample)
            if early is not None:
                scores[i] = early
                continue
            cached = _cache.get((gold, pred))
            verdict = cached if cached is not None else decide_cheap(gold, pred)
            if verdict is None:
                pending.setdefault((gold, pred), []).append(i)
                continue
            _cache.put((gold, pred), verdict)
            scores[i] = _to_score(verdict, gold, pred)
        if pending:
            pool = self._get_pool()
            tasks = sorted(pending)  # same gold together: its parse stays cached in one worker

            def work(pair: tuple[str, str]) -> Verdict:
                verdict = _run_guarded(pool, pair, timeout=self.timeout)
                _cache.put(pair, verdict)
                return verdict

            if len(tasks) == 1:
                verdicts = [work(tasks[0])]
            else:
                with ThreadPoolExecutor(max_workers=min(pool.size, len(tasks))) as ex:
                    verdicts = list(ex.map(work, tasks))
            for pair, verdict in zip(tasks, verdicts, strict=True):
                for i in pending[pair]:
                    scores[i] = _to_score(verdict, *pair)
        return [s for s in scores if s is not None]

    def _prepare(self, sample: Sample) -> tuple[str, str, Score | None]:
        ref = sample.reference
        if (
            ref is None
            or isinstance(ref, bool)
            or not isinstance(ref, (str, int, float))
            or not str(ref).strip()
        ):
            return (
                "",
                "",
                Score(None, Status.INVALID_REFERENCE, info={"error": f"unusable reference {ref!r}"}),
            )
        gold = str(ref)
        try:
            pred = extract_answer(sample.completion)
        except Exception as exc:  # a malformed completion is the policy's problem, never a crash
            pred = None
            reason = f"could not read completion: {exc}"
        else:
            reason = "no final answer found"
        if pred is None:
            return (
                gold,
                "",
                Score(0.0, Status.NO_ANSWER, info={"extracted": None, "gold": gold, "error": reason}),
            )
        return gold, pred, None

    def warm_up(self) -> None:
        """Start every worker now and wait until each has imported sympy (otherwise the first batch pays)."""
        self._get_pool().start_all()

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _to_score(verdict: Verdict, gold: str, pred: str) -> Score:
    info: dict[str, Any] = {"extracted": pred, "gold": gold}
    if verdict.reason:
        info["error"] = verdict.reason
    if verdict.status == Status.OK:
        return Score(1.0 if verdict.equal else 0.0, Status.OK, info=info)
    if verdict.status in (Status.NO_ANSWER, Status.TIMEOUT):
        return Score(0.0, verdict.status, info=info)
    return Score(None, verdict.status, info=info)
