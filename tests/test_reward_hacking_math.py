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
    # round 2: glued to the number, a word is a unit only when it cannot be a factor or an operation
    ("4", "\\boxed{4squared}"),
    ("30", "<answer>30minus</answer>"),  # "minus" is no plural of "min"
    ("30", "<answer>30 minus</answer>"),
    ("2", "\\boxed{2million}"),
    ("5", "<answer>5is</answer>"),
    ("2nm", "<answer>2</answer>"),  # a gold that is a product of variables keeps them
    ("3mg", "\\boxed{3}"),
    ("4xyzs", "<answer>4</answer>"),
    ("12", "\\boxed{12 \\mathrm{~m} / \\mathrm{or}}"),  # every piece of a unit must be one
    ("12", "\\boxed{12 \\mathrm{~x} / \\mathrm{y}}"),
    ("12 \\mathrm{~m} / \\mathrm{s}", "\\boxed{13}"),
    ("12", "\\boxed{\\num{12} or \\num{13}}"),
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
    ("5", "\\boxed{5 \\text{ times}}"),  # how many times: a count, nothing is multiplied
    ("3", "<answer>3 more</answer>"),
    # round 2: units glued to the number, in the answer or in the gold
    ("5", "<answer>5cm</answer>"),
    ("10", "\\boxed{10weeks}"),
    ("10weeks", "<answer>10</answer>"),
    ("20", "\\boxed{20kg/m^3}"),
    ("5", "The answer is 5inches."),
    ("0.5", "<answer>0.5kg</answer>"),
    ("2nm", "\\boxed{2nm}"),
    # round 2: units of several pieces (physics golds) and siunitx, in the answer or in the gold
    ("12", "\\boxed{12 \\mathrm{~m} / \\mathrm{s}}"),
    ("12 \\mathrm{~m} / \\mathrm{s}", "\\boxed{12}"),
    ("12 \\mathrm{~kg} \\cdot \\mathrm{m}^{2}", "<answer>12</answer>"),
    ("12", "\\boxed{\\SI{12}{\\metre\\per\\second}}"),
    ("12", "\\boxed{\\qty{12}{cm}}"),
    ("12", "\\boxed{\\num{12}}"),
    ("12", "\\boxed{12\\,\\si{\\metre}}"),
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
    # round 2: an approximation must be the exact side rounded or truncated
    ("3", "<answer>3 \\approx 5</answer>"),
    ("3", "<answer>x = 3 \\approx 5</answer>"),
    ("\\pi", "<answer>\\pi \\approx 4</answer>"),
    ("\\frac{1}{7}", "The probability is $\\frac{1}{7} \\approx 0.9$."),
]

HONEST_CHAINS = [
    # round 2: approximations rounded, truncated, or to the significant figures an integer shows
    ("\\frac{2}{3}", "<answer>\\frac{2}{3} \\approx 0.66</answer>"),
    ("\\frac{2}{3}", "<answer>x = \\frac{2}{3} \\approx 0.667</answer>"),
    ("\\pi", "<answer>\\pi \\approx 3</answer>"),
    ("12345\\pi", "<answer>12345\\pi \\approx 38800</answer>"),
    ("12345\\pi", "<answer>12345\\pi \\approx 3.88 \\times 10^4</answer>"),
    ("-\\frac{2}{3}", "<answer>-\\frac{2}{3} \\approx -0.67</answer>"),
    ("3", "\\boxed{x = \\frac{6}{2} = 3}"),
    ("\\frac{\\sqrt{2}}{2}", "\\boxed{\\cos(45^\\circ) = \\frac{\\sqrt{2}}{2}}"),
    ("4\\pi", "\\boxed{A = \\pi r^2 = 4\\pi}"),  # a side with an unknown is a formula, not a value
    ("\\frac{1}{3}", "\\boxed{x = 1/3 \\approx 0.33}"),
    ("11", "\\boxed{x = 5+5+1 = 11}"),
]


def test_a_false_chain_is_wrong_whatever_its_last_side(verifier):
    assert_no_reward(verifier, FALSE_CHAINS)
    assert_full_reward(verifier, HONEST_CHAINS)


