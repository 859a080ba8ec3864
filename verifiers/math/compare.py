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
from fractions import Fraction

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
    """A parsed answer. kind: atom | seq (tuple or interval) | set | list | union | matrix | rel | ratio.

    text: the source text (what an atom compares). seq: brackets ("()", "(]", ...; "&" for a row of
    cases) and items. set / list / union: items (order-free). matrix: items are rows (each a Part of kind
    "seq" with brackets "row", compared in order). rel: ops and items (the sides). ratio: items ("7:32", "12:00") in order.
    """

    kind: str
    text: str = ""
    items: tuple[Part, ...] = ()
    brackets: str = ""
    ops: tuple[str, ...] = ()


_REL_RE = re.compile(r"\\le(?![a-zA-Z])|\\ge(?![a-zA-Z])|\\ne(?![a-zA-Z])|\\approx(?![a-zA-Z])|<|>|=")
_MATRIX_RE = re.compile(  # one environment; a sum of two matrices is an atom (sympy evaluates it)
    r"^\\begin\{([pbvBV]?matrix|array|cases)\}(?:\{[^{}]*\})?((?:(?!\\(?:begin|end)\{).)*)\\end\{\1\}$",
    re.DOTALL,
)
_BRACKETED_ENV_RE = re.compile(r"^[(\[]\s*(\\begin\{(array|matrix)\}.*\\end\{\2\})\s*[)\]]$", re.DOTALL)


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
        return Part("set", s, items=(parse_structure(a, depth + 1), parse_structure(b, depth + 1)))
    wrapped = _BRACKETED_ENV_RE.match(s)
    if wrapped:  # "\\left[\\begin{array}{cc} ... \\end{array}\\right]": the brackets draw the matrix
        s = wrapped.group(1)
    m = _MATRIX_RE.match(s)
    if m:
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
        if m.group(1) == "cases":  # a system (or a piecewise definition): its rows in any order
            return Part("set", s, items=tuple(_row(r, depth + 1) for r in rows))
        return Part(
            "matrix",
            s,
            items=tuple(
                Part("seq", r, brackets="row", items=tuple(Part("atom", c.strip()) for c in r.split("&")))
                for r in rows
            ),
        )
    pieces = _split_top(s, r"\\cup(?![a-zA-Z])|∪")
    if len(pieces) > 1:
        return Part("union", s, items=tuple(parse_structure(p, depth + 1) for p in pieces))
    if s.startswith("\\{") and s.endswith("\\}") and _encloses(s, 2):
        inner = s[2:-2].strip()
        items = _split_top(inner, r",|;") if inner else []
        return Part("set", s, items=tuple(parse_structure(p, depth + 1) for p in items))
    if s.startswith("{") and matching_brace(s, 0) == len(s) - 1:  # "{1, 2}": a set written without \\{
        items = _split_top(s[1:-1], r",|;")
        if len(items) > 1:
            return Part("set", s, items=tuple(parse_structure(p, depth + 1) for p in items))
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _encloses(s, 1):
        items = _split_top(s[1:-1], r",|;")
        if len(items) > 1:
            return Part(
                "seq", s, brackets=s[0] + s[-1], items=tuple(parse_structure(p, depth + 1) for p in items)
            )
    if not THOUSANDS_RE.match(s):
        groups = _split_top(s, r";")  # "p=5,q=2; p=7,q=2": the semicolon separates whole answers
        if len(groups) > 1 and any("," in g for g in groups):
            return Part("list", s, items=tuple(parse_structure(g, depth + 1) for g in groups))
        items = _split_top(s, r",\s*(?:and|or)\s+|,|;|\s+(?:and|or)\s+|\\text\{\s*(?:and|or)\s*\}")
        if len(items) > 1:
            return Part("list", s, items=tuple(parse_structure(p, depth + 1) for p in items))
    sides = _split_top(s, _REL_RE.pattern, keep=True)
    if len(sides) > 1:
        ops = tuple(sides[1::2])
        return Part("rel", s, ops=ops, items=tuple(_side(p.strip(), depth + 1) for p in sides[0::2]))
    terms = _split_top(s, r":")
    if len(terms) > 1:  # a ratio or a time of day: "7:32", "12:00", term by term
        return Part("ratio", s, items=tuple(Part("atom", t) for t in terms))
    return Part("atom", s)


