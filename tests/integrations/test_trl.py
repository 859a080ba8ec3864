import asyncio
import math
import multiprocessing as mp
import pickle

import pytest

from verifiers import Sample, Score, Status, Verifier, register
from verifiers.composite import ConfigError, load_reward
from verifiers.integrations.trl import AsyncTRLReward, TRLReward, trl_reward, trl_rewards

CONFIG = {
    "components": {
        "accuracy": {"verifier": "math", "weight": 1.0},
        "format": {"verifier": "format", "weight": 0.3, "params": {"mode": "partial"}},
    }
}
GOOD = "<think>2 + 3 = 5</think><answer>5</answer>"
WRONG = "<think>2 + 3 = 6</think><answer>6</answer>"


def test_standard_call_passes_none_through_and_reads_the_solution_column():
    f = trl_reward(CONFIG, name="r1")
    assert isinstance(f, TRLReward) and f.__name__ == "r1"
    out = f(prompts=["p"] * 4, completions=[GOOD, WRONG, GOOD, "no tags"], completion_ids=[[1]] * 4,
            solution=["5", "5", "", "5"], trainer_state=None)
    assert out[0] == pytest.approx(1.3) and out[1] == pytest.approx(0.3)
    assert out[2] is None  # an unusable gold: None (NaN to TRL), never 0
    assert out[3] == 0.0


def test_reference_column_order_named_and_dotted_columns():
    f = trl_reward(CONFIG)
    # "reference" wins over "answer"
    assert f(prompts=["p"], completions=[GOOD], reference=["5"], answer=["6"]) == [pytest.approx(1.3)]
    assert f(prompts=["p"], completions=[GOOD], ground_truth=["5"]) == [pytest.approx(1.3)]
    g = trl_reward(CONFIG, reference_field="reward_model.ground_truth")
    assert g(prompts=["p"], completions=[GOOD], reward_model=[{"ground_truth": "5"}], answer=["6"]) == [
        pytest.approx(1.3)
    ]
    with pytest.raises(ValueError, match="reference column 'gold' not in the dataset; columns: answer"):
        trl_reward(CONFIG, reference_field="gold")(prompts=["p"], completions=[GOOD], answer=["5"])
    with pytest.raises(ValueError, match="got 2 prompts for 1 completions"):
        f(prompts=["p", "q"], completions=[GOOD])


def test_task_from_a_column_or_a_constant_picks_the_route():
    cfg = {**CONFIG, "routes": {"math": ["accuracy", "format"], "chat": ["format"]}}
    f = trl_reward(cfg)
    out = f(prompts=["p", "p"], completions=[GOOD, GOOD], solution=["5", "5"], task=["math", "chat"])
    assert out == [pytest.approx(1.3), pytest.approx(0.3)]
    assert trl_reward(cfg, task="chat")(prompts=["p"], completions=[GOOD], solution=["5"]) == [pytest.approx(0.3)]
    # no task, no reference and no default route: not applicable, None for TRL
    with pytest.warns(UserWarning, match="takes the 'default' route \\(not scored\\)"):
        assert f(prompts=["p"], completions=[GOOD]) == [None]


def test_conversational_completions_with_reasoning_content():
    f = trl_reward(CONFIG)
    prompts = [[{"role": "user", "content": "What is 2 + 3?"}]] * 2
    completions = [
        [{"role": "assistant", "content": "<answer>5</answer>", "reasoning_content": "2 + 3 = 5"}],
        [{"role": "assistant", "content": "<think>x</think><answer>4</answer>"}],
    ]
    assert f(prompts=prompts, completions=completions, solution=["5", "5"]) == [
        pytest.approx(1.3), pytest.approx(0.3)
    ]


def test_components_are_logged_through_log_metric_and_log_extra():
    metrics, extra = [], {}
    f = trl_reward(CONFIG, name="r1")
    f(prompts=["p"] * 3, completions=[GOOD, WRONG, GOOD], solution=["5", "5", ""],
      log_metric=lambda n, v: metrics.append((n, v)), log_extra=lambda c, vs: extra.setdefault(c, vs))
    got = dict(metrics)
    assert got["r1/accuracy"] == 0.5  # the None of the bad gold is left out of the mean
    assert got["r1/format"] == pytest.approx(1.0)
    assert got["r1/none_fraction"] == pytest.approx(1 / 3)
    assert extra["r1/status"] == ["ok", "ok", "invalid_reference"]
    assert extra["r1/accuracy"] == [1.0, 0.0, None]


class CountingVerifier(Verifier):
    """Scores 1.0 for completions containing 'yes', None (an outage) for 'down'; counts its batches."""

    name = "counting"
    batches = 0

    def score_batch(self, samples):
        type(self).batches += 1
        out = []
        for s in samples:
            if "down" in s.completion:
                out.append(Score(None, Status.ERROR, info={"error": "backend down"}))
            else:
                out.append(Score(float("yes" in s.completion)))
        return out


