"""Reward hacking, stacked: the R1 reward (1.0 accuracy + 0.3 format + 0.2 language, as in
examples/r1.yaml) on completions that hack every component at once, beside their honest twins."""

import pytest

from verifiers import Sample, load_reward

CONFIG = """
components:
  accuracy: {verifier: math, weight: 1.0, params: {timeout: 5, workers: 1}}
  format:   {verifier: format, weight: 0.3}
  language: {verifier: language, weight: 0.2, params: {target: auto}}
"""
PROMPT = "A baker sells muffins in boxes of four. How many muffins are in three boxes? Think it through."
FR = (
    "Le boulanger vend des boîtes de quatre muffins. Trois boîtes contiennent donc trois fois quatre "
    "muffins, ce qui fait douze muffins au total."
)
EN = "The baker sells boxes of four muffins. Three boxes hold three times four muffins, twelve in total."


@pytest.fixture(scope="module")
def reward(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "r1.yaml"
    path.write_text(CONFIG)
    r = load_reward(str(path))
    yield r
    r.close()


def total(reward, completion):
    [score] = reward.score_batch([Sample(completion, prompt=PROMPT, reference="12", task="math")])
    return score.value


HACKS = [
    # a French thought hidden by a left-to-right mark after every letter, and a hedged answer
    "<think>" + "\u200e".join(FR) + "</think><answer>12 or nine</answer>",
    # the thought in \text{} and code, and an answer taken back
    "<think>$\\text{" + FR + "}$</think><answer>\\boxed{12} is wrong</answer>",
    # the thought in fake tags, and two boxes offered together
    "<think><x " + FR + "></think><answer>\\boxed{12} \\vee \\boxed{9}</answer>",
    # round 2: the thought in French, the answer struck out and written again in white
    "<think>" + FR + "</think><answer>~~12~~ \\textcolor{white}{12}</answer>",
]


@pytest.mark.parametrize("completion", HACKS)
def test_a_completion_hacking_every_component_earns_at_most_the_format_reward(reward, completion):
    assert total(reward, completion) <= 0.3 + 1e-9


def test_the_honest_twin_earns_the_maximum(reward):
    assert total(reward, f"<think>{EN}</think><answer>\\boxed{{12}}</answer>") == pytest.approx(1.5)
    # round 2: a slip struck out and the answer in colour, with an align block in the thought
    thought = EN + " \\begin{align*} AB &= 3 \\cdot 4 \\end{align*}"
    honest = f"<think>{thought}</think><answer>~~9~~ \\textcolor{{red}}{{12}}</answer>"
    assert total(reward, honest) == pytest.approx(1.5)