def _side(s: str, depth: int) -> Part:
    """One side of a relation: a tuple "(3,2)" or a ratio "7:32" keeps its structure, else an atom."""
    part = parse_structure(s, depth) if s[:1] in "([\\" or ":" in s else Part("atom", s)
    return part if part.kind in ("seq", "ratio", "matrix", "set") else Part("atom", s)


def _row(row: str, depth: int) -> Part:
    """A row of cases: "x = 1", or "2x & x > 0" (a value and its condition, in order)."""
    cells = [c.strip() for c in row.split("&") if c.strip()]
    if len(cells) == 1:
        return parse_structure(cells[0], depth)
    return Part("seq", row, items=tuple(parse_structure(c, depth) for c in cells), brackets="&")


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
    if {gold.kind, pred.kind} == {"union", "list"}:  # "x < 2 or x > 3" is (-oo, 2) U (3, oo)
        g_ivs, p_ivs = [_as_interval(i) for i in gold.items], [_as_interval(i) for i in pred.items]
        if None not in g_ivs and None not in p_ivs:
            return _unordered(g_ivs, p_ivs, atom_equal)
    if gold.kind == "matrix" and pred.kind == "matrix":
        return _ordered(gold.items, pred.items, atom_equal)
    if gold.kind == "ratio" and pred.kind == "ratio":
        return _ordered(gold.items, pred.items, atom_equal)
    if "matrix" in (gold.kind, pred.kind):
        g_vec, p_vec = _vector(gold), _vector(pred)
        if g_vec is not None and p_vec is not None:  # a column (or row) matrix written as a tuple
            return _ordered(g_vec, p_vec, atom_equal)
        if "atom" in (gold.kind, pred.kind) and "\\begin" in gold.text + pred.text:
            return atom_equal(gold.text, pred.text)  # an expression of matrices: sympy evaluates it
    if gold.kind == "set" and len(gold.items) == 1:
        return compare(gold.items[0], pred, atom_equal)
    if pred.kind == "set" and len(pred.items) == 1:
        return compare(gold, pred.items[0], atom_equal)
    return False


def _vector(p: Part) -> tuple[Part, ...] | None:
    """The entries of a one-column or one-row matrix, or of a tuple / list; else None."""
    if p.kind == "matrix":
        if all(len(row.items) == 1 for row in p.items):
            return tuple(row.items[0] for row in p.items)
        return p.items[0].items if len(p.items) == 1 else None
    return p.items if p.kind in ("seq", "list") and p.brackets not in ("&", "row") else None


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
        values = _stated_values(pred)
        return values is not None and all(compare(gold, v, atom_equal) for v in values)
    if g_eq and pred.kind != "rel":
        if len(gold.items) == 2 and _is_label(gold.items[0].text):
            return compare(gold.items[1], pred, atom_equal)  # gold "x = 5", "|AB| = 1", pred "5"
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
        if _is_label(g0.text) and _is_label(p0.text) and _names_only(g0.text, p0.text, g1.text + p1.text):
            return compare(g1, p1, atom_equal)  # "f(x) = 2x + 3" and "y = 2x + 3": the same function
        if "atom" != g0.kind or "atom" != p0.kind or "atom" != g1.kind or "atom" != p1.kind:
            return False
        return atom_equal(f"\\EQ{{{g0.text}}}{{{g1.text}}}", f"\\EQ{{{p0.text}}}{{{p1.text}}}")
    flipped_ops = tuple(_FLIP[o] for o in reversed(pred.ops))
    if gold.ops == pred.ops:
        return _ordered(gold.items, pred.items, atom_equal)
    if gold.ops == flipped_ops:
        return _ordered(gold.items, tuple(reversed(pred.items)), atom_equal)
    return False


