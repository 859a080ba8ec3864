import math
import pickle

import pytest

from verifiers import Sample, Score, Status, Verifier, get_verifier, load_reward, register
from verifiers.composite import ConfigError
from verifiers.length import (
    CosineLengthVerifier,
    OverlongVerifier,
    cosine_length_reward,
    soft_overlong_punishment,
)

RIGHT, WRONG, GOLD = r"\boxed{\frac{63}{400}}", r"\boxed{\frac{64}{400}}", r"\frac{63}{400}"  # 22 characters each


def padded(text, length):
    return text + " " * (length - len(text))


def cos_value(length, max_len, start, end):  # the formula written out, independently of the module
    return end + 0.5 * (start - end) * (1 + math.cos(math.pi * min(length / max_len, 1)))


# ---------------------------------------------------------------- cosine_length: open-r1's documented example


@pytest.mark.parametrize(
    "content, length, expected, exact",
    [
        # open-r1's test pads to 20 characters, but the boxed answer is already 22 long, so it scores 22:
        # 0.5 + 0.25 * (1 + cos(0.22 pi)) = 0.9426
        (RIGHT, 22, 0.943, 0.942628),
        (RIGHT, 80, 0.547, 0.547746),  # 0.5 + 0.25 * (1 + cos(0.8 pi))
        (WRONG, 22, -0.942, -0.942628),
        (WRONG, 80, -0.547, -0.547746),
    ],
)
def test_cosine_matches_open_r1_documented_example(content, length, expected, exact):
    v = CosineLengthVerifier(max_len=100)
    [s] = v.score_batch([Sample(padded(content, length), reference=GOLD)])
    assert s.value == pytest.approx(expected, abs=5e-3)  # open-r1 asserts these to 2 places
    assert s.value == pytest.approx(exact, abs=1e-6)
    assert s.info["length"] == length and s.info["unit"] == "chars" and s.info["scale"] == "fixed"
    assert s.info["correct"] is (content == RIGHT)
    assert s.info["accuracy"]["extracted"] == (r"\frac{63}{400}" if content == RIGHT else r"\frac{64}{400}")


def test_cosine_values_along_the_scale():
    v = CosineLengthVerifier(max_len=100)
    lengths = [20, 50, 100, 200]
    right = v.score_batch([Sample(padded("\\boxed{42}", n), reference="42") for n in lengths])
    wrong = v.score_batch([Sample(padded("\\boxed{41}", n), reference="42") for n in lengths])
    # at exactly 20 characters: 0.5 + 0.25 * (1 + cos(0.2 pi)) = 0.95225; -1 + 0.25 * (1 - cos(0.2 pi))
    assert right[0].value == pytest.approx(0.952254, abs=1e-6)
    assert wrong[0].value == pytest.approx(-0.952254, abs=1e-6)
    assert [s.value for s in right[1:]] == pytest.approx([0.75, 0.5, 0.5])  # mid-range, max_len, past it
    assert [s.value for s in wrong[1:]] == pytest.approx([-0.75, -0.5, -0.5])
    assert [s.info["progress"] for s in right] == pytest.approx([0.2, 0.5, 1.0, 1.0])  # clamped past max_len
    assert [s.value for s in right] == pytest.approx([cos_value(n, 100, 1.0, 0.5) for n in lengths])


def test_past_max_len_stays_at_the_long_end_unlike_open_r1():
    # open-r1's unclamped cos(pi * 200/100) = 1 would give a correct 200-character answer 1.0 (as much as
    # an empty one) and a wrong one -1.0; here both stay at the long end of their range.
    assert cosine_length_reward(True, 200, 100) == pytest.approx(0.5)
    assert cosine_length_reward(False, 200, 100) == pytest.approx(-0.5)
    assert cosine_length_reward(True, 150, 100) == pytest.approx(0.5)


def test_cosine_custom_ranges_and_threshold():
    v = CosineLengthVerifier(max_len=10, min_value_wrong=-2, max_value_wrong=0, min_value_correct=0,
                             max_value_correct=3)
    [right, wrong] = v.score_batch([Sample("\\boxed{42}", reference="42"), Sample("\\boxed{41}", reference="42")])
    assert right.value == pytest.approx(0.0) and wrong.value == pytest.approx(0.0)  # 10 characters: the long end
    [short] = v.score_batch([Sample("42", reference="42")])
    assert short.value == pytest.approx(cos_value(2, 10, 3, 0))