register("counting_for_trl", CountingVerifier)


def test_one_function_per_component_sharing_one_scoring_pass():
    cfg = {"components": {"check": {"verifier": "counting_for_trl", "weight": 2.0},
                          "format": {"verifier": "format", "weight": 0.5}},
           "routes": {"math": ["check", "format"], "chat": ["format"]}}
    funcs = trl_rewards(cfg)
    assert [f.__name__ for f in funcs] == ["check", "format"] and [f.weight for f in funcs] == [2.0, 0.5]
    prompts = ["p"] * 4
    completions = ["<think>a</think><answer>yes</answer>", "no", "<think>a</think><answer>down</answer>", "yes"]
    tasks = ["math", "math", "math", "chat"]
    before = CountingVerifier.batches
    check, fmt = (f(prompts=prompts, completions=completions, task=tasks) for f in funcs)
    assert CountingVerifier.batches == before + 1  # the second function reused the batch's scores
    assert check == [1.0, 0.0, None, None]  # an outage; then a component that does not apply
    # the outage makes the whole reward None, so format is None there too: TRL must not sum a partial reward
    assert fmt == [1.0, 0.0, None, 0.0]
    completions[1] = "yes"  # the same list changed in place is a new batch
    assert funcs[0](prompts=prompts, completions=completions, task=tasks)[1] == 1.0
    assert CountingVerifier.batches == before + 2


def test_async_variant_is_a_coroutine_and_shares_the_batch():
    funcs = trl_rewards(CONFIG, asynchronous=True)
    assert all(isinstance(f, AsyncTRLReward) for f in funcs)
    single = trl_reward(CONFIG, asynchronous=True)

    async def run():
        kwargs = {"prompts": ["p", "p"], "completions": [GOOD, WRONG], "solution": ["5", "5"]}
        return await asyncio.gather(*(f(**kwargs) for f in [*funcs, single]))

    acc, fmt, total = asyncio.run(run())
    assert acc == [1.0, 0.0] and fmt == [pytest.approx(1.0)] * 2 and total == [pytest.approx(1.3), pytest.approx(0.3)]


def test_a_bad_config_fails_when_the_function_is_made(tmp_path):
    with pytest.raises(ConfigError, match="components.accuracy.weight"):
        trl_reward({"components": {"accuracy": {"verifier": "math", "weight": "high"}}})
    with pytest.raises(ConfigError, match="cannot read reward config"):
        trl_reward(tmp_path / "missing.yaml")
    with pytest.raises(TypeError, match="YAML path, a mapping or a Verifier"):
        trl_reward(42)


def _call_in_child(f):
    return f.__name__, f(prompts=["p", "p"], completions=[GOOD, WRONG], solution=["5", "5"])


@pytest.mark.slow
def test_functions_pickle_and_score_in_a_spawned_process(tmp_path):
    path = tmp_path / "r1.yaml"
    path.write_text("components:\n  accuracy: {verifier: math}\n  format: {verifier: format, weight: 0.3}\n")
    built = load_reward(path)  # a CompositeReward object travels as the config it was built from
    funcs = [trl_reward(path), trl_reward(built, name="obj"), *trl_rewards(path, asynchronous=False)]
    for f in funcs:
        pickle.loads(pickle.dumps(f))
    with mp.get_context("spawn").Pool(1) as pool:
        got = pool.map(_call_in_child, funcs)
    assert got[0] == ("r1", [pytest.approx(1.3), pytest.approx(0.3)])
    assert got[1] == ("obj", [pytest.approx(1.3), pytest.approx(0.3)])
    assert got[2] == ("accuracy", [1.0, 0.0]) and got[3] == ("format", [1.0, 1.0])
    built.close()


# ---------------------------------------------------------------- the real GRPOTrainer


