"""Deciding equality without sympy: the structure of an answer, the structural comparison, and the cheap
atom comparison.

Runs in the calling process (cheap, exact, bounded) and again inside the sympy workers, which reuse the
same structure and only swap in a sympy comparison for atoms raising NeedSympy. See verifiers/math/__init__.py
for the rules (exactness, the gold/pred asymmetry for decimals).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verifiers.core import Status
from verifiers.math.exact import (
    NeedSympy,
    Surd,
    decimal_matches,
    numbers_equal,
    parse_number,
    parse_poly,
    parse_surd,
    poly_add,
    terminating,
)
from verifiers.math.extract import matching_brace
from verifiers.math.limits import MAX_ANSWER_CHARS, check_caps
from verifiers.math.normalize import THOUSANDS_RE, normalize, squash

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
    if not THOUSANDS_RE.match(s):
        items = _split_top(s, r",|;|\s+(?:and|or)\s+|\\text\{\s*(?:and|or)\s*\}")
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
                if c == "," and THOUSANDS_RE.match(s):
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
_ARITHMETIC_RE = re.compile(r"\\(?:d?frac|sqrt|cdot|times|pi|left|right)(?![a-zA-Z])")
_FLIP = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le", "=": "=", "\\ne": "\\ne", "\\approx": "="}
_VARIABLE_RE = re.compile(r"^(?:[a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)(?:\([a-z]\))?$")  # x, x_1, \theta, f(x)


def _compare_relations(gold: Part, pred: Part, atom_equal: AtomEqual) -> bool:
    g_eq = gold.kind == "rel" and set(gold.ops) <= {"=", "\\approx"}
    p_eq = pred.kind == "rel" and set(pred.ops) <= {"=", "\\approx"}
    if p_eq and gold.kind != "rel":
        first = pred.items[0].text
        if not re.search(r"[a-zA-Z]", _ARITHMETIC_RE.sub("", first)):
            # "2 + 3 = 5": every side is a value and must be the gold, or "2 + 2 = 5" would count as 5
            return all(compare(gold, side, atom_equal) for side in pred.items)
        if _VARIABLE_RE.match(first) or not re.search(r"[a-zA-Z]", _FUNCTION_NAMES_RE.sub("", first)):
            # "x = 5"; "cos(45°) = sqrt(2)/2" by its last side, since the degree sign is gone by now
            return compare(gold, pred.items[-1], atom_equal)
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


# ---------------------------------------------------------------- cheap atoms

_WORDS_RE = re.compile(r"^[A-Za-z][A-Za-z' \-]*[A-Za-z]$")  # two letters or more
_CHOICE_RE = re.compile(r"^\(?([A-J])\)?[.:]?$")
_PRED_CHOICE_RE = re.compile(r"^(?:option\s+|choice\s+|answer\s+)?\(?([A-J])\)?(?:[.:)]|\s|$)", re.IGNORECASE)
# Another choice after the first (matched from there, so no ^): "B or C", "(B), (C)", or only letters
# to the end ("B C"); "(B) A right triangle" is one choice and its text.
_MORE_CHOICES_RE = re.compile(
    r"\s*(?:[,;/&]|\\&|\band/or\b|\band\b|\bor\b)\s*\(?[A-J]\)?(?:[\s.,;:)]|$)"
    r"|(?:\s*\(?[A-J]\)?[.,;:]?)+\s*$"
)
_LATEX_WORDS = {"infty", "pi", "sqrt", "frac", "cdot", "times"}


def _is_text(s: str) -> bool:
    if not _WORDS_RE.match(s) or (len(s.replace(" ", "")) < 3 and s.lower() != "no"):
        return False
    return s.split()[0].lower() not in _LATEX_WORDS


def cheap_atom_equal(gold: str, pred: str) -> bool:
    """Decide two atoms without sympy, or raise NeedSympy."""
    if squash(gold) == squash(pred):
        return True
    if gold.startswith("\\EQ{"):
        return _polynomial_equations_equal(gold, pred)
    gn, pn = parse_number(gold), parse_number(pred)
    if gn is not None and pn is not None:
        return numbers_equal(gn, pn)
    g_text, p_text = _is_text(gold), _is_text(pred)
    if g_text or p_text:
        # words only ever equal words (case-insensitive); a text gold never needs sympy
        return g_text and p_text and " ".join(gold.lower().split()) == " ".join(pred.lower().split())
    if (gn is not None and gn.percent) or (pn is not None and pn.percent):
        raise NeedSympy
    gs = Surd.of(gn.value) if gn is not None else parse_surd(gold)  # mixed numbers: parse_number's reading
    ps = Surd.of(pn.value) if pn is not None else parse_surd(pred)
    if gs is not None and ps is not None:
        if gs == ps:
            return True
        # a written decimal against an irrational exact value: the rounding rules of numbers_equal
        if terminating(gs) and terminating(ps):
            return False  # both exact and terminating: only exact equality counts
        if pn is not None and pn.places is not None and not pn.percent and gn is None:
            return decimal_matches(gs.approx(), pn.value, pn.places)
        if gn is not None and gn.places is not None and not gn.percent and pn is None:
            return round(ps.approx(), gn.places) == gn.value
        return False
    if gs is None or ps is None:  # polynomials (numbers included) are equal when their expansions are
        gp, pp = parse_poly(gold), parse_poly(pred)
        if gp is not None and pp is not None and (any(gp) or any(pp)):
            return gp == pp
    raise NeedSympy


def equation_sides(eq: str) -> tuple[str, str]:
    """The two sides of the "\\EQ{lhs}{rhs}" atom that compare() builds for a pair of equations."""
    close = matching_brace(eq, 3)
    if close is None:
        raise NeedSympy
    return eq[4:close], eq[close + 2 : -1]


def _polynomial_equations_equal(gold: str, pred: str) -> bool:
    """Equations with polynomial sides are equal when lhs - rhs of one is a nonzero multiple of the other's."""
    polys = [parse_poly(side) for side in (*equation_sides(gold), *equation_sides(pred))]
    if any(p is None for p in polys):
        raise NeedSympy
    g = poly_add(polys[0], polys[1], -1)
    p = poly_add(polys[2], polys[3], -1)
    if not g or not p:
        return not g and not p
    mono, coeff = next(iter(p.items()))
    if mono not in g:
        return False
    ratio = g[mono] / coeff
    return g == {m: c * ratio for m, c in p.items()}


def choice_letter(gold: str) -> str | None:
    """The letter when a normalised gold is a multiple-choice answer ("B", "(B)", from "\\text{(B)}")."""
    m = _CHOICE_RE.match(gold)
    return m.group(1) if m else None


# ---------------------------------------------------------------- the decision in this process


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
    problem = check_caps(g)
    if problem:
        return Verdict(Status.INVALID_REFERENCE, reason=f"reference rejected: {problem}")
    if not p:
        return Verdict(Status.NO_ANSWER, reason="empty answer")
    if squash(g) == squash(p):
        return Verdict(Status.OK, True)
    letter = choice_letter(g)
    if letter is not None:
        m = _PRED_CHOICE_RE.match(p)
        if m and _MORE_CHOICES_RE.match(p, m.end()):
            return Verdict(Status.OK, False, "several choices named")  # a hedge, whichever comes first
        return Verdict(Status.OK, bool(m) and m.group(1).upper() == letter)
    problem = check_caps(p)
    if problem:
        return Verdict(Status.OK, False, f"answer rejected: {problem}")
    try:
        return Verdict(Status.OK, compare(parse_structure(g), parse_structure(p), cheap_atom_equal))
    except NeedSympy:
        return None