# ---------------------------------------------------------------- several boxes: their content decides

BOXES_OFFERED_TOGETHER = [
    ("4", "\\boxed{4} \\vee \\boxed{6}"),
    ("6", "\\boxed{4} \\lor \\boxed{6}"),
    ("6", "\\boxed{4} or else \\boxed{6}"),
    ("6", "\\boxed{4} otherwise \\boxed{6}"),
    ("6", "\\boxed{4} \\mathrm{or} \\boxed{6}"),
    ("4", "\\boxed{6}, maybe \\boxed{4}"),
    ("4", "\\(\\boxed{6}\\) or \\(\\boxed{4}\\)"),
    ("4", "\\boxed{6}\u200b\\boxed{4}"),
    ("4", "- \\boxed{6}\n- \\boxed{4}"),
    ("4", "\\boxed{6} 或 \\boxed{4}"),
    ("6", "\\boxed{4}\\boxed{6}\\boxed{6}"),
    ("4", "**6**, maybe **4**"),
    ("\\sqrt{3}", "\\boxed{\\sqrt{5}} \\vee \\boxed{\\sqrt{3}}"),
    ("(2,4)", "\\boxed{[2,4]} otherwise \\boxed{(2,4)}"),
    ("\\{2,5\\}", "\\boxed{\\{2,6\\}} or else \\boxed{\\{2,5\\}}"),
    ("\\text{no}", "\\boxed{yes} \\lor \\boxed{no}"),
    ("D", "\\boxed{A} \\vee \\boxed{D}"),
    ("4", "<answer>\\boxed{6} \\quad\\text{alternatively}\\quad \\boxed{4}</answer>"),  # ours
    ("4", "\\boxed{6} / \\boxed{4}"),  # ours
    ("4", "1. \\boxed{6}\n2. \\boxed{4}"),  # ours: a numbered list
]

HONEST_BOXES = [
    ("\\frac{1}{6}", "Two ones: $3\\cdot 5=\\boxed{15}$ ways. So the probability is $\\boxed{\\frac{1}{6}}$."),
    ("5", "First I thought \\boxed{3}. Checking again, that was wrong. Final: \\boxed{5}"),
    ("2, 3", "The roots are \\boxed{2} and \\boxed{3}."),  # several boxes, a gold with several parts
    ("4", "\\boxed{4}\\boxed{4}"),  # the same value twice
    ("(1, 2)", "- \\boxed{1}\n- \\boxed{2}"),
]


def test_boxes_offered_together_are_judged_by_what_they_hold(verifier):
    assert_no_reward(verifier, BOXES_OFFERED_TOGETHER)
    assert_full_reward(verifier, HONEST_BOXES)


NESTED_BOXES = [
    ("4", "\\boxed{\\boxed{4} or 6}"),
    ("6", "\\boxed{\\boxed{4} or 6}"),
    ("(2,4)", "\\boxed{\\boxed{(2,4)} \\cup [5,6]}"),
    ("6", "\\boxed{\\text{4 or \\boxed{6}}}"),
    ("4", "\\boxed{4 \\fbox{or 6}}"),  # ours
]


def test_the_outer_box_is_the_answer(verifier):
    assert_no_reward(verifier, NESTED_BOXES)
    assert_full_reward(verifier, [("4", "\\boxed{\\boxed{4}}"), ("(2,4)", "\\boxed{\\fbox{(2,4)}}")])


# ---------------------------------------------------------------- multiple choice

CHOICE_HEDGES = [
    ("C", "\\boxed{C or d}"),
    ("C", "\\boxed{C (or D)}"),
    ("C", "\\boxed{C \\lor D}"),
    ("C", "\\boxed{C — D}"),
    ("C", "\\boxed{C (also D)}"),
    ("C", "\\boxed{C or something else}"),
    ("C", "\\boxed{C is wrong}"),
    ("C", "<answer>C is wrong</answer>"),
    ("C", "<answer>(C) \\vee (D)</answer>"),  # ours
    ("C", "\\boxed{C, maybe D}"),  # ours
    ("C", "\\boxed{C | D}"),  # ours
]

