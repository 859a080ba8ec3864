"""The vLLM offline-engine backend on tiny random models (head_dim 64, which vLLM's CPU attention
takes), against the transformers backend on the same model: same token ids, same verdicts.

Runs in the vLLM venv (`make vllm-test`, part of `make test` on x86_64 Linux), where a vLLM that
does not import is a failure; elsewhere the module skips.
"""

from __future__ import annotations

import os
import pickle
import random
import threading

import pytest

from tests.judge.test_local import samples
from verifiers import Sample, Status, get_verifier

if os.environ.get("VERIFIERS_REQUIRE_VLLM"):
    import vllm  # noqa: F401  (the vLLM venv: no vLLM is a failure, not a skip)
else:
    pytest.importorskip("vllm")
pytest.importorskip("torch")

# A small engine: eager (no compile step), a 64 MiB KV cache (1 KiB a token at these sizes).
ENGINE = dict(
    backend="vllm",
    dtype="float32",
    enforce_eager=True,
    max_model_len=1024,
    engine_args={"kv_cache_memory_bytes": 64 << 20},
)


@pytest.fixture(scope="module")
def judge(vllm_models):
    with get_verifier("judge", model=vllm_models["judge"], **ENGINE) as verifier:
        yield verifier


@pytest.fixture(scope="module")
def scripted(vllm_models):
    with get_verifier("judge", model=vllm_models["scripted_judge"], **ENGINE) as verifier:
        yield verifier


def ok_values(scores) -> list[float]:
    assert all(s.status is Status.OK for s in scores), [s.info for s in scores]
    return [s.value for s in scores]


def test_verdict_log_probs_equal_the_transformers_backend(judge, vllm_models):
    batch = samples()
    got = judge.score_batch(batch)
    with get_verifier("judge", model=vllm_models["judge"], dtype="float32") as reference:
        assert judge._backend.render(judge._prepare(batch[1])[0][0]) == reference._backend.render(
            reference._prepare(batch[1])[0][0]
        )  # the same token ids, rendered by one piece of code
        want = reference.score_batch(batch)
    assert ok_values(got) == pytest.approx(ok_values(want), abs=1e-4)
    for g, w in zip(got, want, strict=True):
        # A random model spreads its probability over 657 tokens: the labels are nowhere near the
        # top, and still come back exactly (logprob_token_ids, not the top max_logprobs).
        assert g.info["label_mass"] == pytest.approx(w.info["label_mass"], rel=1e-3)
        assert g.info["label_mass"] < 0.05
        assert g.info["probs"] == pytest.approx(w.info["probs"], abs=1e-4)


def test_pairwise_verdict_equals_the_transformers_backend(vllm_models):
    batch = [Sample("Paris.", prompt="Capital of France?", reference="It is Paris, the capital.")]
    options = dict(model=vllm_models["judge"], pairwise=True)
    with get_verifier("judge", **options, **ENGINE) as judge:
        got = judge.score_batch(batch)[0]
    with get_verifier("judge", **options, dtype="float32") as reference:
        want = reference.score_batch(batch)[0]
    assert got.status is Status.OK and got.value == pytest.approx(want.value, abs=1e-4)
    assert got.info["orders"] == pytest.approx(want.info["orders"], abs=1e-4)


def test_scripted_judge_verdict_and_generate_read_its_4(scripted, vllm_models):
    for s in scripted.score_batch(samples()):
        assert s.status is Status.OK and s.value == pytest.approx(0.75, abs=1e-3)  # "4" on 1..5
        assert s.info["probs"]["4"] > 0.99
    with get_verifier(
        "judge", model=vllm_models["scripted_judge"], mode="generate", max_new_tokens=16, **ENGINE
    ) as judge:
        assert judge._backend is scripted._backend  # one engine per process and model
        scores = judge.score_batch(samples())
    for s in scores:
        assert s.status is Status.OK and s.value == pytest.approx(0.75)
        assert s.info["verdicts"] == ["4"] and s.info["judgement"].strip() == "right [RESULT] 4"
    assert scripted.score(samples()[0]).value == pytest.approx(0.75)  # still open for its other user


