import pickle

import pytest

from verifiers import Sample, Status, get_verifier, load_reward
from verifiers.reasoning_steps import ReasoningStepsVerifier, count_steps


# open-r1's documented cases (tests/test_rewards.py)
@pytest.mark.parametrize(
    "text, expected",
    [
        ("Step 1: First step\nStep 2: Second step\nStep 3: Third step", 1.0),
        ("First, we do this.\nSecond, we do that.\nFinally, we conclude.", 1.0),
        ("Step 1: Only step", 1 / 3),
        ("First, we do this.\nFinally, we conclude.", 2 / 3),
        ("Just plain text without any clear steps", 0.0),
    ],
)
def test_matches_open_r1_documented_examples(text, expected):
    s = ReasoningStepsVerifier().score(Sample(text))
    assert s.value == pytest.approx(expected) and s.status is Status.OK


def test_markers_are_counted_and_capped():
    text = "Step 1: a\nStep 2: b\n- c\n* d\nNext, e"
    assert count_steps(text) == 5
    s = ReasoningStepsVerifier().score(Sample(text))
    assert s.value == 1.0 and s.info == {"steps": 5}
    assert ReasoningStepsVerifier(min_steps=10).score(Sample(text)).value == pytest.approx(0.5)


def test_numbered_lines_count_on_every_line_but_decimals_do_not():
    # open-r1's regex (no multiline flag) counts only a first line "1."; its docstring says every line
    assert count_steps("1. expand\n2. collect terms\n3. solve") == 3
    assert count_steps("pi is about\n3.14 and e about\n2.72") == 0
    assert count_steps("10. last step") == 1


def test_reasoning_field_is_read():
    msg = [{"role": "assistant", "reasoning_content": "\n1. a\n2. b\n3. c", "content": "42"}]
    assert ReasoningStepsVerifier().score(Sample(msg)).info["steps"] == 3


def test_custom_pattern_and_bad_config():
    v = ReasoningStepsVerifier(min_steps=2, pattern=r"^Schritt \d+")
    assert v.score(Sample("Schritt 1: a\nSchritt 2: b\nStep 3: c")).value == 1.0
    with pytest.raises(ValueError, match="not a valid regular expression"):
        ReasoningStepsVerifier(pattern="(unclosed")
    for empty in ("", "x*", "^"):
        with pytest.raises(ValueError, match="non-empty regular expression|matches empty text"):
            ReasoningStepsVerifier(pattern=empty)
    with pytest.raises(ValueError, match="min_steps must be a positive integer"):
        ReasoningStepsVerifier(min_steps=0)


def test_hostile_input_and_composite():
    assert ReasoningStepsVerifier().score(Sample(12)).status is Status.ERROR
    reward = load_reward({"components": {"steps": {"verifier": "reasoning_steps", "weight": 0.2}}})
    [s] = reward.score_batch([Sample("First, x.\nNext, y.")])
    assert s.value == pytest.approx(0.2 * 2 / 3) and s.components == {"steps": pytest.approx(2 / 3)}
    reward.close()
    v = pickle.loads(pickle.dumps(get_verifier("reasoning_steps", min_steps=1)))
    assert v.score(Sample("Step 1: go")).value == 1.0