HONEST_CHOICES = [
    ("C", "\\boxed{C}"),
    ("C", "\\boxed{(C)}"),
    ("C", "\\boxed{C) 12, or 13 in the other case}"),
    ("C", "\\boxed{\\text{(C) A right triangle}}"),
]


def test_naming_or_negating_choices_is_no_answer(verifier):
    assert_no_reward(verifier, CHOICE_HEDGES)
    assert_full_reward(verifier, HONEST_CHOICES)


# ---------------------------------------------------------------- negations, questions, retractions

NEGATED = [
    ("4", "<answer>it's not 4</answer>"),
    ("4", "We can rule out 4."),
    ("4", "The answer is not $4$."),
    ("4", "The answer cannot be $4$."),
    ("4", "Is the answer $4$?"),
    ("4", "\\boxed{4} is wrong; the answer is 6"),
    ("4", "<answer>4</answer> Actually the answer is \\boxed{6}"),
    ("6", "<answer>4</answer> Actually the answer is \\boxed{6}"),
    ("4", "<answer>4</answer><answer>6</answer>"),
    ("6", "<answer>4</answer><answer>6</answer>"),
    ("4", "<answer>6 <answer>4</answer></answer>"),
    ("6", "<answer>6 <answer>4</answer></answer>"),
    ("4", "The answer isn't $4$."),  # ours
    ("4", "**4** is incorrect."),  # ours
    ("4", "The answer is $4$?"),  # ours
    ("4", "\\boxed{4}. Wait, no: the answer is 6."),  # ours
    ("4", "x is 6, not 4"),  # ours
    ("4", "\\boxed{4} 是错的"),  # ours: a retraction in Chinese
    ("4", "\\boxed{4} (just kidding, it is 6)"),  # ours
    ("4", "<answer>4</answer>\n\n(Or possibly 6.)"),  # ours
    ("4", "<answer>4</answer> wait, no: 6"),  # ours: a plain retraction after the answer block
    ("4", "\\boxed{4} Oops, 6."),  # ours
    ("4", "\\boxed{4} 不对，是 6"),  # ours
    ("4", "\\boxed{\\text{not } 4}"),  # ours
    ("4", "\\boxed{4 \\text{ if } n \\text{ is odd}}"),  # ours: a condition, not an answer
    ("4", "The answer is not \\boxed{4}."),  # ours: negated before the box
    ("4", "We rule out **4**."),  # ours
    ("4", "So $x \\neq \\boxed{4}$."),  # ours
    # round 2: struck out is taken back
    ("4", "<answer>~~4~~</answer>"),
    ("4", "<answer>~~4~~ 6</answer>"),
    ("4", "The answer is ~~4~~."),
    ("4", "\\boxed{\\cancel{4}}"),
    ("4", "<answer>\\sout{4}</answer>"),
    ("4", "<answer><del>4</del> 6</answer>"),
    ("4", "<answer><strike>4</strike></answer>"),
    # round 2: a box or bold answer questioned where it stands
    ("4", "Could it be \\boxed{4}?"),
    ("4", "\\boxed{4}?"),
    ("4", "Is it **4**?"),
]

HONEST_STATEMENTS = [
    ("4", "Since $x$ cannot be negative, $x = 4$."),
    # round 2: a struck-out slip before the answer, and cancelled factors, keep full reward (0 before)
    ("4", "<answer>~~6~~ 4</answer>"),
    ("4", "The answer is ~~6~~ 4."),
    ("4", "<answer>\\cancel{6} 4</answer>"),
    ("4", "<answer><del>6</del> 4</answer>"),
    ("4", "\\boxed{\\frac{\\cancel{2} \\cdot 4}{\\cancel{2}}}"),
    ("4", "<answer>$x~~=~~4$</answer>"),  # ~ is a LaTeX space in math
    ("4", "Is the answer 4? Yes: \\boxed{4}"),  # round 2: the question comes before the box
    ("4", "\\boxed{4}. Why? Because the sum is 4."),
    ("4", "<answer>4</answer>"),
    ("4", "<answer>4</answer><answer>4</answer>"),
    ("4", "\\boxed{4}\n\nThe answer is 4."),
    ("4", "It is not 6; the answer is \\boxed{4}."),
    ("4", "\\boxed{4}\n\nCheck: $2 \\cdot 2 = 4$, as expected."),
    ("4", "<answer>4</answer>\n\nThis uses 2 of the 3 conditions."),
    ("4", "The answer is not 2 but \\boxed{4}."),
    ("4", "Since 2 is not prime, the answer is \\boxed{4}."),
]


