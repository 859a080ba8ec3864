"""Normalisation: the canonical text of an answer, which the structure parser and the exact paths read.

Boxes, $, \\text{}, \\left/\\right, spacing commands, degrees, units after a number, thousands separators,
and plain-text math (`sqrt(2)`, `pi/2`, `<=`) rewritten to LaTeX.
"""

from __future__ import annotations

import re

from verifiers.math.extract import matching_brace, outer_boxes, strip_dollars

_UNWRAP_RE = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|textsf|texttt|mathrm|mathbf|mathit|mathsf|mbox|operatorname"
    r"|cancel|bcancel|xcancel|underline|uline|emph|bm|boldsymbol|pmb)"
    r"\s*\{([^{}]*)\}"
)
_REMOVE = [
    # siunitx: \num{12} is 12, \SI{12}{\metre} and \qty{12}{cm} are 12 with a unit (units are dropped)
    (re.compile(r"\\(?:SI|qty)\s*(?:\[[^\[\]]*\]\s*)?\{([^{}]*)\}\s*\{(?:[^{}]|\{[^{}]*\})*\}"), r"\1"),
    (re.compile(r"\\(?:num|ang)\s*(?:\[[^\[\]]*\]\s*)?\{([^{}]*)\}"), r"\1"),
    (re.compile(r"(?<=[\d}])(?:\s|\\[,;: ]|~)*\\(?:si|unit)\s*\{(?:[^{}]|\{[^{}]*\})*\}\s*$"), ""),
    # decoration: a colour, a coloured box or a font size shows what it holds (the group it colours stays)
    (re.compile(r"\\(?:textcolor|colorbox|color)\s*(?:\[[^\[\]{}]*\]\s*)?\{[^{}]*\}"), ""),
    (re.compile(r"\\(?:tiny|scriptsize|footnotesize|small|normalsize|large|Large|LARGE|huge|Huge)(?![a-zA-Z])"), ""),
    (re.compile(r"^`+\s*([^`]+?)\s*`+$"), r"\1"),  # an answer in inline code
    (re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])"), ""),
    (re.compile(r"(?<!\\)\\!"), ""),  # a negative thin space: "34,\\!650" is 34,650
    (re.compile(r"\\(?:displaystyle|textstyle|quad|qquad)(?![a-zA-Z])|(?<!\\)\\[,;: ]|~"), " "),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![a-zA-Z])"), ""),
    (re.compile(r"\\[dt]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\frac\s*(\d)\s*(?=\{)"), r"\\frac{\1}"),  # \frac1{72}
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\frac\s*\{([^{}]*)\}\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\sqrt\s*(\d+|[a-zA-Z](?![a-zA-Z]))"), r"\\sqrt{\1}"),  # \sqrt2I is sqrt(2) I
    (re.compile(r"([\^_])\s*(\d+|[a-zA-Z])"), r"\1{\2}"),  # x^2 -> x^{2}; x^10 as meant, x^{10}
    (re.compile(r"\\?\$"), ""),  # dollars left inside an answer: currency or stray math delimiters
    (re.compile(r"[€£¥₹]"), ""),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"(?<=\d)\s+%"), "%"),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\(?:le|leq|leqslant)(?![a-zA-Z])|≤"), r" \\le "),
    (re.compile(r"\\(?:ge|geq|geqslant)(?![a-zA-Z])|≥"), r" \\ge "),
    (re.compile(r"\\(?:ne|neq)(?![a-zA-Z])|≠|(?<=\s)!=|!=(?=\s)"), r" \\ne "),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
    (re.compile(r"\\(?:varnothing|emptyset)(?![a-zA-Z])|∅"), r"\\{\\}"),
    (re.compile(r"\\lbrace(?![a-zA-Z])"), r"\\{"),
    (re.compile(r"\\rbrace(?![a-zA-Z])"), r"\\}"),
]
# Unicode vulgar fractions: ½ is \\frac{1}{2}, 1½ a mixed number.
_VULGAR = dict(
    zip(
        "½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞",
        ("1/2 1/3 2/3 1/4 3/4 1/5 2/5 3/5 4/5 1/6 5/6 1/8 3/8 5/8 7/8").split(),
        strict=True,
    )
)
# Plain-text math as models write it outside LaTeX.
_PLAIN = [
    (
        re.compile("[" + "".join(_VULGAR) + "]"),
        lambda m: "\\frac{{{}}}{{{}}}".format(*_VULGAR[m.group()].split("/")),
    ),
    (re.compile(r"<="), r" \\le "),
    (re.compile(r">="), r" \\ge "),
    (re.compile(r"\*\*"), "^"),
    (re.compile(r"−"), "-"),
    (re.compile(r"[×·]"), r" \\cdot "),
    (re.compile(r"π|(?<![\\a-zA-Z])pi(?![a-zA-Z])"), r"\\pi "),
    (re.compile(r"∞|(?<![\\a-zA-Z])(?:infinity|inf|oo)(?![a-zA-Z])"), r"\\infty "),
    (re.compile(r"(?<![\\a-zA-Z])(sin|cos|tan|cot|sec|csc|ln|log|arcsin|arccos|arctan)(?=\s*\()"), r"\\\1"),
    (re.compile(r"√\s*(\d+|[a-zA-Z])"), r"\\sqrt{\1}"),
]
# "12 cm", "10 cm^2", "5 m/s": a number, a space, then one to three unit-like words.
_UNIT_NUMBER_RE = re.compile(r"-?[\d.,/]+%?")
_GLUED_UNIT_RE = re.compile(r"(-?\d[\d.,]*%?)((?:[a-zA-Z]{2,}|[a-zA-Z](?=/))(?:/[a-zA-Z]+)?(?:\^\{?[23]\}?)?)")
_UNIT_WORD_RE = re.compile(r"(?:[a-zA-Z]{2,}|[a-zA-Z]{1,2}(?=[\^/]))(?:/[a-zA-Z]+)?(?:\^\{?[23]\}?)?\.?")
# A unit of several pieces after a number at the end: "12 \mathrm{~m} / \mathrm{s}", "3 \mathrm{~kg} \cdot
# \mathrm{m}^{2}" (how physics golds write them); every piece must be a unit (_strip_compound_unit).
_UNIT_PIECE_RE = re.compile(
    r"\\(?:text|textrm|textnormal|mathrm|mbox)\s*\{[\s~]*(?![ei]\s*\})([a-zA-Z]+)\s*\}(?:\s*\^\s*\{?\s*-?[1-3]\s*\}?)?"
)
_UNIT_GAP_RE = re.compile(r"(?:\s|\\[,;: !]|~)*(?:(?:/|\\cdot|\\times)(?:\s|\\[,;: !]|~)*)?")
_SPACE_TOKENS = (" ", "~", "\t", "\n", "\\,", "\\;", "\\:", "\\!", "\\ ")
# A unit in \text{}/\mathrm{} after a number at the end: "5\ \text{m}". Unwrapped, a one-letter unit would
# read as a variable (5 m = 5m), so it goes first. e and i are numbers, not units.
_TEXT_UNIT_RE = re.compile(
    r"(?:(?<=[\d}])|(?<=\\pi))(?:\s|\\[,;: !]|~)*\\(?:text|textbf|textnormal|textrm|mathrm|mbox)\s*\{[\s~]*(?![ei]\s*\})"
    r"([a-zA-Z]+(?:\s+[a-zA-Z]+){0,2})\.?\s*\}"
    r"(?:\^\s*\{?\s*[23]\s*\}?)?\s*$"
)
# Only a unit may be dropped after a number: a known unit, or a count noun in the plural ("3 apples"). Never
# a word that negates, hedges or operates ("3 or nine", "5 is not correct", "3 squared", "3 million",
# "12 minus five", "10 factorial"): with it the answer is not the number.
UNITS = frozenset(
    """m cm mm km nm um μm in inch ft foot feet yd yard mi mile meter metre centimeter centimetre millimeter
    millimetre kilometer kilometre micron unit sq square cubic l ml litre liter gal gallon cup quart pint
    tbsp tsp tablespoon teaspoon cc g mg kg gram kilogram milligram lb lbs pound oz ounce ton tonne s sec
    second ms min minute h hr hour day week month year yr decade century mph kph kmh deg degree rad radian
    dollar cent euro yen rupee usd eur gbp percent per hz khz mhz ghz n kn j kj w kw v a ma pa kpa atm
    mol k cal kcal byte kb mb gb tb bit people children men women sheep fish deer person child man woman""".split()
)
VALUE_WORDS = frozenset(
    """not no non none never nor neither wrong incorrect false invalid impossible error mistake typo
    guess maybe perhaps possibly probably likely unlikely approximately about around roughly nearly almost
    either or else otherwise unless except alternatively also and but plus minus times over divided
    multiplied squared cubed power powers root roots factorial less more fewer greater larger smaller higher
    lower than add added subtract subtracted half halves third thirds quarter quarters fourth fourths fifth
    fifths sixth sixths seventh sevenths eighth eighths ninth ninths tenth tenths hundredth hundredths
    thousandth thousandths dozen dozens score scores hundred hundreds thousand thousands million millions
    billion billions trillion trillions zero one two three four five six seven eight nine ten eleven twelve
    thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety is are was were be been being isnt arent wasnt cannot cant can could would should might
    may must do does did doesnt dont if then to of for with without by at from as th st nd rd
    alternative alternatives option options answer answers solution solutions value values result results""".split()
)


