"""Exact arithmetic for the cheap path: numbers, sums of surds and multiples of pi, polynomials.

Each parser reads one atom into a canonical exact form (a Fraction, a Surd, an expanded Poly) or gives up
(None / NeedSympy) on anything outside its small grammar, so equal forms mean equal values and a give-up
sends the pair to sympy. All work is bounded (token counts, powers, terms), whatever the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from verifiers.math.limits import MAX_NUMBER_DIGITS, MAX_POLY_POWER, MAX_POLY_TERMS, MAX_RADICAND


class NeedSympy(Exception):
    """Raised by the cheap comparison when only sympy can decide."""


# ---------------------------------------------------------------- numbers

_INT = r"\d+(?:\.\d+)?|\.\d+"
_NUM_RES = [
    ("dec", re.compile(rf"^([+-]?)({_INT})(%?)$")),
    ("frac", re.compile(r"^([+-]?)(\d+)\s*/\s*(\d+)(%?)$")),
    ("frac", re.compile(r"^([+-]?)\\frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}(%?)$")),
    ("negfrac", re.compile(r"^\\frac\{\s*-\s*(\d+)\s*\}\{\s*(\d+)\s*\}$")),
    ("mixed", re.compile(r"^([+-]?)(\d+)\s*\\frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}$")),
    ("mixed", re.compile(r"^([+-]?)(\d+) +(\d+)\s*/\s*(\d+)$")),  # plain text "3 1/2"
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
        if kind == "sci":  # a decimal mantissa sets the precision: 2.31e-3 is written to 5 places
            value = Fraction(g[1]) * Fraction(10) ** int(g[2])
            written = len(g[1].split(".")[1]) - int(g[2]) if "." in g[1] else None
            places = written if written is not None and written >= 0 else None
            return Number(-value if g[0] == "-" else value, places)
    return None


def numbers_equal(gold: Number, pred: Number) -> bool:
    """Exact equality, percent-aware, with the decimal rounding rules of the README's math policy."""
    if gold.percent != pred.percent:
        pct, plain = (gold, pred) if gold.percent else (pred, gold)
        options = [(pct.value, plain.value), (pct.value / 100, plain.value)]
    else:
        options = [(gold.value, pred.value)]
    for g, p in options:
        if g == p:
            return True
        if gold.places is not None and pred.places is None and not terminates(p):
            if round(p, gold.places) == g:
                return True
        if pred.places is not None and gold.places is None and not terminates(g):
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


def terminates(x: Fraction) -> bool:
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


# ---------------------------------------------------------------- surds and multiples of pi

Basis = tuple[int, int]  # (square-free radicand r, power k of pi): the number sqrt(r) * pi**k


@dataclass(frozen=True)
class Surd:
    """A sum of rational multiples of sqrt(r) * pi**k with r square-free, such as (1 + sqrt 5) / 2 or
    3 pi / 4. Those basis numbers are linearly independent over the rationals (square roots of distinct
    square-free integers are, and pi is transcendental), so this is one canonical form per value: two
    Surds are equal exactly when their terms are."""

    terms: tuple[tuple[Basis, Fraction], ...] = ()  # sorted by basis, no zero coefficients

    @staticmethod
    def of(coeff: Fraction, radicand: int = 1, pi_power: int = 0) -> Surd:
        square, free = _square_free(radicand)
        return _surd_from({(free, pi_power): coeff * square})

    def plus(self, other: Surd, sign: int = 1) -> Surd:
        out = dict(self.terms)
        for basis, c in other.terms:
            out[basis] = out.get(basis, Fraction(0)) + sign * c
        return _surd_from(out)

    def times(self, other: Surd) -> Surd:
        out: dict[Basis, Fraction] = {}
        for (r1, k1), c1 in self.terms:
            for (r2, k2), c2 in other.terms:
                square, free = _square_free(r1 * r2)
                out[(free, k1 + k2)] = out.get((free, k1 + k2), Fraction(0)) + c1 * c2 * square
        if len(out) > 64:
            raise NeedSympy
        return _surd_from(out)

    def inverse(self) -> Surd:
        if not self.terms:
            raise ZeroDivisionError
        if len(self.terms) == 2 and all(k == 0 for (_, k), _ in self.terms):
            # 1 / (u + v) = (u - v) / (u^2 - v^2) with u, v rational multiples of square roots
            ((r1, _), c1), ((r2, _), c2) = self.terms
            denominator = c1 * c1 * r1 - c2 * c2 * r2  # nonzero: distinct square-free radicands
            return _surd_from({(r1, 0): c1 / denominator, (r2, 0): -c2 / denominator})
        if len(self.terms) > 1:
            raise NeedSympy  # three or more terms, or pi in a sum: sympy's
        (((r, k), c),) = self.terms
        return Surd.of(1 / (c * r), r, -k)

    def power(self, n: int) -> Surd:
        if abs(n) > 128:
            raise NeedSympy
        base = self if n >= 0 else self.inverse()
        out = Surd.of(Fraction(1))
        for _ in range(abs(n)):
            out = out.times(base)
        return out

    def rational(self) -> Fraction | None:
        """The value when it is rational, else None."""
        if not self.terms:
            return Fraction(0)
        if len(self.terms) == 1 and self.terms[0][0] == (1, 0):
            return self.terms[0][1]
        return None

    def approx(self) -> Fraction:
        """The value to about 50 significant digits."""
        import decimal

        with decimal.localcontext() as ctx:
            ctx.prec = 60
            total = decimal.Decimal(0)
            for (r, k), c in self.terms:
                term = decimal.Decimal(c.numerator) / decimal.Decimal(c.denominator)
                total += term * decimal.Decimal(r).sqrt() * decimal.Decimal(_PI_50) ** k
            return Fraction(total)


