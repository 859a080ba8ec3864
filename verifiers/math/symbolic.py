"""The sympy side of math verification; imported only inside worker processes (see workers.py).

`check(gold, pred)` runs the same structural comparison as verifiers.math, but atoms the cheap path cannot
decide are parsed with latex2sympy2_extended and compared with sympy:
- exact against exact: the difference must be exactly zero (a nonzero rational difference is final; a
  numeric difference above 1e-30 is final; otherwise expand, radsimp or simplify must prove zero; a
  random rational point rejects most unequal symbolic pairs first). No evalf-with-chop.
- a float on either side: a written decimal is matched by rounding/truncation to its places (see
  verifiers.math.exact.decimal_matches). A decimal inside an expression against an exact gold is its
  exact value (2024.001 cos 0 is not 2024); only against a decimal gold do float expressions use a
  relative tolerance of 1e-6.
- a lone symbol "i" on both sides is the imaginary unit.
Parsed atoms are cached (LRU), so the G completions of a GRPO group parse their shared gold once. A parse
error in the gold makes the reference invalid; one in the prediction makes the pair unequal. Every input
passed verifiers.math.limits.check_caps first; whatever still runs long is the pool's to kill.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig, latex2sympy

from verifiers.math.cache import LRU
from verifiers.math.compare import (
    DEFAULT_POLICY,
    Part,
    Policy,
    cheap_atom_equal,
    compare,
    equation_sides,
    parse_structure,
)
from verifiers.math.exact import NeedSympy, decimal_matches, parse_number, terminates
from verifiers.math.limits import PARSE_CACHE_SIZE, check_caps
from verifiers.math.normalize import normalize

_CONVERSION = ConversionConfig(interpret_as_mixed_fractions=True, lowercase_symbols=False)
_I = sympy.Symbol("i")
_REL_TOL = sympy.Rational(1, 10**6)


class _BadGold(Exception):
    pass


_parsed = LRU(PARSE_CACHE_SIZE)  # atom text -> sympy object, or an Exception when it does not parse


def check(
    gold: str,
    pred: str,
    policy: Policy = DEFAULT_POLICY,
    on_gold_parsed: Callable[[], None] | None = None,
) -> tuple[str, bool, str]:
    """(status value, equal, reason) for one pair under policy. on_gold_parsed is called once the gold's
    atoms are parsed (the pool tells a gold too slow to parse from a comparison too slow to finish)."""
    g, p = policy.text(normalize(gold, gold=True)), policy.text(normalize(pred))
    try:
        gold_part = policy.structure(parse_structure(g))
        for atom in _atoms(gold_part):
            _parse(atom, is_gold=True)
        if on_gold_parsed is not None:
            on_gold_parsed()
        notes: list[str] = []
        pred_part = policy.structure(parse_structure(p))
        equal = compare(gold_part, pred_part, lambda a, b: _atom_equal(a, b, notes))
    except _BadGold as exc:
        return "invalid_reference", False, f"reference does not parse: {exc}"
    return "ok", equal, "" if equal or not notes else notes[0]


def _atoms(part: Part) -> list[str]:
    if part.kind == "atom":
        return [part.text]
    return [a for item in part.items for a in _atoms(item)]


def _parse(text: str, is_gold: bool = False) -> Any:
    """The sympy value of an atom; raises _BadGold (gold) or ValueError (prediction) when it fails."""
    hit = _parsed.get(text)
    if hit is None:
        try:
            hit = _convert(text)
        except Exception as exc:  # antlr and latex2sympy raise plain Exceptions
            hit = ValueError(f"{type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}")
        _parsed.put(text, hit)
    if isinstance(hit, Exception):
        if is_gold:
            raise _BadGold(str(hit))
        raise hit
    return hit


def _convert(text: str) -> Any:
    problem = check_caps(text)
    if problem:
        raise ValueError(problem)
    if text.endswith("%"):
        text = f"({text[:-1]})/100"
    expr = latex2sympy(text, normalization_config=None, conversion_config=_CONVERSION)
    if isinstance(expr, sympy.Basic):
        expr = expr.doit()
    return expr


def _atom_equal(gold: str, pred: str, notes: list[str]) -> bool:
    try:
        return cheap_atom_equal(gold, pred)
    except NeedSympy:
        pass
    if gold.startswith("\\EQ{"):
        return _equations_equal(gold, pred, notes)
    g = _parse(gold, is_gold=True)
    try:
        p = _parse(pred)
    except ValueError as exc:
        notes.append(f"answer does not parse: {exc}")
        return False
    return values_equal(g, p, gold, pred)


def values_equal(g: Any, p: Any, g_text: str = "", p_text: str = "") -> bool:
    """Equality of two parsed atoms under the README's math policy."""
    if g == p:
        return True
    if isinstance(g, sympy.MatrixBase) and isinstance(p, sympy.MatrixBase):  # an evaluated matrix expression
        return g.shape == p.shape and all(values_equal(a, b) for a, b in zip(g, p, strict=True))
    if not (isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr)):
        return False
    if (g.free_symbols | p.free_symbols) == {_I}:
        g, p = g.subs(_I, sympy.I), p.subs(_I, sympy.I)
    if g.has(sympy.Float) or p.has(sympy.Float):
        return _approx_equal(g, p, g_text, p_text)
    return _exact_equal(g, p)


