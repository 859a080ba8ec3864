import pickle

import pytest

from verifiers import Sample, Status, get_verifier, load_reward
from verifiers.repetition import RepetitionVerifier, repetition_penalty


def values(verifier, texts):
    return [s.value for s in verifier.score_batch([Sample(t) for t in texts])]


# open-r1's documented cases (tests/test_rewards.py), each hand-checked: (1 - unique/total) * max_penalty
@pytest.mark.parametrize(
    "ngram_size, max_penalty, text, expected",
    [
        (2, -1.0, "this is a this is a test", -1 / 3),  # 4 unique of 6 bigrams
        (2, -1.0, "this is a test sentence", 0.0),
        (2, -1.0, "this this this this this", -0.75),  # 1 unique of 4
        (2, -1.0, "", 0.0),
        (3, -0.5, "this is a test", 0.0),
        (3, -0.5, "test test test test", -0.25),  # 1 unique of 2
        (3, -2.0, "this is a this is a test", -0.4),  # 3 unique of 5 trigrams
        (3, -1.0, "word", 0.0),  # shorter than one n-gram
        (3, -1.0, "two words", 0.0),
        (3, -1.0, "three different words", 0.0),
        (3, -1.0, "word word word word", -0.5),
        (3, -1.0, "one two one two", 0.0),
        (3, -0.5, "A B C A B", 0.0),
        (3, -1.0, "A B C A B C", -0.25),  # 3 unique of 4
        (3, -1.0, "A B C A B C E F G A B C A B C", -5 / 13),  # 8 unique of 13: -0.3846
        (3, -1.0, "A B C D E F G H I J K L", 0.0),
    ],
)
def test_matches_open_r1_documented_examples(ngram_size, max_penalty, text, expected):
    [s] = RepetitionVerifier(ngram_size, max_penalty).score_batch([Sample(text)])
    assert s.value == pytest.approx(expected) and s.status is Status.OK
    assert s.info["unit"] == "words"


def test_lower_cased_words_and_no_negative_zero():
    v = RepetitionVerifier(2, -1.0)
    assert values(v, ["This is A Test", "this IS a test"]) == [0.0, 0.0]
    assert values(v, ["Ha ha HA ha"]) == pytest.approx([-2 / 3])
    assert str(v.score(Sample("a b c d")).value) == "0.0"


def test_trl_token_definition_on_its_documented_example():
    # TRL: get_repetition_penalty_reward(ngram_size=2, max_penalty=-1.0)([[1, 2, 3, 4], [5, 5, 5, 5, 5]]) == [0.0, -0.75]
    v = RepetitionVerifier(2, -1.0, unit="tokens")
    scores = v.score_batch([Sample("", meta={"completion_ids": [1, 2, 3, 4]}),
                            Sample("", meta={"completion_ids": [5, 5, 5, 5, 5]})])
    assert [s.value for s in scores] == pytest.approx([0.0, -0.75])
    assert scores[1].info == {"unit": "tokens", "ngrams": 4, "ngram_size": 2}
    assert repetition_penalty([5, 5, 5, 5, 5], 2, -1.0) == pytest.approx(-0.75)


def test_tokens_from_a_tokenizer_are_case_sensitive(word_tokenizer):
    tokenizer, folder = word_tokenizer
    text = "This is a this is a test"
    assert RepetitionVerifier(2, -1.0).score(Sample(text)).value == pytest.approx(-1 / 3)  # words, lower-cased
    for tok in (tokenizer, str(folder)):  # bigrams (This is) (is a) (a this) (this is) (is a) (a test): 5 of 6
        assert RepetitionVerifier(2, -1.0, unit="tokens", tokenizer=tok).score(Sample(text)).value == pytest.approx(-1 / 6)
    [s] = RepetitionVerifier(2, -1.0, unit="tokens").score_batch([Sample(text)])
    assert s.value is None and s.status is Status.ERROR and "completion_ids" in s.info["error"]


def test_reasoning_field_is_read():
    msg = [{"role": "assistant", "reasoning_content": "wait wait wait wait wait", "content": "42"}]
    # "<think>wait wait wait wait wait</think>42": words "<think>wait", "wait" x 3, "wait</think>42";
    # 4 bigrams, 3 unique (the content alone, "42", would score 0)
    [s] = RepetitionVerifier(2, -1.0).score_batch([Sample(msg)])
    assert s.value == pytest.approx(-0.25)


def test_hostile_input_is_an_error_score():
    [bad, good] = RepetitionVerifier().score_batch([Sample({"role": "assistant", "content": 3}), Sample("a b c")])
    assert bad.value is None and bad.status is Status.ERROR and good.value == 0.0
    [nested, fine] = RepetitionVerifier(unit="tokens").score_batch(
        [Sample("", meta={"completion_ids": [[1], [2], [3]]}), Sample("", meta={"completion_ids": (4, 4, 4, 4)})])
    assert nested.value is None and "must hold token ids" in nested.info["error"]
    assert fine.value == pytest.approx(-0.5)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"max_penalty": 1.5}, "max_penalty 1.5 should not be positive"),
        ({"ngram_size": 0}, "ngram_size must be a positive integer"),
        ({"ngram_size": True}, "ngram_size must be a positive integer"),
        ({"max_penalty": float("-inf")}, "max_penalty must be a finite number"),
        ({"unit": "chars"}, "unit must be words or tokens"),
    ],
)
def test_bad_config(params, message):
    with pytest.raises(ValueError, match=message):
        RepetitionVerifier(**params)


def test_through_the_composite_and_pickle():
    reward = load_reward({"components": {
        "format": {"verifier": "format", "weight": 0.3},
        "repetition": {"verifier": "repetition", "weight": 0.5, "params": {"ngram_size": 2}},
    }})
    loop = "<think>" + "so so " * 10 + "</think><answer>1</answer>"
    [clean, looping] = reward.score_batch([Sample("<think>a b c</think><answer>1</answer>"), Sample(loop)])
    assert clean.value == pytest.approx(0.3) and clean.components["repetition"] == 0.0
    # words: "<think>so", "so" x 19, "</think><answer>1</answer>": 21 words, 20 bigrams, 3 unique
    assert looping.value == pytest.approx(0.3 + 0.5 * -(1 - 3 / 20)) == pytest.approx(-0.125)
    reward.close()
    v = pickle.loads(pickle.dumps(get_verifier("repetition", ngram_size=2)))
    assert v.score(Sample("a a a")).value == pytest.approx(-0.5)


def test_same_values_as_trls_token_function():
    import random

    trl_rewards = pytest.importorskip("trl.rewards")
    rng = random.Random(0)
    seqs = [[rng.randrange(vocab) for _ in range(rng.randrange(0, 60))] for vocab in (2, 3, 5, 50) for _ in range(10)]
    for n, penalty in [(1, -1.0), (2, -0.5), (3, -1.0), (4, -2.0)]:
        expected = trl_rewards.get_repetition_penalty_reward(ngram_size=n, max_penalty=penalty)(seqs)
        got = RepetitionVerifier(n, penalty, unit="tokens").score_batch([Sample("", meta={"completion_ids": s}) for s in seqs])
        assert [s.value for s in got] == pytest.approx(expected)
        assert any(v < 0 for v in expected)