def test_cosine_wraps_another_verifier():
    # accuracy from the format verifier: "correct" is a well-formed completion
    v = get_verifier("cosine_length", accuracy={"verifier": "format"}, max_len=100)
    good = "<think>a</think><answer>b</answer>"  # 34 characters
    [ok, bad] = v.score_batch([Sample(good), Sample("no tags at all")])
    assert ok.value == pytest.approx(cos_value(34, 100, 1.0, 0.5))
    assert bad.value == pytest.approx(cos_value(14, 100, -1.0, -0.5))
    assert bad.info["accuracy"]["status"] == "ok" and bad.info["accuracy"]["value"] == 0.0


def test_fractional_accuracy_uses_the_threshold():
    class Half(Verifier):
        def score(self, sample):
            return Score(0.5)

    strict, lenient = CosineLengthVerifier(Half(), max_len=100), CosineLengthVerifier(Half(), max_len=100,
                                                                                    correct_threshold=0.5)
    assert strict.score(Sample("x" * 50)).value == pytest.approx(-0.75)
    assert lenient.score(Sample("x" * 50)).value == pytest.approx(0.75)


def test_unusable_gold_stays_none_instead_of_open_r1s_skip_reward():
    v = CosineLengthVerifier(max_len=100)
    [s] = v.score_batch([Sample(RIGHT, reference="")])
    assert s.value is None and s.status is Status.INVALID_REFERENCE
    assert s.info["accuracy"]["status"] == "invalid_reference"


def test_no_answer_is_scaled_as_wrong():
    v = CosineLengthVerifier(max_len=100)
    [s] = v.score_batch([Sample("<think>" + "x" * 43, reference="42")])  # 50 characters, never closes
    assert s.value == pytest.approx(-0.75) and s.status is Status.OK
    assert s.info["accuracy"]["status"] == "no_answer"


def test_hostile_completions_give_error_scores_not_exceptions():
    v = CosineLengthVerifier(max_len=100)
    scores = v.score_batch([Sample(5, reference="42"), Sample([{"role": "assistant", "content": 7}], reference="42"),
                            Sample("\\boxed{42}", reference="42")])
    assert [s.value is None for s in scores] == [True, True, False]
    assert all(s.status is Status.ERROR for s in scores[:2])
    o = OverlongVerifier(100, 20)
    assert o.score(Sample(None)).status is Status.ERROR


def test_reasoning_field_counts_in_the_length():
    # open-r1 would measure the content alone (3 characters); the thinking is what grows
    msg = [{"role": "assistant", "reasoning_content": "abc", "content": "def"}]
    [s] = OverlongVerifier(100, 20).score_batch([Sample(msg)])
    assert s.info["length"] == len("<think>abc</think>def") == 21


# ---------------------------------------------------------------- token lengths


def test_completion_ids_give_token_lengths():
    v = CosineLengthVerifier(max_len=100)
    [s] = v.score_batch([Sample(padded(RIGHT, 300), reference=GOLD, meta={"completion_ids": list(range(50))})])
    assert s.info["unit"] == "tokens" and s.info["length"] == 50 and s.value == pytest.approx(0.75)


def test_unit_chars_ignores_completion_ids_and_tokens_needs_them():
    sample = Sample("w " * 90, meta={"completion_ids": [1] * 10})
    assert OverlongVerifier(100, 20, unit="chars").score(sample).info["length"] == 180
    [s] = OverlongVerifier(100, 20, unit="tokens").score_batch([Sample("w " * 90)])
    assert s.value is None and s.status is Status.ERROR and "completion_ids" in s.info["error"]


def test_bad_completion_ids_are_an_error_score():
    [s, t] = OverlongVerifier(100, 20).score_batch([Sample("abc", meta={"completion_ids": "abc"}),
                                                    Sample("abc", meta={"completion_ids": 7})])
    assert s.value is None and s.status is Status.ERROR and s.info["error"].endswith("list of token ids, got str")
    assert t.value is None and t.info["error"].endswith("got int")