_COUNT_WORDS = frozenset({"times", "more", "less", "fewer"})


def unit_words(words: list[str], gold: bool = False) -> bool:
    """Whether every word is a unit that may be dropped after a number (see UNITS); for a gold, every
    word not in VALUE_WORDS."""
    if gold:
        return not any(w.rstrip(".").lower() in VALUE_WORDS for w in words)
    if len(words) == 1 and words[0].rstrip(".").lower() in _COUNT_WORDS:
        return True  # "5 times", "3 more": with nothing after them, how many, not an operation
    for word in words:
        for part in re.sub(r"\^\{?[23]\}?$", "", word.rstrip(".").lower()).split("/"):
            if known_unit(part):
                continue
            stem = part[:-2] if part.endswith("es") else part[:-1]
            plural = len(part) >= 4 and part.isalpha() and part.endswith("s")
            if not plural or part in VALUE_WORDS or part[:-1] in VALUE_WORDS or stem in VALUE_WORDS:
                return False
    return True


def known_unit(word: str) -> bool:
    """Whether a lower-case word is in UNITS or is the plural of one ("weeks", "inches"; not "minus")."""
    if word in UNITS or word.endswith("s") and word[:-1] in UNITS:
        return True
    return word.endswith("es") and word[:-2] in UNITS and word[:-2].endswith(("s", "x", "z", "ch", "sh"))