def _exact_equal(g: sympy.Expr, p: sympy.Expr) -> bool:
    d = g - p
    if d == 0:
        return True
    if d.is_Rational or d.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        return False
    symbols = sorted(d.free_symbols, key=str)
    if symbols:  # a random point settles most unequal pairs before simplify runs
        rng = random.Random(0)
        point = {s: sympy.Rational(rng.randint(1000, 9000), 997) for s in symbols}
        v = d.evalf(30, subs=point)
        if v.is_Number and v.is_finite and abs(v) > 1e-12:
            return False
    else:
        v = d.evalf(40)
        if v.is_Number and abs(v) > 1e-30:
            return False
    # cheapest proofs first: radsimp settles surds in denominators in ms where simplify takes 100+ ms
    attempts = (sympy.expand, sympy.simplify) if symbols else (sympy.expand, sympy.radsimp, sympy.simplify)
    return any(attempt(d) == 0 for attempt in attempts)


def _approx_equal(g: sympy.Expr, p: sympy.Expr, g_text: str, p_text: str) -> bool:
    if g.free_symbols or p.free_symbols:
        return _exact_equal(sympy.nsimplify(g, rational=True), sympy.nsimplify(p, rational=True))
    gv, pv = sympy.N(g, 40), sympy.N(p, 40)
    if not (gv.is_finite and pv.is_finite):
        return False
    g_num, p_num = parse_number(g_text), parse_number(p_text)
    for exact, written in ((g, p_num), (p, g_num)):
        if written is not None and exact.is_Rational and terminates(Fraction(int(exact.p), int(exact.q))):
            return Fraction(int(exact.p), int(exact.q)) == written.value  # both terminate: exact only
    if p_num is not None and p_num.places is not None and not g.has(sympy.Float) and gv.is_real:
        return decimal_matches(_fraction(gv), p_num.value, p_num.places)
    if g_num is not None and g_num.places is not None and not p.has(sympy.Float) and pv.is_real:
        return round(_fraction(pv), g_num.places) == g_num.value
    if not g.has(sympy.Float) and p_num is None:
        # a decimal inside an expression ("2024.001 \\cos 0") against an exact gold is its exact value:
        # exact golds compare exactly on every path, never within a tolerance
        return _exact_equal(g, sympy.nsimplify(p, rational=True))
    diff = abs(gv - pv)
    scale = max(abs(gv), abs(pv))
    return bool(diff <= _REL_TOL * scale)


def _fraction(x: sympy.Expr) -> Fraction:
    return Fraction(str(sympy.Float(x, 40)))


def _equations_equal(gold: str, pred: str, notes: list[str]) -> bool:
    """Two equations are equal when lhs - rhs of one is a nonzero constant multiple of the other's."""
    sides = []
    for text, is_gold in ((gold, True), (pred, False)):
        left, right = equation_sides(text)
        try:
            sides.append(_parse(left, is_gold) - _parse(right, is_gold))
        except (ValueError, TypeError) as exc:
            notes.append(f"equation does not parse: {exc}")
            return False
    dg, dp = sides
    if dp == 0 or dg == 0:
        return dg == dp
    ratio = sympy.simplify(dg / dp)
    return bool(ratio.is_number and ratio.is_finite and ratio != 0)


def _warm_up() -> None:
    """Pay the first-call costs (antlr's parse tables, sympy's simplify machinery) at worker start, before
    the worker reports ready, instead of inside the first samples' time budgets."""
    for text in (
        r"\frac{\sqrt{3}}{2}",
        r"x^{2}+2x+1",
        r"(a^2+2ab+c)^{4}+1",
        r"\sin(\pi/6)",
        r"e^{i\pi}",
        r"(1,2]",
        r"\log_{2} 8",
    ):
        try:
            latex2sympy(text, normalization_config=None, conversion_config=_CONVERSION)
        except Exception:
            pass
    for gold, pred in (
        (r"\sin^2 x", r"1-\cos^2 x"),
        (r"\sqrt{5}-1", r"\frac{4}{\sqrt{5}+1}"),
        ("x+1", "2.5x"),
    ):
        check(gold, pred)
    _parsed.clear()


_warm_up()