_PI_50 = "3.14159265358979323846264338327950288419716939937510"


def _starts_number(token: str | None) -> bool:
    return token is not None and (token[0].isdigit() or token[0] == ".")


def _surd_from(terms: dict[Basis, Fraction]) -> Surd:
    return Surd(tuple(sorted((b, c) for b, c in terms.items() if c != 0)))


def terminating(x: Surd) -> bool:
    q = x.rational()
    return q is not None and terminates(q)


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


class _Tokens:
    """A left-to-right reader over the tokens of the small grammars below; a token it does not
    expect means the input is beyond them, and sympy's."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise NeedSympy
        self.pos += 1
        return tok


def parse_surd(s: str) -> Surd | None:
    """Exact value of sums of products of rationals, square roots of rationals and powers of pi, such as
    "\\frac{1+\\sqrt{5}}{2}", "\\sqrt{72}", "\\pi/8", "2\\pi^2", "-\\frac{1}{\\sqrt{3}}"; None for anything
    else (a sum in a denominator included)."""
    if len(s) > 200:
        return None
    tokens = [t for t in _SURD_TOKEN_RE.findall(s) if not t.isspace()]
    if "".join(tokens) != s.replace(" ", ""):
        return None  # a character outside this small grammar
    cursor = _Tokens(tokens)
    peek, take = cursor.peek, cursor.take

    def group() -> Surd:
        take("{")
        value = expr()
        take("}")
        return value

    def factor() -> Surd:
        tok = take()
        if tok == "\\frac":
            value = group().times(group().inverse())
        elif tok == "\\sqrt":
            q = group().rational()
            if q is None or q < 0:
                raise NeedSympy
            value = Surd.of(Fraction(1, q.denominator), q.numerator * q.denominator) if q else Surd()
        elif tok == "\\pi":
            value = Surd.of(Fraction(1), 1, 1)
        elif tok == "(":
            value = expr()
            take(")")
        elif tok[0].isdigit() or tok[0] == ".":
            value = Surd.of(Fraction(tok))
        else:
            raise NeedSympy
        if peek() == "^":
            take()
            exp = (group() if peek() == "{" else Surd.of(Fraction(take()))).rational()
            if exp is None or exp.denominator != 1:
                raise NeedSympy
            value = value.power(int(exp))
        return value

    def term() -> Surd:
        value = factor()
        while peek() not in (None, "}", ")", "+", "-"):
            if peek() == "/":
                take()
                value = value.times(factor().inverse())
                continue
            if peek() in ("\\cdot", "\\times", "*"):
                take()
            elif _starts_number(peek()):
                raise NeedSympy  # "3 4", "\\sqrt{2}3": a number after a factor is no product we read
            value = value.times(factor())
        return value

    def expr() -> Surd:
        sign = -1 if peek() == "-" else 1
        if peek() in ("-", "+"):
            take()
        value = Surd().plus(term(), sign)
        while peek() in ("+", "-"):
            sign = 1 if take() == "+" else -1
            value = value.plus(term(), sign)
        return value

    try:
        value = expr()
        return value if cursor.pos == len(tokens) else None
    except (NeedSympy, ZeroDivisionError, ValueError, OverflowError):
        return None


# ---------------------------------------------------------------- polynomials

Monomial = tuple[tuple[str, int], ...]  # ((variable, power), ...) sorted by variable
Poly = dict[Monomial, Fraction]  # expanded, no zero coefficients: one form per polynomial

_POLY_TOKEN_RE = re.compile(r"\\frac|\\cdot|\\times|\d+(?:\.\d+)?|\.\d+|[a-zA-Z]|[{}()^*/+-]|\s+")


def poly_add(a: Poly, b: Poly, sign: int = 1) -> Poly:
    out = dict(a)
    for mono, c in b.items():
        out[mono] = out.get(mono, Fraction(0)) + sign * c
        if out[mono] == 0:
            del out[mono]
    return out


def _degree(p: Poly) -> int:
    return max((sum(k for _, k in mono) for mono in p), default=0)


def _poly_mul(a: Poly, b: Poly) -> Poly:
    if len(a) * len(b) > 8 * MAX_POLY_TERMS or _degree(a) + _degree(b) > 2 * MAX_POLY_POWER:
        raise NeedSympy  # bounded work per product, whatever the input
    out: Poly = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            powers = dict(ma)
            for var, k in mb:
                powers[var] = powers.get(var, 0) + k
            mono = tuple(sorted(powers.items()))
            out[mono] = out.get(mono, Fraction(0)) + ca * cb
            if out[mono] == 0:
                del out[mono]
        if len(out) > MAX_POLY_TERMS:
            raise NeedSympy
    return out


def parse_poly(s: str) -> Poly | None:
    """The expanded form of a polynomial with rational coefficients in single-letter variables, such as
    "x^2+10x+25", "(x+5)^2", "\\frac{n(n+1)}{2}", "2a+3b"; None for anything else (e and i included,
    being constants)."""
    if len(s) > 200:
        return None
    tokens = [t for t in _POLY_TOKEN_RE.findall(s) if not t.isspace()]
    if "".join(tokens) != s.replace(" ", "") or any(t in ("e", "i") for t in tokens):
        return None
    cursor = _Tokens(tokens)
    peek, take = cursor.peek, cursor.take

    def constant(p: Poly) -> Fraction:
        if any(mono for mono in p):
            raise NeedSympy  # dividing by a polynomial is a rational function: sympy's
        value = p.get((), Fraction(0))
        if value == 0:
            raise NeedSympy
        return value

    def atom() -> Poly:
        tok = take()
        if tok == "\\frac":
            take("{")
            num = expr()
            take("}")
            take("{")
            den = constant(expr())
            take("}")
            return {m: c / den for m, c in num.items()}
        if tok in ("(", "{"):
            inner = expr()
            take(")" if tok == "(" else "}")
            return inner
        if tok[0].isdigit() or tok[0] == ".":
            return {(): Fraction(tok)} if Fraction(tok) else {}
        if tok.isalpha():
            return {((tok, 1),): Fraction(1)}
        raise NeedSympy

    def factor() -> Poly:
        base = atom()
        if peek() != "^":
            return base
        take()
        if peek() == "{":
            take()
            exp_tok = take()
            take("}")
        else:
            exp_tok = take()
        degree = _degree(base)
        if not exp_tok.isdigit() or int(exp_tok) > MAX_POLY_POWER or degree * int(exp_tok) > MAX_POLY_POWER:
            raise NeedSympy
        out: Poly = {(): Fraction(1)}
        for _ in range(int(exp_tok)):
            out = _poly_mul(out, base)
        return out

    def term() -> Poly:
        value = factor()
        while peek() not in (None, "+", "-", ")", "}"):
            if peek() == "/":
                take()
                value = {m: c / constant(factor()) for m, c in value.items()}
                if peek() not in (None, "+", "-", ")", "}"):
                    raise NeedSympy  # "x/2y": x/(2y) or (x/2)y? leave the convention to sympy
                continue
            if peek() in ("*", "\\cdot", "\\times"):
                take()
            elif _starts_number(peek()):
                raise NeedSympy  # "3 4", "x2": a number after a factor is no product we read
            value = _poly_mul(value, factor())
        return value

    def expr() -> Poly:
        sign = -1 if peek() == "-" else 1
        if peek() in ("+", "-"):
            take()
        value = poly_add({}, term(), sign)
        while peek() in ("+", "-"):
            sign = 1 if take() == "+" else -1
            value = poly_add(value, term(), sign)
        return value

    try:
        value = expr()
        return value if cursor.pos == len(tokens) else None
    except (NeedSympy, ZeroDivisionError, ValueError):
        return None