def test_tokenizer_object_and_name(word_tokenizer):
    tokenizer, folder = word_tokenizer
    text = "w " * 90  # 90 one-word tokens, 180 characters
    for tok in (tokenizer, str(folder)):
        v = OverlongVerifier(100, 20, tokenizer=tok)
        [by_tokenizer, by_ids] = v.score_batch([Sample(text), Sample(text, meta={"completion_ids": [3] * 50})])
        assert by_tokenizer.info == {"length": 90, "unit": "tokens", "max_completion_len": 100, "soft_punish_cache": 20}
        assert by_tokenizer.value == pytest.approx(-0.5)
        assert by_ids.info["length"] == 50 and by_ids.value == 0.0  # the ids that were generated win
    assert OverlongVerifier(100, 20).score(Sample(text)).value == -1.0  # no tokenizer: 180 characters


def test_unknown_tokenizer_fails_at_configuration(tmp_path):
    with pytest.raises(ValueError, match="cannot load tokenizer .* from local files"):
        OverlongVerifier(100, 20, tokenizer=str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="components.length: .*cannot load tokenizer"):
        load_reward({"components": {"length": {"verifier": "cosine_length",
                                               "params": {"tokenizer": str(tmp_path / "missing")}}}})


def test_named_tokenizer_survives_pickling(word_tokenizer):
    _, folder = word_tokenizer
    v = pickle.loads(pickle.dumps(CosineLengthVerifier(max_len=100, tokenizer=str(folder))))
    [s] = v.score_batch([Sample("the answer is 42", reference="42")])
    assert s.info["unit"] == "tokens" and s.info["length"] == 4
    assert s.value == pytest.approx(cos_value(4, 100, 1.0, 0.5))


# ---------------------------------------------------------------- group-relative length


def test_group_relative_scales_within_each_prompt():
    v = CosineLengthVerifier(max_len=1000, group_relative=True)
    a, b = "Prompt A", "Prompt B"
    samples = [
        Sample(padded("\\boxed{42}", 10), prompt=a, reference="42"),
        Sample(padded("\\boxed{42}", 30), prompt=a, reference="42"),
        Sample(padded("\\boxed{41}", 50), prompt=a, reference="42"),
        Sample(padded("\\boxed{41}", 10), prompt=a, reference="42"),
        Sample(padded("\\boxed{42}", 400), prompt=b, reference="42"),
        Sample(padded("\\boxed{42}", 800), prompt=b, reference="42"),
        Sample(padded("\\boxed{42}", 300), prompt="Prompt C", reference="42"),  # alone in its group
        Sample(padded("\\boxed{42}", 300), reference="42"),  # no prompt, no group
    ]
    scores = v.score_batch(samples)
    # progress = (length - shortest) / longest: group A (10..50) 0, 0.4, 0.8, 0; group B (400..800) 0, 0.5
    assert [s.info["progress"] for s in scores[:6]] == pytest.approx([0, 0.4, 0.8, 0, 0, 0.5])
    assert [s.value for s in scores[:6]] == pytest.approx(
        [1.0, 0.5 + 0.25 * (1 + math.cos(0.4 * math.pi)), -0.5 - 0.25 * (1 + math.cos(0.8 * math.pi)), -1.0, 1.0, 0.75]
    )
    assert [s.info["scale"] for s in scores] == ["group"] * 6 + ["fixed"] * 2
    assert scores[6].value == pytest.approx(cos_value(300, 1000, 1.0, 0.5)) == scores[7].value
    assert "max_len" not in scores[0].info and scores[6].info["max_len"] == 1000


