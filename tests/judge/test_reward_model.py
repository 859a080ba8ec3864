"""The reward model on a tiny random Qwen2 classifier whose pad token is its eos token."""

from __future__ import annotations

import math

import pytest

from verifiers import Sample, Status, get_verifier

torch = pytest.importorskip("torch")

BATCH = [
    Sample("Paris is the capital of France.", prompt="Capital of France?"),
    Sample("42", prompt=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "6*7?"}]),
    Sample("The sea is wide and blue. " * 8, prompt="Write a poem."),
    Sample("<think>hmm, let me see</think>No.", prompt="Is 7 even?"),
    Sample("ok"),
]
QUESTION = "Explain, in a few sentences, why the sky is blue during the day and red at sunset."
GROUP = [
    Sample(c, prompt=QUESTION)
    for c in ("Rayleigh scattering.", "Because of the sea.", "No idea", "<think>x</think>Light.")
]


@pytest.fixture(scope="module")
def rm_path(tiny_models):
    return tiny_models["reward_model"]


def unpadded_scores(path, verifier, batch):
    """The score head applied at the last token of each sequence run alone, with no padding at all."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True).eval()
    backend = verifier._backend
    out = []
    for sample in batch:
        response, _ = verifier._response(sample)
        from verifiers.judge.verifier import _prompt_messages

        ids = backend.render(_prompt_messages(sample.prompt), response)
        assert ids[-1] == backend.tokenizer.pad_token_id  # the sequence really ends with pad == eos
        with torch.inference_mode():
            hidden = model.model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
            out.append(model.score(hidden).item())
    return out


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize(
    "batch", [BATCH, GROUP, BATCH[:2] + GROUP + BATCH[2:]], ids=["mixed", "group", "both"]
)
def test_reward_at_the_last_real_token_whatever_the_padding(rm_path, side, batch):
    with get_verifier("reward_model", model=rm_path, padding_side=side) as rm:
        batched = [s.value for s in rm.score_batch(batch)]
        reference = unpadded_scores(rm_path, rm, batch)
    with get_verifier("reward_model", model=rm_path, padding_side=side, max_batch_size=1) as one:
        single = [s.value for s in one.score_batch(batch)]
    with get_verifier("reward_model", model=rm_path, padding_side=side, share_prefix=False) as plain:
        unshared = [s.value for s in plain.score_batch(batch)]
    assert batched == pytest.approx(reference, abs=1e-4)
    assert single == pytest.approx(reference, abs=1e-4)
    assert unshared == pytest.approx(reference, abs=1e-4)
    assert len({round(v, 5) for v in batched}) == len(batch)


def test_reward_order_and_normalisation(rm_path):
    with (
        get_verifier("reward_model", model=rm_path) as raw,
        get_verifier("reward_model", model=rm_path, normalize="sigmoid") as squashed,
    ):
        forward = raw.score_batch(BATCH)
        backward = raw.score_batch(BATCH[::-1])[::-1]
        sig = squashed.score_batch(BATCH)
    assert [s.value for s in backward] == pytest.approx([s.value for s in forward], abs=1e-4)
    for r, s in zip(forward, sig, strict=True):
        assert s.value == pytest.approx(1 / (1 + math.exp(-r.value)), abs=1e-6)
        assert s.info["raw"] == pytest.approx(r.value)


def test_reward_model_statuses_and_config_errors(rm_path):
    with get_verifier("reward_model", model=rm_path) as rm:
        scores = rm.score_batch([Sample("<think>never closes"), Sample(3.5), Sample("fine", prompt=7)])
    assert (
        scores[0].status is Status.NO_ANSWER and scores[0].value is not None
    )  # the RM's score for an empty answer
    assert scores[1].value is None and scores[1].status is Status.ERROR
    assert scores[2].value is None and "prompt" in scores[2].info["error"]
    with pytest.raises(ValueError, match="head_index"):
        get_verifier("reward_model", model=rm_path, head_index=3)
    with pytest.raises(ValueError, match="normalize"):
        get_verifier("reward_model", model=rm_path, normalize="tanh")