def test_scripted_judge_votes(vllm_models):
    with get_verifier(
        "judge",
        model=vllm_models["scripted_judge"],
        mode="generate",
        votes=3,
        temperature=1.0,
        max_new_tokens=16,
        **ENGINE,
    ) as judge:
        scores = judge.score_batch(samples()[:2])
    for s in scores:
        assert s.status is Status.OK and s.info["verdicts"] == ["4", "4", "4"]


def test_input_order_is_kept(judge):
    batch = samples()
    values = ok_values(judge.score_batch(batch))
    order = list(range(len(batch)))
    random.Random(0).shuffle(order)
    shuffled = ok_values(judge.score_batch([batch[i] for i in order]))
    assert shuffled == pytest.approx([values[i] for i in order], abs=1e-5)
    assert len(set(round(v, 6) for v in values)) > 1  # the samples do score differently


def test_cross_thread_calls_are_gathered_and_each_gets_its_own_score(judge):
    batch = samples()
    expected = ok_values(judge.score_batch(batch))
    batcher = judge._backend.batcher
    before = batcher.batches_run
    got: dict[int, float] = {}
    barrier = threading.Barrier(12)

    def call(i: int) -> None:
        barrier.wait()
        got[i] = judge.score(batch[i % len(batch)]).value

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(12)] == pytest.approx(
        [expected[i % len(batch)] for i in range(12)], abs=1e-5
    )
    assert batcher.batches_run - before < 12  # gathered into fewer engine calls than callers


def test_a_prompt_over_max_model_len_fails_alone(judge):
    long = Sample("word " * 1500, prompt="Say many words.")
    scores = judge.score_batch([samples()[0], long, samples()[3]])
    assert scores[1].value is None and scores[1].status is Status.ERROR
    assert "max_model_len" in scores[1].info["error"]
    assert scores[0].status is Status.OK and scores[2].status is Status.OK


def test_an_engine_failure_is_none_and_the_caller_keeps_its_state(judge, vllm_models, tmp_path):
    # A checkpoint whose vocabulary is smaller than its tokenizer's: the engine refuses the prompts.
    from transformers import AutoTokenizer

    from tests.judge.conftest import VLLM_SIZES
    from verifiers.grpo.tiny import tiny_qwen2

    tok = AutoTokenizer.from_pretrained(vllm_models["judge"])
    tiny_qwen2(tok, vocab_size=len(tok) - 100, **VLLM_SIZES).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    import torch

    random.seed(7)
    torch.manual_seed(7)
    with get_verifier("judge", model=str(tmp_path), **ENGINE) as broken:
        # Starting an in-process engine seeds the global generators: the caller gets them back.
        assert random.random() == random.Random(7).random()
        assert torch.rand(1).item() == torch.rand(1, generator=torch.Generator().manual_seed(7)).item()
        first = broken.score_batch(samples())
        again = broken.score_batch(samples()[:2])  # a crashed engine stays an outage, never a 0
    for s in first + again:
        assert s.value is None and s.status is Status.ERROR and "judge failed" in s.info["error"]
    assert "out of service" in again[0].info["error"]
    # Closing an in-process engine while another is open must not tear down the shared state.
    assert judge.score(samples()[0]).status is Status.OK


def test_pickled_judge_shares_the_engine_in_this_process(judge):
    copy = pickle.loads(pickle.dumps(judge))
    try:
        assert copy._backend is judge._backend
        assert copy.score(samples()[0]).value == pytest.approx(judge.score(samples()[0]).value)
    finally:
        copy.close()
    assert judge.score(samples()[0]).status is Status.OK