def test_group_relative_is_the_same_for_any_scale_and_gentle_on_tiny_differences():
    v = CosineLengthVerifier(max_len=100, group_relative=True)
    easy = [Sample(padded("\\boxed{42}", n), prompt="easy", reference="42") for n in (30, 60, 90)]
    hard = [Sample(padded("\\boxed{42}", n), prompt="hard", reference="42") for n in (3000, 6000, 9000)]
    close = [Sample(padded("\\boxed{42}", n), prompt="close", reference="42") for n in (3000, 3001)]
    e, h, c = (v.score_batch(g) for g in (easy, hard, close))
    assert [s.value for s in e] == pytest.approx([s.value for s in h])
    assert [s.value for s in e] == pytest.approx([1.0, cos_value(1, 3, 1.0, 0.5), cos_value(2, 3, 1.0, 0.5)])
    assert c[0].value == 1.0 and c[1].value == pytest.approx(1.0, abs=1e-6)  # one character in 3001: no swing


def test_group_relative_uses_meta_group_and_chat_prompts():
    v = CosineLengthVerifier(max_len=1000, group_relative=True)
    chat = [{"role": "user", "content": "What is 6*7?"}]
    samples = [Sample(padded("\\boxed{42}", 20), prompt=chat, reference="42"),
               Sample(padded("\\boxed{42}", 40), prompt=[dict(m) for m in chat], reference="42"),
               Sample(padded("\\boxed{42}", 20), prompt="p1", reference="42", meta={"group": 7}),
               Sample(padded("\\boxed{42}", 60), prompt="p2", reference="42", meta={"group": 7})]
    assert [s.value for s in v.score_batch(samples)] == pytest.approx([1.0, 0.75, 1.0, 0.625])  # 20/40, 40/60


def test_group_of_equal_lengths_is_all_at_the_short_end():
    v = CosineLengthVerifier(max_len=100, group_relative=True)
    scores = v.score_batch([Sample(padded("\\boxed{42}", 50), prompt="p", reference="42")] * 2
                           + [Sample("", prompt="q", reference="42")] * 2)
    assert [s.value for s in scores] == pytest.approx([1.0, 1.0, -1.0, -1.0])  # empty: no answer, progress 0
    assert {s.info["scale"] for s in scores} == {"group"}


# ---------------------------------------------------------------- overlong: TRL's and open-r1's examples


@pytest.mark.parametrize(
    "length, expected",
    [(50, 0.0), (80, 0.0), (81, -0.05), (90, -0.5), (100, -1.0), (101, -1.0), (110, -1.0), (0, 0.0)],
)
def test_overlong_matches_trl_documented_examples(length, expected):
    # TRL: max_completion_len=100, soft_punish_cache=20; 90 tokens -> -0.5, 110 -> -1, 50 -> 0
    v = OverlongVerifier(max_completion_len=100, soft_punish_cache=20)
    by_ids = v.score(Sample("", meta={"completion_ids": [1] * length}))
    by_chars = v.score(Sample("a" * length))  # open-r1's test passes strings of "a"
    assert by_ids.value == pytest.approx(expected) and by_ids.info["unit"] == "tokens"
    assert by_chars.value == pytest.approx(expected) and by_chars.info["unit"] == "chars"
    assert soft_overlong_punishment(length, 100, 20) == pytest.approx(expected)


def test_overlong_without_a_soft_stretch_is_a_hard_cliff():
    v = OverlongVerifier(100, 0)
    assert [v.score(Sample("a" * n)).value for n in (100, 101)] == [0.0, -1.0]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"max_completion_len": 0, "soft_punish_cache": 0}, "max_completion_len must be a positive integer"),
        ({"max_completion_len": 100, "soft_punish_cache": 101}, "soft_punish_cache must be an integer from 0"),
        ({"max_completion_len": 100, "soft_punish_cache": -1}, "soft_punish_cache must be an integer from 0"),
        ({"max_completion_len": 100.5, "soft_punish_cache": 1}, "max_completion_len must be a positive integer"),
        ({"max_completion_len": 100, "soft_punish_cache": 1, "unit": "bytes"}, "unit must be one of"),
    ],
)
def test_overlong_bad_config(params, message):
    with pytest.raises(ValueError, match=message):
        OverlongVerifier(**params)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"max_len": 0}, "max_len must be a positive integer"),
        ({"min_value_correct": 1.5}, "min_value_correct .* is above max_value_correct"),
        ({"max_value_wrong": -2.0}, "min_value_wrong .* is above max_value_wrong"),
        ({"min_value_wrong": float("nan")}, "min_value_wrong must be a finite number"),
        ({"accuracy": "no_such_verifier"}, "unknown verifier 'no_such_verifier'"),
        ({"accuracy": {"verifier": "math", "weight": 2}}, "unknown key"),
        ({"accuracy": {"params": {}}}, "accuracy.verifier is required"),
        ({"accuracy": 3}, "accuracy must be a verifier name"),
        ({"group_relative": "yes"}, "group_relative must be true or false"),
        ({"unit": "words"}, "unit must be one of"),
    ],
)
def test_cosine_bad_config(params, message):
    with pytest.raises(ValueError, match=message):
        CosineLengthVerifier(**params)


