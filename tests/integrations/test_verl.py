import importlib.util
import math
import sys

import numpy as np
import pytest

import verifiers.integrations.verl as verl_module

YAML = """
components:
  accuracy: {verifier: math, weight: 1.0}
  format:   {verifier: format, weight: 0.3}
  language: {verifier: language, weight: 0.2, params: {target: auto}}
routes:
  openai/gsm8k: [accuracy, format, language]
  default: [format]
"""
GOOD = "<think>2 + 3 = 5</think><answer>5</answer>"
WRONG = "<think>2 + 3 = 6</think><answer>6</answer>"


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "r1.yaml"
    path.write_text(YAML)
    return str(path)


def load_like_verl(reward_kwargs: dict):
    """verl's custom_reward_function: the file loaded by path as "custom_module", its function wrapped
    so that reward_kwargs are merged into every call."""
    spec = importlib.util.spec_from_file_location("custom_module", verl_module.__file__)
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_module"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["custom_module"]
    raw = module.compute_score

    def wrapped(*args, **kwargs):
        return raw(*args, **{**kwargs, **reward_kwargs})

    return wrapped


def test_per_sample_positionally_and_by_keyword(cfg):
    fn = load_like_verl({"config": cfg})
    extra = {"question": "Natalia sold clips to 48 of her friends in April. How many clips did she sell?"}
    # main_eval calls positionally; the naive reward manager by keyword
    assert fn("openai/gsm8k", GOOD, "5", extra) == {"score": pytest.approx(1.5), "accuracy": 1.0,
                                                     "format": 1.0, "language": 1.0}
    out = fn(data_source="openai/gsm8k", solution_str=WRONG, ground_truth="5", extra_info=extra)
    assert out == {"score": pytest.approx(0.5), "accuracy": 0.0, "format": 1.0, "language": 1.0}


def test_data_source_selects_the_route_and_absent_components_are_absent(cfg):
    fn = load_like_verl({"config": cfg})
    # another data source: the default route, format only; accuracy and language are absent, not 0
    assert fn("lighteval/MATH", GOOD, "5") == {"score": pytest.approx(0.3), "format": 1.0}
    # extra_info["task"] wins over the data source
    assert fn("lighteval/MATH", GOOD, "5", {"task": "openai/gsm8k"})["accuracy"] == 1.0
    nan_fill = load_like_verl({"config": cfg, "missing": "nan"})("lighteval/MATH", GOOD, "5")
    assert set(nan_fill) == {"score", "accuracy", "format", "language"} and math.isnan(nan_fill["accuracy"])


def test_none_becomes_nan_or_raises_or_your_number(cfg):
    out = load_like_verl({"config": cfg})("openai/gsm8k", GOOD, "")  # unusable gold
    assert math.isnan(out["score"]) and "accuracy" not in out
    with pytest.raises(RuntimeError, match="reward is None \\(invalid_reference\\)"):
        load_like_verl({"config": cfg, "on_none": "raise"})("openai/gsm8k", GOOD, "")
    assert load_like_verl({"config": cfg, "on_none": -1})("openai/gsm8k", GOOD, "")["score"] == -1.0
    with pytest.raises(ValueError, match="on_none must be"):
        load_like_verl({"config": cfg, "on_none": "zero"})("openai/gsm8k", GOOD, "5")


def test_batch_shape_with_numpy_columns(cfg):
    fn = load_like_verl({"config": cfg})
    n = 4
    out = fn(
        data_sources=np.array(["openai/gsm8k"] * 3 + ["other"], dtype=object),
        solution_strs=[GOOD, WRONG, GOOD, GOOD],
        ground_truths=["5", "5", "", "5"],
        extra_infos=np.array([None] * n, dtype=object),
    )
    assert isinstance(out, list) and len(out) == n
    assert out[0]["score"] == pytest.approx(1.3) and out[1]["score"] == pytest.approx(0.3)
    assert math.isnan(out[2]["score"])
    assert out[3] == {"score": pytest.approx(0.3), "format": 1.0}
    assert load_like_verl({"config": cfg, "scalar": True})(
        data_sources=["openai/gsm8k"], solution_strs=[GOOD], ground_truths=["5"], extra_infos=[None]
    ) == [pytest.approx(1.3)]
    with pytest.raises(ValueError, match="batch lengths differ"):
        fn(data_sources=["a"], solution_strs=[GOOD, GOOD], ground_truths=["5", "5"], extra_infos=[None, None])


def test_scalar_for_main_eval_and_config_from_the_environment(cfg, monkeypatch):
    monkeypatch.setenv("VERIFIERS_CONFIG", cfg)
    fn = load_like_verl({"scalar": True})
    assert fn("openai/gsm8k", GOOD, "5") == pytest.approx(1.3)
    monkeypatch.delenv("VERIFIERS_CONFIG")
    with pytest.raises(ValueError, match="reward_kwargs: {config: /path/r1.yaml}"):
        load_like_verl({})("openai/gsm8k", GOOD, "5")


def test_concurrent_per_sample_calls_from_threads(cfg):
    """verl's reward loop calls compute_score for each sample concurrently, from threads."""
    from concurrent.futures import ThreadPoolExecutor

    fn = load_like_verl({"config": cfg, "scalar": True})
    cases = [(GOOD if i % 2 else WRONG, str(5 if i % 3 else 6)) for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda c: fn("openai/gsm8k", c[0], c[1]), cases))
    want = [1.3 if (c == GOOD and g == "5") or (c == WRONG and g == "6") else 0.3 for c, g in cases]
    assert got == [pytest.approx(w) for w in want]


def test_a_data_source_without_a_route_is_routed_by_its_ground_truth():
    """README's verl setup with examples/r1.yaml (routes math/code/default): a GSM8K row is graded for
    accuracy (its data source is no route key, so its gold answer routes it as math), not format only."""
    from pathlib import Path

    r1 = str(Path(__file__).resolve().parents[2] / "examples" / "r1.yaml")
    fn = load_like_verl({"config": r1})
    extra = {"question": "Natalia sold clips to 48 of her friends in April. How many clips did she sell?"}
    out = fn("openai/gsm8k", GOOD, "5", extra)
    assert out["accuracy"] == 1.0 and out["score"] == pytest.approx(1.5)
    assert fn("openai/gsm8k", WRONG, "5", extra)["accuracy"] == 0.0
    # verl reads parquet columns with numpy: an integer gold is a numpy integer
    assert fn("openai/gsm8k", GOOD, np.int64(5), extra)["accuracy"] == 1.0
    assert fn(data_sources=np.array(["openai/gsm8k"], dtype=object), solution_strs=[GOOD],
              ground_truths=np.array([5]), extra_infos=[extra])[0]["accuracy"] == 1.0
