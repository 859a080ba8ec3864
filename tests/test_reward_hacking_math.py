"""Reward hacking, math verifier: completions that credit one value in a predictable place while the
text around it hedges, negates or changes it. Each class has honest twins that keep full reward."""

import pytest

from verifiers import Sample
from verifiers.math import MathVerifier


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(timeout=5.0, workers=1) as v:
        yield v


def rewards(verifier, pairs):
    return [s.value for s in verifier.score_batch([Sample(c, reference=g) for g, c in pairs])]


def assert_no_reward(verifier, pairs):
    got = rewards(verifier, pairs)
    assert [p for p, v in zip(pairs, got, strict=True) if v != 0.0] == []


def assert_full_reward(verifier, pairs):
    got = rewards(verifier, pairs)
    assert [p for p, v in zip(pairs, got, strict=True) if v != 1.0] == []


# ---------------------------------------------------------------- words after a number

WORDS_THAT_CHANGE_THE_VALUE = [
    ("14", "<answer>14 or eleven</answer>"),
    ("4", "The answer is 4 or seven."),
    ("4", "\\boxed{4 \\text{ or seven}}"),
    ("4", "\\boxed{4 \\text{ is incorrect}}"),
    ("6", "<answer>6 is not right</answer>"),
    ("8", "\\boxed{8 \\textnormal{ is false}}"),
    ("4", "\\boxed{4 squared}"),
    ("4", "\\boxed{4 cubed}"),
    ("2", "\\boxed{2 million}"),
    ("2", "\\boxed{2 thousands}"),
    ("14", "<answer>14 minus six</answer>"),
    ("9", "\\boxed{9 factorial}"),
    ("\\frac{2}{5}", "\\boxed{2/5 or three sevenths}"),
    ("0.25", "<answer>0.25 is wrong</answer>"),
    ("11", "The final answer is 11 plus one."),
    ("11", "\\boxed{11 \\text{ times three}}"),
    ("6", "\\boxed{6 \\text{ or maybe }}"),  # ours: a dangling hedge
    ("6", "\\boxed{6 halves}"),  # ours: a fraction word
    ("6", "\\boxed{6 dozen}"),  # ours: a multiplier
    ("6", "\\boxed{6 \\mathrm{ nope}}"),  # ours: a word that is no unit
]

HONEST_UNITS = [
    ("14", "<answer>14 cm</answer>"),
    ("4", "\\boxed{4 \\text{ apples}}"),
    ("2", "\\boxed{2 \\text{ km}^2}"),
    ("9", "The answer is 9 square meters."),
    ("12", "\\boxed{12 \\text{ dollars}}"),
    ("5", "\\boxed{5\\ \\text{m}}"),
    ("60", "\\boxed{60 mph}"),
    ("30", "\\boxed{30 \\text{ minutes}}"),
    ("8", "\\boxed{8 \\text{ people}}"),
    ("7", "\\boxed{7 \\textnormal{ ways}}"),
]


def test_words_that_negate_hedge_or_operate_are_not_units(verifier):
    assert_no_reward(verifier, WORDS_THAT_CHANGE_THE_VALUE)
    assert_full_reward(verifier, HONEST_UNITS)


# ---------------------------------------------------------------- float tolerance against exact golds

DECIMALS_IN_EXPRESSIONS = [
    ("2024", "\\boxed{2024.001 \\cos 0}"),
    ("123456789", "\\boxed{123456900.0 \\cdot \\cos(0)}"),
    ("1000000", "\\boxed{1000001.0 + x - x}"),
    ("1000000", "\\boxed{1000000.9 + 0i}"),
    ("\\sqrt{2}", "\\boxed{1.41421356 \\cdot 1}"),  # ours: a rounding dressed as an expression
    ("\\frac{1}{3}", "\\boxed{0.3333333 + 0}"),  # ours
    ("5000000", "\\boxed{5000001 \\cdot 1.0}"),  # ours: an integer made a float by a factor
]

HONEST_DECIMALS = [
    ("\\frac{\\pi}{2}", "\\boxed{0.5\\pi}"),
    ("\\frac{3\\sqrt{2}}{2}", "\\boxed{1.5\\sqrt{2}}"),
    ("6", "\\boxed{2.0 \\cdot 3}"),
    ("\\frac{1}{3}", "\\boxed{0.333}"),  # a written decimal rounds the exact gold
    ("0.5", "\\boxed{\\frac{1}{2}}"),
    ("3.14", "\\boxed{\\pi}"),  # a decimal gold sets the precision
]


def test_exact_golds_compare_exactly_on_every_path(verifier):
    assert_no_reward(verifier, DECIMALS_IN_EXPRESSIONS)
    assert_full_reward(verifier, HONEST_DECIMALS)


# ---------------------------------------------------------------- contradictory equation chains

FALSE_CHAINS = [
    ("6", "\\boxed{x = 4 = 6}"),
    ("2", "\\boxed{\\sin(30^\\circ) = 0.5 = 2}"),
    ("6", "\\boxed{y = 2 + 2 = 6}"),  # ours: a wrong sum before the right value
    ("\\sqrt{2}", "\\boxed{x = 1.5 = \\sqrt{2}}"),  # ours
    ("6", "\\boxed{\\cos(0) = 6}"),  # ours: a function value that is not the answer
]

HONEST_CHAINS = [
    ("3", "\\boxed{x = \\frac{6}{2} = 3}"),
    ("\\frac{\\sqrt{2}}{2}", "\\boxed{\\cos(45^\\circ) = \\frac{\\sqrt{2}}{2}}"),
    ("4\\pi", "\\boxed{A = \\pi r^2 = 4\\pi}"),  # a side with an unknown is a formula, not a value
    ("\\frac{1}{3}", "\\boxed{x = 1/3 \\approx 0.33}"),
    ("11", "\\boxed{x = 5+5+1 = 11}"),
]


def test_a_false_chain_is_wrong_whatever_its_last_side(verifier):
    assert_no_reward(verifier, FALSE_CHAINS)
    assert_full_reward(verifier, HONEST_CHAINS)