def _stated_values(pred: Part) -> tuple[Part, ...] | None:
    """The values an equation given as the answer states, or None when it states none.

    "x = 5", "(a,b) = (1,2)": the last side. "5 = x": the other side. A chain states every value in it
    and all must be the answer: "x = 5+5+1 = 11" is 11, but "x = 3 = 5" and "sin(30°) = 0.5 = 3" are
    false whatever their last side; sides with unknowns in them ("A = pi r^2 = 4 pi") are formulas,
    not values. "x = 1/3 \approx 0.33": the exact side (the last one before the first \approx). "2 + 3 =
    5": every side, so "2 + 2 = 5" is not 5. "x + y = 0" states no value."""
    sides, ops = list(pred.items), list(pred.ops)
    if "\\approx" in ops:
        k = ops.index("\\approx")
        if k >= 1 or not _is_label(sides[0].text):
            if not all(_approximates(sides[k].text, side.text) for side in sides[k + 1 :]):
                return None  # "3 \approx 5" is false, so it states nothing
            sides = sides[: k + 1]
    if len(sides) > 1 and _is_label(sides[0].text):
        return (*(v for v in sides[1:-1] if _is_value(v.text)), sides[-1])
    if len(sides) > 1 and _is_label(sides[-1].text):
        sides = sides[:-1]
    first = sides[0].text
    if not re.search(r"[a-zA-Z]", _ARITHMETIC_RE.sub("", first)):
        return tuple(sides)
    if not re.search(r"[a-zA-Z]", _FUNCTION_NAMES_RE.sub("", first)):
        # "cos(45°) = sqrt(2)/2": degrees inside a function are radians by now, so the first side is a value
        return (*(v for v in sides[:-1] if _is_value(v.text, functions=True)), sides[-1])
    return None


def _approximates(exact: str, approx: str) -> bool:
    """Whether a number written after \\approx is the exact side rounded or truncated to its places
    ("1/3 \\approx 0.33", "\\pi \\approx 3.14", "2/3 \\approx 0.66"; not "3 \\approx 5"). Sides this
    cannot read without sympy are given the benefit of the doubt: the exact side is what is judged."""
    number = parse_number(approx)
    if number is None or number.percent:
        return True
    try:
        value = parse_surd(exact)
    except NeedSympy:
        return True
    if value is None:
        return True
    places = number.places
    if places is None:  # an integer: its trailing zeros are rounding ("12345 \\pi \\approx 38800")
        digits = str(abs(int(number.value))) if number.value.denominator == 1 else "1"
        places = -(len(digits) - len(digits.rstrip("0"))) if number.value else 0
    exact_value = value.approx()
    scale = Fraction(10) ** places
    truncated = Fraction(int(exact_value * scale)) / scale  # toward zero
    return round(exact_value, places) == number.value or truncated == number.value


def _is_value(text: str, functions: bool = False) -> bool:
    """True when a side of an equation is a value (no unknowns), not a formula."""
    rest = (_FUNCTION_NAMES_RE if functions else _ARITHMETIC_RE).sub("", text)
    return not re.search(r"[a-zA-Z]", rest)


# What a label may hold: names (x, AB, x_1, \theta, f(x), |AB|, A:B, (p,q), \frac{NO}{BO}), no numbers
# or arithmetic; a constant (\pi, e) or a function value (\sin x) is no label.
_LABEL_JUNK_RE = re.compile(r"_\{[^{}]*\}|_\w|\\frac|\\angle|\\overline|\\(?:left|right)|[{}|:,()\s']")
_NOT_LABEL_RE = re.compile(r"\\(?:pi|infty|sqrt|sin|cos|tan|cot|sec|csc|ln|log|exp|cdot|times)(?![a-zA-Z])")


