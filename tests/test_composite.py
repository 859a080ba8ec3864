import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from verifiers import Sample, Score, Status, Verifier, load_reward, register
from verifiers.composite import ConfigError, infer_task


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


class Meet(Verifier):
    """Scores only once every Meet component of the batch is inside score_batch at the same time."""

    barrier: threading.Barrier

    def score_batch(self, samples):
        try:
            self.barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            return [Score(None, Status.ERROR, info={"error": "the components did not run at the same time"})
                    for _ in samples]
        return [Score(1.0) for _ in samples]


register("meet", Meet)


def test_components_run_concurrently():
    # Three components that can only finish together: run one after another, the first waits in vain.
    Meet.barrier = threading.Barrier(3)
    reward = load_reward({"components": {n: {"verifier": "meet"} for n in ("a", "b", "c")}})
    [s] = reward.score_batch([Sample("x")])
    assert s.status is Status.OK and s.components == {"a": 1.0, "b": 1.0, "c": 1.0}


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
        (None, r"reward config is empty; it needs a 'components' mapping"),  # an empty YAML file
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


# ---------------------------------------------------------------- routing rows that have no task

ROUTED = {
    "components": {
        "accuracy": {"verifier": "fixed", "weight": 1.0, "params": {"value": 1.0}},
        "tests": {"verifier": "fixed", "weight": 1.0, "params": {"value": 0.5}},
        "format": {"verifier": "fixed", "weight": 0.3, "params": {"value": 1.0}},
    },
    "routes": {"math": ["accuracy", "format"], "code": ["tests", "format"], "default": ["format"]},
}


@pytest.mark.parametrize(
    "reference, task",
    [
        ("42", "math"),
        ("\\frac{1}{2}", "math"),
        ("{1, 2, 3}", "math"),  # a set, not a test suite
        (42, "math"),
        (0.5, "math"),
        ({"type": "stdio", "cases": []}, "code"),
        ('{"type": "stdio", "cases": [{"input": "1", "output": "1"}]}', "code"),
        ('{"type": "assert", "test": "assert f() == 1"}', "code"),
        # a code dataset's tests as a JSON string, as trainers and parquet columns hand them over
        ('{"inputs": ["3\\n"], "outputs": ["9\\n"]}', "code"),  # APPS / TACO / PRIME
        ('{"input_output": "{\\"inputs\\": [], \\"outputs\\": []}"}', "code"),
        ('{"test_list": ["assert f(1) == 2"]}', "code"),  # MBPP
        ('{"test_cases": {"type": "stdin_stdout", "inputs": ["1"], "outputs": ["1"]}}', "code"),  # open-r1
        ('{"public_tests": {"input": ["1\\n"], "output": ["1\\n"]}}', "code"),  # CodeContests
        ('{"a": 1}', "math"),  # a JSON object no converter knows: a (strange) gold answer
        ("", "math"),  # an unusable gold: the math verifier says invalid_reference, not format-only
        ("  ", "math"),
        (None, None),
        (float("nan"), None),
        (True, None),
        ([1, 2], None),
    ],
)
def test_infer_task_from_the_reference(reference, task):
    assert infer_task(reference) == task


def test_numpy_golds_route_to_math():
    np = pytest.importorskip("numpy")  # a parquet column's numbers
    assert infer_task(np.int64(42)) == "math" and infer_task(np.float64(0.5)) == "math"
    assert infer_task(np.float64("nan")) is None and infer_task(np.bool_(True)) is None


def test_rows_without_a_task_are_routed_by_their_reference():
    reward = load_reward(ROUTED)
    math, code, none, explicit = reward.score_batch([
        Sample("x", reference="42"),
        Sample("x", reference={"type": "stdio", "cases": []}),
        Sample("x"),
        Sample("x", reference="42", task="general"),  # a task always wins; "general" has no route: default
    ])
    assert math.value == pytest.approx(1.3) and math.info["route"] == "math"
    assert code.value == pytest.approx(0.8) and code.info["route"] == "code"
    assert none.value == pytest.approx(0.3) and none.info["route"] == "default"
    assert explicit.value == pytest.approx(0.3) and explicit.info["route"] == "default"


def test_the_example_r1_config_gives_accuracy_to_trl_style_rows():
    reward = load_reward(Path(__file__).resolve().parent.parent / "examples" / "r1.yaml")
    try:
        right, wrong = reward.score_batch([
            Sample("<think>6*7=42</think><answer>42</answer>", prompt="What is 6*7?", reference="42"),
            Sample("<think>6*7=41</think><answer>41</answer>", prompt="What is 6*7?", reference="42"),
        ])
    finally:
        reward.close()
    assert right.components["accuracy"] == 1.0 and wrong.components["accuracy"] == 0.0
    assert right.value - wrong.value == pytest.approx(1.0)


