"""Answers as people write them, by category (issue 9): several answers, labelled golds and answers,
relations, extraction, number forms, units and text, matrices and structures, golds as datasets ship
them, and the false positives to keep out. Each case is (gold, completion, expected 1.0 / 0.0)."""

from __future__ import annotations

import pytest

from verifiers import Sample, Status
from verifiers.math import MathVerifier, extract_answer, math_equal
from verifiers.math.extract import extract_answers, extract_gold


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(timeout=5.0, workers=2) as v:
        yield v


def value(verifier, gold, completion):
    return verifier.score(Sample(completion, reference=gold)).value


SEVERAL_ANSWERS = [
    ("7, -2, \\text{ and } -5", "\\boxed{-5,-2,7}", 1.0),
    ("1, 2, and 3", "\\boxed{3, 2}", 0.0),
    ("\\{1, 2\\}", "\\boxed{{2, 1}}", 1.0),  # a set written with plain braces
    ("\\{1, 2\\}", "\\boxed{{2, 3}}", 0.0),
    ("$1$ and $2$ and $3$", "So the roots are \\boxed{1, 2, 3}.", 1.0),
    ("$1$ and $2$ and $3$", "The solutions are \\boxed{1}, \\boxed{2} and \\boxed{3}.", 1.0),
    (
        "1, 2, 3",
        "$\\boxed{3}$ \\quad \\text{and} \\quad $\\boxed{1}$ \\quad \\text{and} \\quad $\\boxed{2}$",
        1.0,
    ),
    ("x_1 = 4, x_2 = -1", "The roots are \\boxed{-1} and \\boxed{4}.", 1.0),
    ("x_1 = 4, x_2 = -1", "\\boxed{x = 4 \\text{ or } x = -1}", 1.0),
    ("(11,7) or (7,11)", "The pairs are \\boxed{(7,11), (11,7)}", 1.0),
    ("(11,7) or (7,11)", "The pair is \\boxed{(11,7)}", 0.0),
    ("p=5,q=2; p=7,q=2", "\\boxed{(5,2)} and \\boxed{(7,2)}", 1.0),
    ("\\boxed{1}, \\boxed{2}", "The answers are 1 and 2.", 1.0),
    ("\\pm 2021", "\\boxed{\\{-2021, 2021\\}}", 1.0),
    ("\\{-2021, 2021\\}", "x = \\boxed{\\pm 2021}", 1.0),
    # alternatives offered for one answer are a hedge, whatever the order
    ("3", "\\boxed{3} or \\boxed{5}", 0.0),
    ("5", "\\boxed{3} \\quad \\text{and} \\quad \\boxed{5}", 0.0),
    ("3", "So it is \\boxed{3}. Checking again, still \\boxed{3}.", 1.0),
    ("1, 2", "\\boxed{1}, \\boxed{2}, \\boxed{3}", 0.0),
]

LABELLED = [
    ("(p,q)=(3,2)", "\\boxed{(3,2)}", 1.0),
    ("(3,2)", "\\boxed{(p,q)=(3,2)}", 1.0),
    ("(3,2)", "\\boxed{(a,b)=(3,2)}", 1.0),
    ("(3,2)", "\\boxed{(p,q)=(2,3)}", 0.0),
    ("|AB| = 1", "\\boxed{1}", 1.0),
    ("A:B = 1", "\\boxed{1}", 1.0),
    ("S_{MBCN}:S=7:32", "\\boxed{7:32}", 1.0),
    ("S_{MBCN}:S=7:32", "\\boxed{7:23}", 0.0),
    ("\\frac{NO}{BO}=\\frac{1}{3}", "\\boxed{\\frac13}", 1.0),
    ("AB=4, CD=5", "\\boxed{4, 5}", 1.0),
    ("AB=4, CD=5", "\\boxed{5, 6}", 0.0),
    ("f(x)=2x+3", "\\boxed{2x+3}", 1.0),
    ("f(x)=2x+3", "\\boxed{y = 2x + 3}", 1.0),
    ("f(x)=2x+3", "\\boxed{3x+2}", 0.0),
    ("x=1,y=2,z=3", "\\boxed{1, 2, 3}", 1.0),
    ("x=1,y=2,z=3", "\\boxed{(1, 2, 3)}", 1.0),
    ("x=1,y=2,z=3", "\\boxed{x=1, y=2, z=3}", 1.0),
    ("7", "\\boxed{7 = x}", 1.0),
    ("7", "\\boxed{8 = x}", 0.0),
    ("x + y = 5", "\\boxed{5}", 0.0),  # an equation with a sum on the left states no value
]