# Units that may be glued to their number: known units of 3+ letters (and plurals), and these short ones.
# The other short units read as products of variables as well ("2nm", "3mg", "2ma", "4km", "2in").
GLUED_UNITS = frozenset("cm mm kg ml ft yd oz lb lbs hr hrs yr yrs mph kph gb mb kb".split())


def _glued_unit(word: str) -> bool:
    return word in GLUED_UNITS or len(word) >= 3 and known_unit(word)


THOUSANDS_RE = re.compile(r"^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
# zero-width space / joiners, word joiner, BOM: invisible in the rendered answer, so they never count
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_PAREN_CALL_RE = re.compile(r"(?<![\\a-zA-Z])(sqrt|exp)\s*\(")


def normalize(answer: str, *, gold: bool = False) -> str:
    """Canonical text of an answer: what the structure parser and the number fast path read. A gold is
    trusted: any words after its number but those in VALUE_WORDS are a unit ("17 \\text{ any text}")."""
    s = str(answer).translate(_INVISIBLE).strip()
    if _DOUBLED_RE.search(s):  # "\\\\frac{1}{2}": text escaped twice on its way here
        s = s.replace("\\\\", "\\")
    boxes = outer_boxes(s)  # the outermost: "\\boxed{\\boxed{3} or 5}" is "3 or 5"
    if boxes:
        s = boxes[-1][0]
    s = strip_dollars(s)
    s = re.sub(r"^\\(?:boxed|fbox)\s+(?=[^\s{])", "", s)  # "\boxed 5": a box without braces
    s = s.rstrip("\\ ")  # a stray trailing backslash
    s = _THIN_THOUSANDS_RE.sub(r"\1", s)  # "11,\\! 111,\\! 100"
    s = _strip_compound_unit(s, gold)
    s = _TEXT_UNIT_RE.sub(lambda m: "" if unit_words(m.group(1).split(), gold) else m.group(), s)
    s = _UNICODE_UNIT_RE.sub("", s)  # "1,000.99m²"
    s = _overline_to_fraction(s)
    s = _degrees_in_trig(s)
    for _ in range(3):  # nested wrappers: \text{\textbf{B}}
        s2 = _UNWRAP_RE.sub(r"\1", s)
        if s2 == s:
            break
        s = s2
    for pattern, repl in _REMOVE:
        s = pattern.sub(repl, s)
    s = _ungroup(s)
    for pattern, repl in _PLAIN:
        s = pattern.sub(repl, s)
    s = _rewrite_calls(s)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"^\\?\$\s*|\s*(?:\\?\$)$", "", s)  # dollars as currency
    s = s.rstrip(" .")  # a sentence's full stop (rstrip, not a regex: linear on runs of dots)
    s = re.sub(r"^[a-zA-Z]\s*\\in\s+", "", s)  # "x \\in [0, 1]"
    s = _strip_units(s, gold)
    if THOUSANDS_RE.match(s) or re.match(r"^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$", s):
        s = s.replace(",", "").replace(" ", "")
    m = _DECIMAL_COMMA_RE.match(s)
    if m and (m.group(2) == "0" and len(m.group(3)) >= 2 or len(m.group(2)) >= 4 and len(m.group(3)) != 3):
        s = f"{m.group(1)}{m.group(2)}.{m.group(3)}"  # "0,111", "1000,99": a decimal comma, not a list
    s = _real_line(s)
    word = _NUMBER_WORDS.get(s.lower())
    return s if word is None else str(word)