def run_grpo(tiny_lm, tmp_path, reward_funcs, dataset_rows, **config):
    """Train 2 steps; returns the trainer and what TRL logged per step (its own log keeps only the last)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    model, tokenizer = tiny_lm
    args = GRPOConfig(
        output_dir=str(tmp_path / "grpo"), per_device_train_batch_size=4, num_generations=4,
        max_completion_length=10, max_steps=2, logging_steps=1, report_to="none", use_cpu=True, bf16=False,
        save_strategy="no", learning_rate=1e-3, shuffle_dataset=False, **config,
    )
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=reward_funcs, args=args,
                          train_dataset=Dataset.from_list(dataset_rows))
    logged = {"prompt": [], "completion": [], "rewards": {}, "extra": {}}

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            logs = trainer._logs
            logged["prompt"] += list(logs["prompt"])
            logged["completion"] += list(logs["completion"])
            for part in ("rewards", "extra"):
                for name, values in logs[part].items():
                    logged[part].setdefault(name, []).extend(values)

    trainer.add_callback(Snapshot())
    trainer.train()
    return trainer, logged


def expected_rewards(logged, solutions):
    """Our own score of each completion TRL logged, computed again outside the trainer."""
    reward = load_reward(CONFIG)
    pairs = list(zip(logged["prompt"], logged["completion"], strict=True))
    samples = [Sample(c, prompt=p, reference=solutions[str(p)]) for p, c in pairs]
    values = [s.value for s in reward.score_batch(samples)]
    reward.close()
    return values


def same(a, b):
    return (a is None and math.isnan(b)) or (a is not None and b == pytest.approx(a, abs=1e-6))


@pytest.mark.slow
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_grpo_trainer_standard_dataset(tiny_lm, tmp_path, asynchronous):
    rows = [{"prompt": "what is two plus three", "solution": "5"}, {"prompt": "what is 2 + 2", "solution": ""}]
    f = trl_reward(CONFIG, name="r1", asynchronous=asynchronous)
    trainer, logged = run_grpo(tiny_lm, tmp_path, f, rows * 2)
    got = logged["rewards"]["r1"]
    assert len(got) == 8  # 2 steps x 1 prompt x 4 generations
    want = expected_rewards(logged, {r["prompt"]: r["solution"] for r in rows})
    assert all(same(a, b) for a, b in zip(want, got, strict=True)), (want, got)
    assert all(math.isnan(v) for v in got[4:])  # the unusable gold: None for every completion
    step1, step2 = trainer.state.log_history[:2]
    assert "r1/format" in step1 and step1["r1/none_fraction"] == 0.0
    assert step2["r1/none_fraction"] == 1.0
    assert step2["grad_norm"] == 0.0  # no reward, no gradient (format alone, summed, would give one)
    assert logged["extra"]["r1/status"][4:] == ["invalid_reference"] * 4


@pytest.mark.slow
def test_grpo_trainer_conversational_dataset_with_per_component_functions(tiny_lm, tmp_path):
    rows = [{"prompt": [{"role": "user", "content": "what is two plus three"}], "answer": "5"}] * 2
    funcs = trl_rewards(CONFIG)
    single = trl_reward(CONFIG, name="total")
    trainer, logged = run_grpo(tiny_lm, tmp_path, [*funcs, single], rows,
                               reward_weights=[f.weight for f in funcs] + [0.0])
    completions = logged["completion"]
    assert len(completions) == 8 and all(c[0]["role"] == "assistant" for c in completions)
    total = logged["rewards"]["total"]
    acc, fmt = (logged["rewards"][n] for n in ("accuracy", "format"))
    want = expected_rewards(logged, {str(rows[0]["prompt"]): "5"})
    assert all(same(a, b) for a, b in zip(want, total, strict=True))
    assert all(t == pytest.approx(a + 0.3 * f, abs=1e-6) for t, a, f in zip(total, acc, fmt, strict=True))
    assert "rewards/format/mean" in trainer.state.log_history[0]


def test_warm_up_after_unpickling_then_score():
    f = pickle.loads(pickle.dumps(trl_reward(CONFIG)))
    f.warm_up()  # builds the reward in this process and starts the math workers before the first step
    assert f(prompts=["p"], completions=["<think>x</think><answer>\\sqrt{8}</answer>"], solution=["2\\sqrt{2}"]) == [
        pytest.approx(1.3)
    ]


def test_a_dataset_without_a_reference_column_warns_that_accuracy_never_applies():
    """With routes (examples/r1.yaml), a gold answer under an unknown column name routes every row
    to `default` (format only): rewards with no accuracy in them; that is said, once."""
    routed = {**CONFIG, "routes": {"math": ["accuracy", "format"], "default": ["format"]}}
    f = trl_reward(routed)
    with pytest.warns(UserWarning, match="none of the reference columns .*columns: gold.*reference_field="):
        assert f(prompts=["p"], completions=[GOOD], gold=["5"]) == [pytest.approx(0.3)]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(prompts=["p"], completions=[GOOD], gold=["5"])  # once per function
        assert trl_reward(routed)(prompts=["p"], completions=[GOOD], answer=["5"]) == [pytest.approx(1.3)]
        trl_reward(routed, task="math")(prompts=["p"], completions=[GOOD], gold=["5"])  # explicit: no warning


class _Scaled(Verifier):
    """A plugin whose parameter is an object (a function), not a plain YAML value."""

    name = "scaled_len"

    def __init__(self, fn=len) -> None:
        self.fn = fn

    def score_batch(self, samples):
        return [Score(float(self.fn(s.completion))) for s in samples]


def test_a_composite_with_an_object_parameter_travels_as_itself():
    register("scaled_len", _Scaled)
    reward = load_reward({"components": {"n": {"verifier": "scaled_len", "params": {"fn": len}}}})
    try:
        f = trl_reward(reward)  # was: TypeError, the config's function is not JSON serializable
        assert f(prompts=["p"], completions=["abcd"]) == [4.0]
        assert pickle.loads(pickle.dumps(f))(prompts=["p"], completions=["ab"]) == [2.0]
    finally:
        reward.close()