RELATIONS = [
    ("(-\\infty, \\infty)", "\\boxed{x \\in \\mathbb{R}}", 1.0),
    ("(-\\infty, 0) \\cup (0, \\infty)", "\\boxed{\\mathbb{R} \\setminus \\{0\\}}", 1.0),
    ("(-\\infty, 0) \\cup (0, \\infty)", "\\boxed{\\mathbb{R} \\setminus \\{1\\}}", 0.0),
    ("(-\\infty, 2) \\cup (3, \\infty)", "\\boxed{x < 2 \\text{ or } x > 3}", 1.0),
    ("(-\\infty, 2) \\cup (3, \\infty)", "\\boxed{x < 2 \\text{ or } x > 4}", 0.0),
    ("x \\neq 3", "\\boxed{x != 3}", 1.0),
    ("x \\ne 3", "\\boxed{x \\neq 4}", 0.0),
    ("x < 1", "\\boxed{-x > -1}", 1.0),
    ("x < 1", "\\boxed{2x < 2}", 1.0),
    ("x < 1", "\\boxed{-x < -1}", 0.0),
    ("-2 \\le x \\le 7", "\\boxed{x \\in [-2,7]}", 1.0),
    ("-2 \\le x \\le 7", "\\boxed{[-2,7)}", 0.0),
    ("11", "\\boxed{x = 5+5+1 = 11}", 1.0),
    ("11", "\\boxed{x = 5+5+1 = 7 = 11}", 0.0),  # a false chain is wrong whatever its last side (#13)
    ("\\frac{1}{3}", "\\boxed{x = 1/3 \\approx 0.33}", 1.0),
    ("0.33", "\\boxed{x = 1/3 \\approx 0.33}", 1.0),
    ("\\frac{1}{3}", "\\boxed{x \\approx 0.33}", 0.0),
    ("5", "\\boxed{2 + 2 = 5}", 0.0),
]

EXTRACTION = [
    ("5", "so the answer is \\boxed 5.", 1.0),
    ("5", "so the answer is \\boxed 6.", 0.0),
    ("5", "The answer is **5**.", 1.0),
    ("34", "Final Answer: The final answer is 34. I hope it is correct.", 1.0),
    ("34", "Counting gives many cases.\nThe largest $n$ is 34.", 1.0),
    ("7", "So the answer is \\boxed{7}.<|im_end|>\n<|im_start|>user\nNow solve 2+2, answer \\boxed{4}", 1.0),
    ("7", "So the answer is \\boxed{7}.<|eot_id|><|start_header_id|>user\\boxed{4}", 1.0),
    ("C", "We find $F = \\boxed{16N}$.\nFinal Answer: The final answer is (C).", 1.0),
    ("3.25", "Final Answer: The final answer is $\\$3.25$. I hope it is correct.", 1.0),
    ("9", "After simplifying:\n\\[ \n 9 \n \\]", 1.0),
    ("9", "After simplifying:\n$$ \n 9 \n $$", 1.0),
    (
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        "The product is\n\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        1.0,
    ),
    ("7", "计算得到结果。答案是 7", 1.0),
    ("7", "所以答案为 7。", 1.0),
    ("7", "最终答案：7", 1.0),
    ("8", "最终答案：7", 0.0),
]