def test_stage4_config_loads_one_engine_for_both_judges(vllm_models):
    import json
    from pathlib import Path

    import yaml

    from verifiers import load_reward

    examples = Path(__file__).resolve().parents[2] / "examples"
    config = yaml.safe_load((examples / "r1_stage4.yaml").read_text())
    for component in config["components"].values():
        if component["verifier"] == "judge":
            component["params"].update(model=vllm_models["judge"], **ENGINE)
    rows = [json.loads(line) for line in (examples / "data" / "general.jsonl").read_text().splitlines()]
    general = [
        Sample(r["completion"], prompt=r["prompt"], task=r["task"]) for r in rows if r["task"] == "general"
    ]
    reward = load_reward(config)
    try:
        components = reward.components
        assert components["helpfulness"].verifier._backend is components["harmlessness"].verifier._backend
        scores = reward.score_batch(general)
    finally:
        reward.close()
    for score in scores:
        for name in ("helpfulness", "harmlessness"):
            part = score.components[name]
            assert part is not None and 0.0 <= part <= 1.0, score.info


def test_reward_model_equals_the_transformers_backend(vllm_models):
    batch = [Sample(c, prompt=q) for q, c in [("What is 6*7?", "42."), ("Hi", "Hello! " * 30), ("Q", "ok")]]
    batch.append(Sample("word " * 1500, prompt="Say many words."))  # over max_model_len: alone
    with get_verifier("reward_model", model=vllm_models["reward_model"], **ENGINE) as rm:
        got = rm.score_batch(batch)
        reordered = rm.score_batch(batch[::-1])
    with get_verifier("reward_model", model=vllm_models["reward_model"], dtype="float32") as reference:
        want = reference.score_batch(batch[:3])
    assert ok_values(got[:3]) == pytest.approx(ok_values(want), abs=1e-4)
    assert [s.value for s in reordered[::-1]] == pytest.approx([s.value for s in got], abs=1e-5)
    assert got[3].value is None and got[3].status is Status.ERROR and "max_model_len" in got[3].info["error"]


def test_bad_options_are_clear_errors(vllm_models):
    model = vllm_models["judge"]
    cases = [
        (dict(engine_args={"kv_cache_memory_byte": 1}), "did you mean kv_cache_memory_bytes"),
        (dict(engine_args={"dtype": "float32"}), "option of its own"),
        (dict(engine_args=["x"]), "engine_args must be a mapping"),
        (dict(dtype="fp8"), "dtype must be one of"),
        (dict(max_model_len=0), "max_model_len must be an integer"),
        (dict(gpu_memory_utilization=1.5), "gpu_memory_utilization must be in"),
        (dict(multiprocessing="yes"), "multiprocessing must be true or false"),
        (dict(chat_template="maybe"), "chat_template must be"),
    ]
    for options, message in cases:
        with pytest.raises(ValueError, match=message):
            get_verifier("judge", model=model, backend="vllm", **options)
    with pytest.raises(ValueError, match="not a local directory"):
        get_verifier("judge", model="no/such-judge-model", backend="vllm")
    with pytest.raises(ValueError, match="set by the backend"):
        get_verifier("judge", model=model, backend="vllm", engine_args={"runner": "pooling"})
    with pytest.raises(RuntimeError, match="could not start an engine"):
        get_verifier("judge", model=model, **{**ENGINE, "engine_args": {"kv_cache_memory_bytes": 1 << 60}})


def test_multiprocessing_runs_the_engine_in_a_process_of_its_own(vllm_models):
    import multiprocessing

    before = set(multiprocessing.active_children())
    with get_verifier(
        "judge", model=vllm_models["scripted_judge"], multiprocessing=True, **{**ENGINE, "max_model_len": 512}
    ) as judge:
        children = set(multiprocessing.active_children()) - before
        assert children, "no engine process was started"
        assert [s.value for s in judge.score_batch(samples()[:3])] == pytest.approx([0.75] * 3, abs=1e-3)
    for child in children:
        child.join(timeout=30)
        assert not child.is_alive()
