import threading
import time

import pytest

from verifiers import Sample, Score, Status, Verifier, load_reward, register
from verifiers.composite import ConfigError


class Fixed(Verifier):
    """Returns a fixed value and status (for composite arithmetic)."""

    def __init__(self, value=1.0, status="ok", delay=0.0):
        self.value, self.status, self.delay = value, Status(status), delay
        self.threads = set()

    def score_batch(self, samples):
        self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        return [Score(self.value, self.status, info={"error": "why"} if self.value is None else {}) for _ in samples]


register("fixed", Fixed)

R1 = {
    "components": {
        "accuracy": {"verifier": "fixed", "weight": 1.0, "params": {"value": 1.0}},
        "format": {"verifier": "fixed", "weight": 0.3, "params": {"value": 0.5}},
        "language": {"verifier": "fixed", "weight": 0.2, "params": {"value": 0.25}},
    }
}


def test_weighted_sum_and_components_reported():
    [s] = load_reward(R1).score_batch([Sample("x")])
    assert s.value == pytest.approx(1.0 + 0.3 * 0.5 + 0.2 * 0.25)
    assert s.components == {"accuracy": 1.0, "format": 0.5, "language": 0.25}
    assert s.status is Status.OK and s.info["components"]["format"]["status"] == "ok"


def test_renormalize_divides_by_the_weights_that_contributed():
    cfg = {**R1, "renormalize": True}
    [s] = load_reward(cfg).score_batch([Sample("x")])
    assert s.value == pytest.approx((1.0 + 0.15 + 0.05) / 1.5)


def test_routes_pick_components_per_task():
    cfg = {**R1, "routes": {"math": ["accuracy", "format"], "general": ["language"]}}
    reward = load_reward(cfg)
    math, general, other = reward.score_batch([Sample("a", task="math"), Sample("b", task="general"), Sample("c")])
    assert math.value == pytest.approx(1.15) and math.components["language"] is None
    assert general.value == pytest.approx(0.05) and general.components["accuracy"] is None
    assert other.value is None and other.status is Status.NOT_APPLICABLE and "no route" in other.info["error"]
    cfg["routes"]["default"] = ["format"]
    [other] = load_reward(cfg).score_batch([Sample("c", task="unseen")])
    assert other.value == pytest.approx(0.15)


def test_not_applicable_component_drops_out():
    cfg = {"components": {**R1["components"], "judge": {"verifier": "fixed", "params": {"value": None, "status": "not_applicable"}}}}
    [s] = load_reward(cfg).score_batch([Sample("x")])
    assert s.value == pytest.approx(1.2) and s.components["judge"] is None


def test_none_from_an_outage_makes_the_reward_none():
    cfg = {"components": {**R1["components"], "accuracy": {"verifier": "fixed", "params": {"value": None, "status": "error"}}}}
    [s] = load_reward(cfg).score_batch([Sample("x")])
    assert s.value is None and s.status is Status.ERROR and "accuracy" in s.info["error"]
    assert s.components["format"] == 0.5  # the rest is still reported
    cfg["components"]["accuracy"]["on_none"] = "drop"
    [s] = load_reward(cfg).score_batch([Sample("x")])
    assert s.value == pytest.approx(0.2)


def test_invalid_reference_propagates_its_status():
    cfg = {"components": {"accuracy": {"verifier": "fixed", "params": {"value": None, "status": "invalid_reference"}}}}
    [s] = load_reward(cfg).score_batch([Sample("x")])
    assert s.value is None and s.status is Status.INVALID_REFERENCE


def test_a_crashing_component_is_an_error_not_an_exception():
    class Crash(Verifier):
        def score_batch(self, samples):
            raise RuntimeError("judge server down")

    register("crash", Crash)
    [s] = load_reward({"components": {"j": {"verifier": "crash"}}}).score_batch([Sample("x")])
    assert s.value is None and s.status is Status.ERROR and "judge server down" in s.info["error"]


def test_components_run_concurrently():
    cfg = {"components": {n: {"verifier": "fixed", "params": {"delay": 0.5}} for n in ("a", "b", "c")}}
    reward = load_reward(cfg)
    start = time.perf_counter()
    reward.score_batch([Sample("x")])
    assert time.perf_counter() - start < 1.2  # three 0.5 s components, not 1.5 s in a row
    threads = set().union(*(c.verifier.threads for c in reward.components.values()))
    assert len(threads) == 3


def test_real_verifiers_from_yaml(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("components:\n  format: {verifier: format, weight: 0.5, params: {mode: partial}}\n")
    [good, bad] = load_reward(path).score_batch([Sample("<think>a</think><answer>1</answer>"), Sample("<think>a")])
    assert good.value == 0.5 and bad.value == pytest.approx(0.5 * 0.2)


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({"components": {"a": {"verifier": "nope"}}}, r"components\.a: unknown verifier 'nope'"),
        ({"components": {"a": {"verifier": "format", "weight": "high"}}}, r"components\.a\.weight"),
        ({"components": {"a": {"verifier": "format", "weight": float("nan")}}}, r"components\.a\.weight"),
        ({"components": {"a": {"verifier": "format", "weight": True}}}, r"components\.a\.weight"),
        ({"components": {"a": {"verifier": "format"}}, "routes": {"math": ["b"]}}, r"routes\.math\[0\]: unknown component 'b'"),
        ({"components": {"a": {"verifier": "format"}}, "routes": {"math": "a"}}, r"routes\.math: must be a list"),
        ({"components": {"a": {"verifier": "format", "params": {"mood": 1}}}}, r"components\.a: .*bad parameters \['mood'\]"),
        ({"components": {"a": {"verifier": "format", "params": {"mode": "loose"}}}}, r"components\.a: .*mode"),
        ({"components": {"a": {"verifer": "format"}}}, r"components\.a: unknown key\(s\) \['verifer'\]"),
        ({"components": {"a": {"weight": 1}}}, r"components\.a\.verifier: required"),
        ({"components": {}}, r"components: must be a non-empty"),
        ({"component": {}}, r"unknown top-level key\(s\) \['component'\]"),
        ({"components": {"a": {"verifier": "format", "on_none": "ignore"}}}, r"components\.a\.on_none"),
        ({"components": {"a": {"verifier": "format"}}, "renormalize": "yes"}, r"renormalize"),
        ([1, 2], r"must be a mapping"),
    ],
)
def test_config_errors_name_the_bad_key(cfg, match):
    with pytest.raises(ConfigError, match=match):
        load_reward(cfg)


def test_yaml_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_reward(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("components: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_reward(bad)