# ---------------------------------------------------------------- hostile configs

BOMB_LEVELS = "\n".join(
    f"      l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)
)
ALIAS_BOMB = (
    "components:\n  format:\n    verifier: format\n    params:\n"
    "      l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + BOMB_LEVELS + "\n    weight: *l9\n"
)


def test_a_yaml_alias_bomb_is_rejected_at_once(tmp_path):
    assert len(ALIAS_BOMB) < 1000  # 9^10 values once expanded
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    probe = ("import sys\nfrom verifiers.composite import ConfigError, load_reward\n"
             "try:\n    load_reward(sys.argv[1])\nexcept ConfigError as exc:\n    print(exc)\n")
    # Before the limits this ran for minutes and took gigabytes; the bound here only catches a hang.
    res = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "too large" in res.stdout, res.stderr[-500:]
    params_bomb = ALIAS_BOMB.replace("weight: *l9", "weight: 1.0\n    on_none: *l9")
    path.write_text(params_bomb)
    res = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "too large" in res.stdout


def test_an_oversized_or_deep_config_is_rejected(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("components:\n  format: {verifier: format}\n# " + "x" * (2 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_reward(big)
    deep: dict = {"verifier": "format"}
    for _ in range(100):
        deep = {"x": deep}
    with pytest.raises(ConfigError, match="nested deeper"):
        load_reward({"components": {"a": {"verifier": "format", "params": deep}}})
    with pytest.raises(ConfigError, match="not UTF-8"):
        (tmp_path / "bin.yaml").write_bytes(b"components: \xff\n")
        load_reward(tmp_path / "bin.yaml")


# ---------------------------------------------------------------- a composite where trainers put it

REAL = {
    "components": {
        "accuracy": {"verifier": "math", "weight": 1.0, "params": {"timeout": 5}},
        "format": {"verifier": "format", "weight": 0.3},
        "language": {"verifier": "language", "weight": 0.2, "params": {"target": "en"}},
    }
}
REAL_SAMPLES = [
    Sample("<think>Six times seven is forty two.</think><answer>42</answer>", reference="42"),
    Sample("<think>Six times seven is forty one.</think><answer>41</answer>", reference="42"),
    Sample("<think>The derivative squared.</think><answer>\\sin^2 x</answer>", reference="1-\\cos^2 x"),  # sympy
]


def _values(scores):
    return [round(s.value, 6) if s.value is not None else None for s in scores]


def test_a_composite_pickles_and_scores_on_the_other_side():
    reward = load_reward(REAL)
    try:
        expected = _values(reward.score_batch(REAL_SAMPLES))
        copy = pickle.loads(pickle.dumps(reward))
        assert _values(copy.score_batch(REAL_SAMPLES)) == expected
        copy.close()
        fresh = pickle.loads(pickle.dumps(load_reward(REAL)))  # never used before pickling
        assert _values(fresh.score_batch(REAL_SAMPLES)) == expected
        fresh.close()
    finally:
        reward.close()
    assert expected[0] == pytest.approx(1.5) and expected[1] == pytest.approx(0.5) and expected[2] == pytest.approx(1.5)


def _score_in_child(reward, samples, conn):
    conn.send(_values(reward.score_batch(samples)))
    conn.close()


FORMAT_ONLY = {"components": {"format": {"verifier": "format"}}}


@pytest.mark.parametrize("config", [FORMAT_ONLY, REAL], ids=["one component", "math+format+language"])
@pytest.mark.parametrize("parent_used_it", [True, False])
def test_a_composite_works_in_a_forked_child(config, parent_used_it):
    import multiprocessing as mp

    reward = load_reward(config)
    try:
        # a one-component reward used once left an idle pool thread that a forked child waited on forever
        expected = [1.5, 0.5, 1.5] if config is REAL else [1.0, 1.0, 1.0]
        if parent_used_it:
            assert _values(reward.score_batch(REAL_SAMPLES)) == pytest.approx(expected)
        ctx = mp.get_context("fork")
        parent_end, child_end = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_score_in_child, args=(reward, REAL_SAMPLES, child_end))
        child.start()
        child_end.close()
        got = parent_end.recv() if parent_end.poll(60) else "the child hung"
        child.join(10)
        if child.is_alive():
            child.kill()
        assert got == pytest.approx(expected)
    finally:
        reward.close()


class Signal(Fixed):
    """A Fixed that sets `entered` on entering score_batch and `left` just before it returns."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.entered, self.left = threading.Event(), threading.Event()

    def score_batch(self, samples):
        self.entered.set()
        try:
            return super().score_batch(samples)
        finally:
            self.left.set()


register("signal", Signal)


def test_close_mid_batch_turns_the_unfinished_samples_into_errors():
    cfg = {"components": {"fast": {"verifier": "signal"}, "slow": {"verifier": "signal", "params": {"delay": 30}}}}
    reward = load_reward(cfg)
    result: list = []
    worker = threading.Thread(target=lambda: result.extend(reward.score_batch([Sample("a"), Sample("b")])))
    worker.start()
    # close() once the batch is in flight (slow has started) and fast has scored its samples
    assert reward.components["slow"].verifier.entered.wait(30)
    assert reward.components["fast"].verifier.left.wait(30)
    reward.close()
    worker.join(20)
    assert not worker.is_alive(), "score_batch did not return after close()"
    assert all(s.value is None and s.status is Status.ERROR for s in result)
    assert all("closed while scoring" in s.info["error"] for s in result)
    assert all(s.components["fast"] == 1.0 for s in result)  # what finished is still reported


FD_PROBE = """
import os, resource, sys
from verifiers import Sample, load_reward
reward = load_reward({"components": {"accuracy": {"verifier": "math", "params": {"workers": 2}},
                                     "format": {"verifier": "format"}}})
samples = [Sample("\\\\boxed{\\\\sin^2 x}", reference="1-\\\\cos^2 x")]
count = lambda: len(os.listdir("/proc/self/fd"))
base = count()
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (base + 3, hard))  # a process out of file descriptors
starved = [reward.score_batch(samples)[0] for _ in range(6)]
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
after = count()
reward.close()
ok = reward.score_batch(samples)[0]
reward.close()
print(base, after, [s.value for s in starved], [str(s.status) for s in starved], ok.value)
"""


def test_running_out_of_file_descriptors_is_an_outage_and_leaks_none():
    res = subprocess.run([sys.executable, "-c", FD_PROBE], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    base, after, rest = res.stdout.strip().split(" ", 2)
    assert int(after) == int(base), res.stdout  # every pipe made for a worker that could not start is closed
    assert "[None, None, None, None, None, None]" in rest and "error" in rest and rest.endswith("1.0")


def test_top_level_think_prefilled_and_end_tokens_reach_every_verifier_that_takes_them():
    cfg = {
        "components": {
            "accuracy": {"verifier": "math"},
            "format": {"verifier": "format", "params": {"think_prefilled": "false"}},  # its own setting wins
            "fixed": {"verifier": "fixed"},  # takes neither: left alone
        },
        "think_prefilled": True,
        "end_tokens": ["[EOS]"],
    }
    reward = load_reward(cfg)
    try:
        assert reward.components["accuracy"].verifier.think_prefilled == "true"
        assert reward.components["accuracy"].verifier.end_tokens == ("[EOS]",)
        assert reward.components["format"].verifier.think_prefilled == "false"
        assert reward.components["format"].verifier.end_tokens == ("[EOS]",)
        [s] = reward.score_batch([Sample("6*7 is 42", reference="42")])  # cut off inside the pre-filled thinking
        assert s.components["accuracy"] == 0.0
    finally:
        reward.close()
    with pytest.raises(ConfigError, match="think_prefilled"):
        load_reward({"components": {"f": {"verifier": "format"}}, "think_prefilled": "sometimes"})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_component_value_is_an_error_not_a_reward(bad):
    reward = load_reward({
        "components": {
            "accuracy": {"verifier": "fixed", "weight": 1.0, "params": {"value": bad}},
            "format": {"verifier": "fixed", "weight": 0.3, "params": {"value": 1.0}},
        }
    })
    score = reward.score(Sample("x", reference="1"))
    assert (score.value, score.status) == (None, Status.ERROR)
    assert score.components == {"accuracy": None, "format": 1.0}
    assert "not a finite number" in score.info["components"]["accuracy"]["error"]
    assert score.info["error"].startswith("accuracy: ")
    dropped = load_reward({  # on_none: drop drops it like any other None
        "components": {
            "accuracy": {"verifier": "fixed", "weight": 1.0, "params": {"value": bad}, "on_none": "drop"},
            "format": {"verifier": "fixed", "weight": 0.3, "params": {"value": 1.0}},
        }
    })
    assert dropped.score(Sample("x")).value == pytest.approx(0.3)


def test_a_sum_that_overflows_is_an_error():
    reward = load_reward({"components": {
        "a": {"verifier": "fixed", "weight": 2.0, "params": {"value": 1e308}},
    }})
    score = reward.score(Sample("x"))
    assert (score.value, score.status) == (None, Status.ERROR)