# ---------------------------------------------------------------- through the composite


def test_through_the_composite_with_hand_computed_sum():
    reward = load_reward({
        "components": {
            "accuracy": {"verifier": "math", "weight": 1.0},
            "length": {"verifier": "cosine_length", "weight": 0.5, "params": {"max_len": 100}},
            "overlong": {"verifier": "overlong", "weight": 1.0,
                         "params": {"max_completion_len": 100, "soft_punish_cache": 20}},
        }
    })
    right, wrong, broken = reward.score_batch([
        Sample(padded(RIGHT, 80), reference=GOLD),
        Sample(padded(WRONG, 90), reference=GOLD),
        Sample(RIGHT, reference=""),
    ])
    assert right.value == pytest.approx(1.0 + 0.5 * cos_value(80, 100, 1.0, 0.5) + 0.0)
    assert wrong.value == pytest.approx(0.0 + 0.5 * cos_value(90, 100, -1.0, -0.5) - 0.5)
    assert right.components["overlong"] == 0.0 and wrong.components["overlong"] == pytest.approx(-0.5)
    assert right.info["components"]["length"]["unit"] == "chars"
    # an unusable gold makes the accuracy and the length None: the reward is None, never shaped into gradient
    assert broken.value is None and broken.status is Status.INVALID_REFERENCE
    assert broken.components["length"] is None and broken.components["overlong"] == 0.0
    reward.close()


def test_example_config_r1_shaped():
    reward = load_reward("examples/r1_shaped.yaml")
    assert set(reward.components) == {"accuracy", "format", "language", "length", "overlong"}
    completion = "<think>\nSix times seven is 42.\n</think>\n<answer>42</answer>"
    [s] = reward.score_batch([Sample(completion, prompt="What is six times seven?", reference="42", task="math")])
    length = cos_value(len(completion), 4096, 1.0, 0.5)
    assert s.components == pytest.approx({"accuracy": 1.0, "format": 1.0, "language": 1.0, "length": length,
                                          "overlong": 0.0})
    assert s.value == pytest.approx(1.0 + 0.3 + 0.2 + 0.5 * length)
    copy = pickle.loads(pickle.dumps(reward))  # as TRL's async trainer or Ray ship it
    assert copy.score_batch([Sample(completion, prompt="What is six times seven?", reference="42",
                                    task="math")])[0].value == pytest.approx(s.value)
    copy.close()
    reward.close()


def test_registered_and_picklable():
    for name, params in [("cosine_length", {}), ("overlong", {"max_completion_len": 10, "soft_punish_cache": 5})]:
        v = pickle.loads(pickle.dumps(get_verifier(name, **params)))
        assert v.score(Sample("\\boxed{1}", reference="1")).value is not None
        v.close()


# ---------------------------------------------------------------- the anchors themselves: TRL's functions