_DOUBLED_RE = re.compile(
    r"(?<!\\)\\\\(?:d?frac|sqrt|left|right|begin|end|pi|cdot|times|text|boxed|infty|le|ge|ne|pm|circ)(?![a-zA-Z])"
)
_THIN_THOUSANDS_RE = re.compile(r"(\d,)\\!\s*(?=\d{3}(?!\d))")
_UNICODE_UNIT_RE = re.compile(r"(?<=\d)\s*[a-zA-Z]{1,3}[²³]$")
_DECIMAL_COMMA_RE = re.compile(r"^(-?)(\d+),(\d+)$")
_OVERLINE_RE = re.compile(r"(?<![\d.])(-?)(\d*)\.(\d*)\\overline\s*\{(\d{1,50})\}")
_DEGREES_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![a-zA-Z]))")
_TRIG_RE = re.compile(r"\\?(?:sin|cos|tan|cot|sec|csc)(?![a-zA-Z])")
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
        " sixteen seventeen eighteen nineteen twenty".split()
    )
} | {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
}


_REALS_RE = re.compile(
    r"^(?:\\mathbb\s*\{?\s*R\s*\}?|ℝ)(?:\s*(?:\\setminus|\\backslash|-)\s*\\\{([^{},]+)\\\})?$"
)


def _ungroup(s: str) -> str:
    """s without braces that group all of it: "{12}" (left by a colour or a size command) is 12."""
    for _ in range(5):
        s = s.strip()
        if not s.startswith("{") or matching_brace(s, 0) != len(s) - 1:
            return s
        s = s[1:-1]
    return s