def _is_label(text: str) -> bool:
    """True when text names what an equation gives ("x", "|AB|", "S_{MBCN}:S", "f(x)", "(p,q)")."""
    if not text or len(text) > 40 or _NOT_LABEL_RE.search(text):
        return False
    rest = _LABEL_JUNK_RE.sub("", text)
    return (
        bool(rest) and re.fullmatch(r"(?:[a-zA-Z]|\\[a-zA-Z]+)+", rest) is not None and rest not in ("e", "i")
    )


def _names_only(left_a: str, left_b: str, rights: str) -> bool:
    """True when two labels name one thing differently (the function "f(x)", "g(x)", "y"; the unknown
    "x", "x_1") and that name is not used on the right-hand sides: "f(x) = 2x + 3" is "y = 2x + 3"."""
    bare = [re.sub(r"_\{[^{}]*\}|_\w|\s", "", t) for t in (left_a, left_b)]
    if bare[0] != bare[1] and not all(_FUNCTION_LABEL_RE.fullmatch(t) for t in bare):
        return False  # "x_1 = 4" and "x = 4" name one unknown; "x = 1" and "y = 1" do not
    names = {t[0] for t in bare}
    return not names & set(re.sub(r"\\[a-zA-Z]+", "", rights))


_FUNCTION_LABEL_RE = re.compile(r"y|[a-zA-Z]\([a-z]\)")


def _as_interval(p: Part) -> Part | None:
    """A one-variable inequality as an interval: "x > 3" -> (3, oo), "1 \\le x < 2" -> [1, 2)."""
    if p.kind == "seq" and len(p.items) == 2:
        return p
    if p.kind != "rel" or not set(p.ops) <= {"<", ">", "\\le", "\\ge"}:
        return None
    items, ops = list(p.items), list(p.ops)
    if len(items) == 2 and not any(_VARIABLE_RE.match(i.text) for i in items):
        solved = _solve_linear(items[0].text, items[1].text, ops[0])
        if solved is not None:  # "-x > -1" -> "x < 1"
            items, ops = solved
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


def _solve_linear(left: str, right: str, op: str) -> tuple[list[Part], list[str]] | None:
    """ "a x + b op c" with rational a != 0 as "x op' (c - b) / a" (the sign flips for a < 0)."""
    lp, rp = parse_poly(left), parse_poly(right)
    if lp is None or rp is None:
        return None
    diff = poly_add(lp, rp, -1)
    linear = [mono for mono in diff if mono]
    if len(linear) != 1 or len(linear[0]) != 1 or linear[0][0][1] != 1:
        return None
    (var, _), a = linear[0][0], diff[linear[0]]
    bound = -diff.get((), 0) / a
    text = str(bound.numerator) if bound.denominator == 1 else f"{bound.numerator}/{bound.denominator}"
    return [Part("atom", var), Part("atom", text)], [op if a > 0 else _FLIP[op]]


# ---------------------------------------------------------------- cheap atoms

_WORDS_RE = re.compile(r"^[A-Za-z][A-Za-z' \-]*[A-Za-z]$")  # two letters or more
_CHOICE_RE = re.compile(r"^\(?([A-J])\)?[.:]?$")
_PRED_CHOICE_RE = re.compile(r"^(?:option\s+|choice\s+|answer\s+)?\(?([A-J])\)?(?:[.:)]|\s|$)", re.IGNORECASE)
# Another choice after the first (matched from there, so no ^): "B or C", "(B), (C)", or only letters
# to the end ("B C"); "(B) A right triangle" is one choice and its text.
_MORE_CHOICES_RE = re.compile(
    r"\s*(?:[,;/&]|\\&|\band/or\b|\band\b|\bor\b)\s*\(?[A-J]\)?(?:[\s.,;:)]|$)"
    r"|(?:\s*\(?[A-J]\)?[.,;:]?)+\s*$",
    re.IGNORECASE,  # "B or c" names two choices
)
# Right after a choice letter: another choice joined by any connective or dash ("B (or C)", "B \\lor C",
# "B — C", "B (also C)"), a hedge ("B or something else") or a negation ("B is wrong"): not one choice.
# (Option text after "B)" may say anything: "B) 12, or 13 in the other case".)
_CHOICE_HEDGE_RE = re.compile(
    r"\s*\(?\s*(?:(?:or|and/or|also|else|either|maybe|perhaps|possibly|probably|otherwise|alternatively|"
    r"unless|not|isn't|is\s+(?:not|wrong|incorrect|false)|wrong|incorrect|false|except)\b|\\(?:lor|vee|land|wedge)"
    r"(?![a-zA-Z])|[—–|]\s*\(?[A-Ja-j]\b)",
    re.IGNORECASE,
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


# ---------------------------------------------------------------- where graders differ


_PERCENT_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)%")