def test_same_values_as_trls_functions_on_token_ids():
    import random

    trl_rewards = pytest.importorskip("trl.rewards")
    rng = random.Random(0)
    lengths = [0, 1, 50, 79, 80, 81, 90, 99, 100, 101, 150] + [rng.randrange(0, 300) for _ in range(40)]

    trl_overlong = trl_rewards.get_soft_overlong_punishment(max_completion_len=100, soft_punish_cache=20)
    ours = OverlongVerifier(100, 20).score_batch([Sample("x", meta={"completion_ids": [1] * n}) for n in lengths])
    assert [s.value for s in ours] == pytest.approx(trl_overlong([[1] * n for n in lengths]))

    # TRL 1.x's cosine: token lengths, clamped past max_len, None for an unparseable gold (as ours)
    trl_cosine = trl_rewards.get_cosine_scaled_reward(max_len=100)
    answers = [r"\boxed{\frac{1}{3}}", r"\boxed{\frac{1}{2}}"]
    completions = [[{"role": "assistant", "content": answers[i % 2]}] for i in range(len(lengths))]
    golds = [r"\frac{1}{3}" if i % 7 else "" for i in range(len(lengths))]
    ids = [[1] * n for n in lengths]
    expected = trl_cosine(completions, golds, ids)
    ours = CosineLengthVerifier(max_len=100).score_batch(
        [Sample(c, reference=g, meta={"completion_ids": i}) for c, g, i in zip(completions, golds, ids, strict=True)]
    )
    assert [s.value for s in ours] == pytest.approx(expected)
    assert sum(v is None for v in expected) == 8 and sum(v is not None and v < 0 for v in expected) > 10


# ---------------------------------------------------------------- through TRL's reward-function interface


def test_through_trl_reward_lengths_come_from_completion_ids():
    from verifiers.integrations.trl import trl_reward, trl_rewards

    cfg = {"components": {
        "accuracy": {"verifier": "math", "weight": 1.0},
        "length": {"verifier": "cosine_length", "weight": 0.5, "params": {"max_len": 100}},
        "overlong": {"verifier": "overlong", "weight": 1.0, "params": {"max_completion_len": 100, "soft_punish_cache": 20}},
        "repetition": {"verifier": "repetition", "weight": 0.1, "params": {"ngram_size": 2, "unit": "tokens"}},
    }}
    prompts = [[{"role": "user", "content": "Compute 63/400."}]] * 3
    completions = [[{"role": "assistant", "content": c}] for c in (RIGHT, WRONG, RIGHT)]
    ids = [[1, 2] * 25, [7] * 90, [3] * 10]  # 50, 90 and 10 tokens; the texts are 22 characters each
    call = {"prompts": prompts, "completions": completions, "completion_ids": ids, "solution": [GOLD, GOLD, ""],
            "trainer_state": None}
    f = pickle.loads(pickle.dumps(trl_reward(cfg, name="shaped")))  # as TRL's async trainer ships it
    metrics = {}
    out = f(**call, log_metric=metrics.__setitem__)
    # 0: correct at 50 tokens: length 0.75, overlong 0, bigrams of [1, 2] * 25: 2 unique of 49
    # 1: wrong at 90 tokens: length -1 + 0.25 * (1 - cos(0.9 pi)), overlong -0.5, [7] * 90: 1 unique of 89
    # 2: unusable gold: None for TRL, never a shaped number
    assert out[0] == pytest.approx(1.0 + 0.5 * 0.75 + 0.0 - 0.1 * (1 - 2 / 49))
    assert out[1] == pytest.approx(0.5 * cos_value(90, 100, -1.0, -0.5) - 0.5 - 0.1 * (1 - 1 / 89))
    assert out[2] is None
    assert metrics["shaped/overlong"] == pytest.approx(-0.5 / 3)

    per_component = {g.__name__: g for g in trl_rewards(cfg)}
    assert per_component["length"](**call) == pytest.approx([0.75, cos_value(90, 100, -1.0, -0.5), None])
    assert per_component["overlong"](**call) == [0.0, -0.5, None]  # None: the whole reward is None


def test_through_trl_reward_group_relative_length():
    from verifiers.integrations.trl import trl_reward

    cfg = {"components": {"length": {"verifier": "cosine_length", "params": {"max_len": 10_000, "group_relative": True}}}}
    f = trl_reward(cfg)
    # two prompts, G = 3 each, in TRL's order (a prompt's completions side by side)
    prompts = ["easy"] * 3 + ["hard"] * 3
    completions = ["\\boxed{4}", "\\boxed{4}", "\\boxed{5}", "\\boxed{9}", "\\boxed{9}", "\\boxed{9}"]
    ids = [[0] * n for n in (10, 30, 20, 1000, 3000, 2000)]
    out = f(prompts=prompts, completions=completions, completion_ids=ids, answer=["4"] * 3 + ["9"] * 3)
    # progress = (length - shortest) / longest: 0, 2/3, 1/3 in both groups, whatever the prompt's scale
    assert out == pytest.approx([1.0, 0.625, -0.875, 1.0, 0.625, 0.875])