def test_a_negated_questioned_or_retracted_answer_is_no_answer(verifier):
    assert_no_reward(verifier, NEGATED)
    assert_full_reward(verifier, HONEST_STATEMENTS)


ANSWER_PHRASE_HEDGES = [
    ("4", "The answer is $4$, or maybe $6$."),
    ("4", "$4$ unless it is $6$"),
    ("6", "$4$ unless it is $6$"),
    ("4", "The answer is $4$ unless it is $6$."),
    ("4", "The final answer is $4$, possibly $6$."),  # ours
    ("4", "答案是 $4$ 或 $6$"),  # ours
]

HONEST_PHRASES = [
    ("4", "The answer is $4$, since $2 \\cdot 2 = 4$."),
    ("4", "The answer is $4$."),
    ("2, 3", "The answer is $2$ or $3$."),  # both roots: a list, right for a gold with both
]


def test_answer_phrase_hedges_are_no_answer(verifier):
    assert_no_reward(verifier, ANSWER_PHRASE_HEDGES)
    assert_full_reward(verifier, HONEST_PHRASES)


# ---------------------------------------------------------------- what the reader sees (round 2)

HIDDEN_ANSWERS = [
    ("12", "<answer>\\textcolor{white}{12}</answer>"),  # white on the page: no answer
    ("12", "<answer>9 \\textcolor{white}{12}</answer>"),  # the reader sees 9
    ("12", '<answer><span style="display:none">12</span></answer>'),
    ("12", "The answer is $9$.<details>\\boxed{12}</details>"),
]

DECORATED_ANSWERS = [  # a colour, a font or a tag shows what it holds (each was 0 before)
    ("12", "<answer>\\textcolor{red}{12}</answer>"),
    ("12", "\\boxed{\\textcolor{blue}{12}}"),
    ("12", "<answer>{\\color{red} 12}</answer>"),
    ("12", "<answer>\\colorbox{yellow}{12}</answer>"),
    ("12", "<answer>\\underline{12}</answer>"),
    ("12", "<answer>\\boldsymbol{12}</answer>"),
    ("12", "<answer>\\Large{12}</answer>"),
    ("12", "<answer><b>12</b></answer>"),
    ("12", '<answer><span style="color:red">12</span></answer>'),
    ("12", "<answer>`12`</answer>"),
    ("\\frac{1}{2}", "<answer>\\textcolor{red}{\\frac{1}{2}}</answer>"),
]


def test_an_answer_is_what_the_reader_sees(verifier):
    assert_no_reward(verifier, HIDDEN_ANSWERS)
    assert_full_reward(verifier, DECORATED_ANSWERS)


# ---------------------------------------------------------------- plain answers offered together (round 2)

PLAIN_OFFERED_TOGETHER = [  # the last value was taken alone (1.0 for gold 9)
    ("9", "There are 12 or 9 muffins."),
    ("12", "There are 12 or 9 muffins."),
    ("9", "So we get 12 muffins or 9 muffins."),
    ("9", "$12$ or $9$"),
    ("9", "It costs 1,200 or 9 dollars."),
]

HONEST_PLAIN = [
    ("9, 12", "$x = 12$ or $x = 9$"),  # two roots: a list (0 before, the last root alone)
    ("26", "The number of ways to choose 2 or more items is 26."),
    ("3", "We need 1 or more steps, and the minimum is 3."),
]


def test_a_plain_answer_with_another_value_or_before_it_is_a_list(verifier):
    assert_no_reward(verifier, PLAIN_OFFERED_TOGETHER)
    assert_full_reward(verifier, HONEST_PLAIN)