NUMBER_FORMS = [
    ("3.75", "\\boxed{3¾}", 1.0),
    ("\\frac{1}{2}", "The answer is ½.", 1.0),
    ("1 + \\sqrt2i", "\\boxed{1 + \\sqrt{2} i}", 1.0),  # \sqrt2 followed by a letter
    ("-\\infty", "\\boxed{-oo}", 1.0),
    ("34,\\!650", "\\boxed{34650}", 1.0),
    ("34650", "\\boxed{34,\\!650}", 1.0),
    ("14{,}916", "\\boxed{14916}", 1.0),
    ("11,\\! 111,\\! 111,\\! 100", "11111111100", 1.0),
    ("1000.99", "\\boxed{1,000.99€}", 1.0),
    ("1000.99", "The area is 1,000.99m²", 1.0),
    ("1000.99", "\\boxed{1000,99}", 1.0),
    ("0.111", "\\boxed{0,111}", 1.0),
    ("1.5", "\\boxed{1,5}", 0.0),  # ambiguous: the list 1, 5
    ("2.31 \\times 10^{-3}", "\\boxed{0.00231}", 1.0),
    ("2.31 \\times 10^{-3}", "\\boxed{\\frac{1}{432}}", 1.0),  # the gold sets the precision: 0.0023148
    ("2.31 \\times 10^{-3}", "\\boxed{\\frac{1}{400}}", 0.0),
    ("2.314814814815 \\times 10^{-3}", "\\boxed{\\frac{1}{432}}", 1.0),
    ("1", "\\boxed{\\frac3{3}}", 1.0),
    ("\\tfrac23", "\\boxed{\\frac{2}{3}}", 1.0),
    ("\\frac1{72}", "\\boxed{1/72}", 1.0),
    ("28\\%", "The answer is $28$ %.", 1.0),
    ("28", "\\boxed{28$ %}", 1.0),
    ("185", "185\\", 1.0),
    ("\\frac{1}{2}", "\\boxed{\\\\frac{1}{2}}", 1.0),
    ("(1,2)", "\\boxed{\\\\left(1,2\\\\right)}", 1.0),
]

UNITS_AND_TEXT = [
    ("12\\pi", "\\boxed{12 \\pi \\text{ cm}^2}", 1.0),
    ("5", "\\boxed{5 \\text{meters}}", 1.0),
    ("5", "\\boxed{5\\textbf{ miles}}", 1.0),
    ("5", "\\boxed{5\\textnormal{ miles}}", 1.0),
    ("125$ miles", "\\boxed{125}", 1.0),
    ("\\frac{1}{3}", "\\boxed{0.\\overline{3}}", 1.0),
    ("0.\\overline{3}", "\\boxed{\\frac{1}{3}}", 1.0),
    ("0.\\overline{3}", "\\boxed{0.3}", 0.0),
    ("5", "\\boxed{5 = x}", 1.0),
    ("(1,2)", "\\boxed{(a,b)=(1,2)}", 1.0),
    ("3", "There are \\boxed{three} ways.", 1.0),
    ("three", "\\boxed{3}", 1.0),
    ("3", "\\boxed{four}", 0.0),
]

MATRICES = [
    (
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        "\\boxed{\\left[\\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array}\\right]}",
        1.0,
    ),
    (
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        "\\boxed{\\left[\\begin{array}{cc} 1 & 2 \\\\ 4 & 3 \\end{array}\\right]}",
        0.0,
    ),
    (
        "\\begin{pmatrix} 2 & 3 \\\\ 4 & 5 \\end{pmatrix}",
        "\\boxed{\\begin{pmatrix} 1 & 1 \\\\ 1 & 1 \\end{pmatrix} + \\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}",
        1.0,
    ),
    (
        "\\begin{pmatrix} 2 & 3 \\\\ 4 & 5 \\end{pmatrix}",
        "\\boxed{\\begin{pmatrix} 1 & 1 \\\\ 1 & 1 \\end{pmatrix} + \\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}}",
        0.0,
    ),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\boxed{(1, 2)}", 1.0),
    ("(1, 2)", "\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}", 1.0),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\boxed{(2, 1)}", 0.0),
    (
        "\\begin{cases} x = 1 \\\\ y = 2 \\end{cases}",
        "\\boxed{\\begin{cases} y = 2 \\\\ x = 1 \\end{cases}}",
        1.0,
    ),
    (
        "\\begin{cases} x = 1 \\\\ y = 2 \\end{cases}",
        "\\boxed{\\begin{cases} x = 2 \\\\ y = 1 \\end{cases}}",
        0.0,
    ),
]

GOLD_FORMS = [
    (
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72",
        "\\boxed{72}",
        1.0,
    ),
    ("#### 72", "The answer is 72.", 1.0),
    ("#### 1,000", "\\boxed{1000}", 1.0),
    ("The answer is 72.", "\\boxed{72}", 1.0),
    ("The answer is 72.", "\\boxed{27}", 0.0),
    ("We add the two parts: $3 + 4 = 7$, so the total is $\\boxed{7}$.", "<answer>7</answer>", 1.0),
]