# ---------------------------------------------------------------- reusing the accuracy component


class CountingMath(Verifier):
    """The math verifier, counting the samples it is asked to score (class-wide: the composite copies nothing)."""

    scored = 0

    def __init__(self) -> None:
        self.math = get_verifier("math", timeout=5)

    def score_batch(self, samples):
        CountingMath.scored += len(samples)
        return self.math.score_batch(samples)

    def close(self) -> None:
        self.math.close()


register("counting_math_for_length_tests", CountingMath)


def shaped(accuracy: dict) -> dict:
    return {"components": {
        "accuracy": {"verifier": "counting_math_for_length_tests"},
        "format": {"verifier": "format", "weight": 0.3},
        "length": {"verifier": "cosine_length", "weight": 0.5, "params": {"accuracy": accuracy, "max_len": 50}},
    }, "routes": {"math": ["accuracy", "format", "length"], "short": ["length"], "default": ["format"]}}


def test_length_reusing_the_accuracy_component_runs_the_math_once_with_the_same_rewards():
    samples = [Sample(f"<think>x</think><answer>{RIGHT}</answer>", reference=GOLD),
               Sample(padded(f"<think>x</think><answer>{WRONG}</answer>", 45), reference=GOLD),
               Sample("no answer at all", reference=GOLD),
               Sample(RIGHT, reference=""),  # an unusable gold: None, never a shaped value
               Sample(RIGHT, reference=GOLD, task="short"),  # length routed, accuracy not
               Sample(RIGHT, task="other")]  # neither
    rewards = {}
    for name, accuracy in (("twice", {"verifier": "counting_math_for_length_tests"}),
                           ("once", {"component": "accuracy"})):
        CountingMath.scored = 0
        with load_reward(shaped(accuracy)) as reward:
            rewards[name] = reward.score_batch(samples)
        rewards[name + " count"] = CountingMath.scored
    assert rewards["twice count"] == 4 + 5 and rewards["once count"] == 5  # 4 routed to accuracy, 5 to length
    for a, b in zip(rewards["twice"], rewards["once"], strict=True):
        assert (a.value, a.status, a.components) == (b.value, b.status, b.components)
        assert a.info["components"].get("length") == b.info["components"].get("length")
    assert rewards["once"][3].value is None and rewards["once"][3].components["length"] is None
    assert rewards["once"][4].components == {"accuracy": None, "format": None,
                                             "length": pytest.approx(cos_value(22, 50, 1.0, 0.5))}


def test_a_reused_component_must_exist_and_run_its_verifier():
    with pytest.raises(ConfigError, match=r"components.length.params.accuracy: \{component: acc\} names no other "
                                          "component; components: accuracy, format"):
        load_reward(shaped({"component": "acc"}))
    with pytest.raises(ConfigError, match="names no other component"):
        load_reward(shaped({"component": "length"}))
    chained = shaped({"component": "accuracy"})
    chained["components"]["again"] = {"verifier": "cosine_length", "params": {"accuracy": {"component": "length"}}}
    with pytest.raises(ConfigError, match="component 'length' itself reuses another component"):
        load_reward(chained)
    with pytest.raises(ConfigError, match="takes only the name of another component"):
        load_reward(shaped({"component": "accuracy", "params": {}}))
    alone = get_verifier("cosine_length", accuracy={"component": "accuracy"})
    with pytest.raises(ValueError, match="score through the CompositeReward that has it"):
        alone.score_batch([Sample(RIGHT, reference=GOLD)])
    reward = pickle.loads(pickle.dumps(load_reward(shaped({"component": "accuracy"}))))
    [s] = reward.score_batch([Sample(f"<answer>{RIGHT}</answer>", reference=GOLD)])
    assert s.components["length"] == pytest.approx(cos_value(39, 50, 1.0, 0.5)) and s.components["accuracy"] == 1.0
    reward.close()