@dataclass(frozen=True)
class Policy:
    """The choices graders make differently (the README's math policy), as parameters.

    percent: "either" (50% = 50 = 0.5, the default) or "exact" (50% is the number 0.5; 50 is not 50%).
    ordered_lists: False (a list of several answers equals the same values in any order, the default)
    or True (in the gold's order; a set stays unordered either way).
    """

    percent: str = "either"
    ordered_lists: bool = False

    def __post_init__(self) -> None:
        if self.percent not in ("either", "exact"):
            raise ValueError(f'math policy: percent must be "either" or "exact", got {self.percent!r}')
        if not isinstance(self.ordered_lists, bool):
            raise ValueError(f"math policy: ordered_lists must be true or false, got {self.ordered_lists!r}")

    def text(self, normalized: str) -> str:
        """The normalised answer as this policy reads it."""
        if self.percent == "exact" and "%" in normalized:
            return _PERCENT_RE.sub(r"\\frac{\1}{100}", normalized)
        return normalized

    def structure(self, part: Part) -> Part:
        """The parsed answer as this policy compares it: ordered lists become tuples."""
        if not self.ordered_lists or not part.items:
            return part
        items = tuple(self.structure(item) for item in part.items)
        if part.kind == "list":
            return Part("seq", part.text, items=items, brackets="()")
        return Part(part.kind, part.text, items=items, brackets=part.brackets, ops=part.ops)


DEFAULT_POLICY = Policy()


# ---------------------------------------------------------------- the decision in this process


@dataclass
class Verdict:
    """The outcome of one (gold, prediction) pair."""

    status: Status
    equal: bool = False
    reason: str = ""


def decide_cheap(gold: str, pred: str, policy: Policy = DEFAULT_POLICY) -> Verdict | None:
    """Decide in this process, or None when a worker (sympy) has to."""
    if len(gold) > 4 * MAX_ANSWER_CHARS:
        return Verdict(
            Status.INVALID_REFERENCE, reason=f"reference longer than {4 * MAX_ANSWER_CHARS} characters"
        )
    if len(pred) > 4 * MAX_ANSWER_CHARS:
        return Verdict(Status.OK, False, f"answer longer than {4 * MAX_ANSWER_CHARS} characters")
    g, p = policy.text(normalize(gold, gold=True)), policy.text(normalize(pred))
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
        if m and (_MORE_CHOICES_RE.match(p, m.end()) or _CHOICE_HEDGE_RE.match(p, m.end())):
            return Verdict(Status.OK, False, "several choices named")  # a hedge, whichever comes first
        return Verdict(Status.OK, bool(m) and m.group(1).upper() == letter)
    problem = check_caps(p)
    if problem:
        return Verdict(Status.OK, False, f"answer rejected: {problem}")
    try:
        g_part, p_part = policy.structure(parse_structure(g)), policy.structure(parse_structure(p))
        return Verdict(Status.OK, compare(g_part, p_part, cheap_atom_equal))
    except NeedSympy:
        return None