def _real_line(s: str) -> str:
    """\\mathbb{R} as the interval (-oo, oo); \\mathbb{R} \\setminus \\{c\\} as (-oo, c) U (c, oo)."""
    m = _REALS_RE.match(s)
    if m is None:
        return s
    if m.group(1) is None:
        return "(-\\infty, \\infty)"
    c = m.group(1).strip()
    return f"(-\\infty, {c}) \\cup ({c}, \\infty)"


def _overline_to_fraction(s: str) -> str:
    """0.\\overline{3} -> \\frac{1}{3}, 1.2\\overline{45} -> its fraction: a repeating decimal is exact."""

    def exact(m: re.Match[str]) -> str:
        sign, whole, fixed, rep = m.groups()
        from fractions import Fraction

        value = Fraction(int(whole or "0")) + Fraction(int(fixed or "0"), 10 ** len(fixed))
        value += Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(fixed))
        value = -value if sign else value
        return f"\\frac{{{value.numerator}}}{{{value.denominator}}}" if value.denominator != 1 else str(value)

    return _OVERLINE_RE.sub(exact, s)


def _degrees_in_trig(s: str) -> str:
    """Degrees inside a trigonometric function are an angle: sin(90^\\circ - x) is sin(pi/2 - x).
    Elsewhere the degree sign is a unit and is dropped (with the other units)."""
    if not _TRIG_RE.search(s):
        return s
    return _DEGREES_RE.sub(lambda m: f"({m.group(1)}\\pi/180)", s)


def _strip_compound_unit(s: str, gold: bool) -> str:
    """ "12 \\mathrm{~m} / \\mathrm{s}" -> "12": two or more unit pieces, joined by spacing, "/", \\cdot or
    \\times, end the answer after a number. (Pieces are found once and the gaps between them checked one
    by one: a single regex for the whole shape backtracks for minutes on long runs of spaces.)"""
    pieces = list(_UNIT_PIECE_RE.finditer(s)) if "\\" in s else []
    if len(pieces) < 2 or s[pieces[-1].end() :].strip():
        return s
    first = len(pieces) - 1
    while first > 0 and _UNIT_GAP_RE.fullmatch(s, pieces[first - 1].end(), pieces[first].start()):
        first -= 1
    if first == len(pieces) - 1:
        return s  # one piece is _TEXT_UNIT_RE's
    head = s[: pieces[first].start()]
    while head.endswith(_SPACE_TOKENS):
        head = head[:-2] if head.endswith(_SPACE_TOKENS[4:]) else head[:-1]
    if not (head[-1:].isdigit() or head.endswith(("}", "\\pi"))):
        return s
    return head if unit_words([m.group(1) for m in pieces[first:]], gold) else s


def _strip_units(s: str, gold: bool = False) -> str:
    """ "12 cm", "10 cm^2", "5 m/s" -> the number: a number, a space, then one to three unit-like words.
    Glued to the number ("5cm", "10weeks", "20kg/m^3"), a unit must be one no one reads as a product of
    variables (GLUED_UNITS), for a gold too: "2x", "2ab", "4xyzs", "2nm", "3mg" are products. (Word by word
    on purpose: one regex for the whole shape backtracks for minutes on long letter runs.)"""
    glued = _GLUED_UNIT_RE.fullmatch(s)
    if glued:
        unit = re.sub(r"\^\{?[23]\}?$", "", glued.group(2).lower())
        first, *per = unit.split("/")  # after a slash a unit cannot be a factor: "10m/s"
        return glued.group(1) if _glued_unit(first) and all(map(known_unit, per)) else s
    number, _, rest = s.partition(" ")
    words = rest.split()
    if not _UNIT_NUMBER_RE.fullmatch(number) or not 1 <= len(words) <= 3:
        return s
    return number if all(_UNIT_WORD_RE.fullmatch(w) for w in words) and unit_words(words, gold) else s


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


def squash(s: str) -> str:
    """s without spaces, except between two digits: "1 2" is not 12 (thousands were merged by normalize)."""
    return _SPACE_RE.sub("", s)


_SPACE_RE = re.compile(r"(?<!\d) +| +(?!\d)")