FALSE_POSITIVES = [
    ("12:00", "\\boxed{1:00}", 0.0),
    ("12:00", "\\boxed{12:00}", 1.0),
    ("1:00", "\\boxed{12:00}", 0.0),
    ("34650", "\\boxed{34,\\!651}", 0.0),
    ("3", "\\boxed{three or four}", 0.0),
]

CATEGORIES = {
    "several_answers": SEVERAL_ANSWERS,
    "labelled": LABELLED,
    "relations": RELATIONS,
    "extraction": EXTRACTION,
    "number_forms": NUMBER_FORMS,
    "units_and_text": UNITS_AND_TEXT,
    "matrices": MATRICES,
    "gold_forms": GOLD_FORMS,
    "false_positives": FALSE_POSITIVES,
}
CASES = [
    pytest.param(g, c, e, id=f"{name}-{i}")
    for name, cases in CATEGORIES.items()
    for i, (g, c, e) in enumerate(cases)
]


@pytest.mark.parametrize("gold, completion, expected", CASES)
def test_forms(verifier, gold, completion, expected):
    assert value(verifier, gold, completion) == expected


def test_several_boxes_are_one_answer_only_for_the_list_api():
    assert extract_answer("\\boxed{1} and \\boxed{2}") is None  # no single answer
    assert extract_answers("\\boxed{1} and \\boxed{2}") == ["1", "2"]
    assert extract_answers("\\boxed{2} then later \\boxed{2}") == ["2"]


def test_gold_extraction():
    assert extract_gold("lots of work\n#### 72") == "72"
    assert extract_gold("The answer is 72.") == "72"
    assert extract_gold("\\frac{1}{2}") == "\\frac{1}{2}"
    assert extract_gold("x = 5") == "x = 5"
    assert extract_gold("\\text{Devon}") == "\\text{Devon}"
    assert extract_gold("####") is None


def test_a_gold_with_no_answer_after_its_marker_is_invalid(verifier):
    s = verifier.score(Sample("\\boxed{7}", reference="Natalia sold 48 clips.\n####"))
    assert s.value is None and s.status == Status.INVALID_REFERENCE


def test_math_equal_reads_dataset_golds():
    assert math_equal("#### 72", "72")
    assert not math_equal("12:00", "1:00")


# ---------------------------------------------------------------- where graders differ: parameters


def test_percent_policy():
    with MathVerifier(percent="exact") as strict:
        assert [
            value(strict, "50\\%", f"\\boxed{{{p}}}") for p in ("50", "0.5", "50\\%", "\\frac{1}{2}")
        ] == [
            0.0,
            1.0,
            1.0,
            1.0,
        ]
        assert value(strict, "0.5", "\\boxed{50\\%}") == 1.0
        assert value(strict, "50", "\\boxed{50\\%}") == 0.0
    with MathVerifier() as either:  # the default: 50% = 50 = 0.5
        assert [value(either, "50\\%", f"\\boxed{{{p}}}") for p in ("50", "0.5")] == [1.0, 1.0]
    assert math_equal("50\\%", "50") and not math_equal("50\\%", "50", percent="exact")


def test_ordered_lists_policy():
    with MathVerifier(ordered_lists=True, workers=1) as ordered:
        assert value(ordered, "1, 2, 3", "\\boxed{1, 2, 3}") == 1.0
        assert value(ordered, "1, 2, 3", "\\boxed{3, 2, 1}") == 0.0
        assert value(ordered, "\\{1, 2\\}", "\\boxed{\\{2, 1\\}}") == 1.0  # a set has no order
        # decided by a sympy worker, which must follow the same policy
        assert value(ordered, "1, 2", "\\boxed{\\ln(e^{2}), 1}") == 0.0
        assert value(ordered, "1, 2", "\\boxed{1, \\ln(e^{2})}") == 1.0
    with MathVerifier() as unordered:
        assert value(unordered, "1, 2, 3", "\\boxed{3, 2, 1}") == 1.0
        assert value(unordered, "1, 2", "\\boxed{\\ln(e^{2}), 1}") == 1.0


def test_policy_parameters_are_checked_and_kept_when_pickled():
    import pickle

    with pytest.raises(ValueError, match="percent"):
        MathVerifier(percent="sometimes")
    with pytest.raises(ValueError, match="ordered_lists"):
        MathVerifier(ordered_lists="yes")
    v = pickle.loads(pickle.dumps(MathVerifier(percent="exact", ordered_lists=True)))
    assert (v.policy.percent, v.policy.ordered_lists) == ("exact", True)
