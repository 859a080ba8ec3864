"""A code dataset's tests handed over as a JSON string (verl's ground_truth, OpenRLHF's labels, a TRL or
JSONL column) are graded by the code verifier under examples/r1.yaml, in every way in: the composite routes
such a string as code (verifiers.code.is_test_suite); math had given the program 0 against it."""

import json
from pathlib import Path

import pytest

from verifiers import load_reward
from verifiers.cli import main
from verifiers.integrations.lazy import LazyReward
from verifiers.integrations.openrlhf import score_queries
from verifiers.integrations.trl import trl_reward
from verifiers.integrations.verl import compute_score

R1 = str(Path(__file__).resolve().parents[2] / "examples" / "r1.yaml")
APPS = json.dumps({"inputs": ["3\n", "-2\n"], "outputs": ["9\n", "4\n"]})  # PRIME / Eurus, APPS, TACO
RIGHT = "<think>Square it.</think><answer>\n```python\nn = int(input())\nprint(n * n)\n```\n</answer>"
WRONG = "<think>Triple it.</think><answer>\n```python\nn = int(input())\nprint(3 * abs(n))\n```\n</answer>"


@pytest.fixture(scope="module")
def reward():
    return LazyReward(R1).get()  # the reward the integrations share in this process


def test_verl_ground_truth(reward):
    out = compute_score("PRIME-RL/Eurus-2-RL-Data", RIGHT, APPS, {"index": 0}, config=R1)
    assert out["code_tests"] == 1.0 and "accuracy" not in out
    assert compute_score("PRIME-RL/Eurus-2-RL-Data", WRONG, APPS, None, config=R1)["code_tests"] == 0.5
    # a math gold that looks like a set is still math
    assert "accuracy" in compute_score("openai/gsm8k", "<answer>{1, 2}</answer>", "{1, 2}", None, config=R1)


def test_openrlhf_labels_and_trl_column(reward):
    out = score_queries(reward, ["Q" + RIGHT, "Q" + WRONG], ["Q", "Q"], [APPS, APPS])
    assert out["extra_logs"]["code_tests"] == [1.0, 0.5] and all(v != v for v in out["extra_logs"]["accuracy"])
    f = trl_reward(R1, name="r1")
    logged = {}
    f(prompts=["p", "p"], completions=[RIGHT, WRONG], solution=[APPS, APPS],
      log_extra=lambda name, values: logged.__setitem__(name, values))
    assert logged["r1/code_tests"] == [1.0, 0.5]


def test_server_and_filter(tmp_path):
    from fastapi.testclient import TestClient

    from verifiers.server import RewardService, create_app

    service = RewardService(R1)
    try:
        client = TestClient(create_app(service))
        got = client.post("/get_reward", json={"query": ["Q" + RIGHT], "prompts": ["Q"], "labels": [APPS]}).json()
        assert got["extra_logs"]["code_tests"] == [1.0]
        rows = client.post("/score", json={"rows": [{"completion": RIGHT, "reference": APPS}]}).json()["rows"]
        assert rows[0]["components"]["code_tests"] == 1.0 and rows[0]["info"]["route"] == "code"
    finally:
        service.close()

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": "p", "completion": c, "reference": APPS}) + "\n" for c in (RIGHT, WRONG)))
    out = tmp_path / "kept.jsonl"
    assert main(["filter", str(src), "--config", R1, "-o", str(out), "--min-reward", "0", "--min", "code_tests=1"]) == 0
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["completion"] for r in kept] == [RIGHT]


def test_verifiers_score_routes_the_tests_as_code(tmp_path):
    # the reviewer's repro: `verifiers score` gave route math, accuracy 0.0, status ok
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"completion": c, "reference": APPS}) + "\n" for c in (RIGHT, WRONG)))
    out = tmp_path / "out.jsonl"
    assert main(["score", str(src), "--config", R1, "-o", str(out), "-q"]) == 0
    right, wrong = [json.loads(line) for line in out.read_text().splitlines()]
    assert right["info"]["route"] == "code" and right["components"]["code_tests"] == 1.0
    assert wrong["components"]["code_tests"] == 0.5 and right["components"]["accuracy"] is None


def test_an_empty_gold_is_an_unusable_reference_not_a_format_only_reward(reward):
    from verifiers import Sample, Status

    score = reward.score(Sample("<think>x</think><answer>42</answer>", reference=""))
    assert (score.value, score.status, score.info["route"]) == (None, Status.INVALID_REFERENCE, "math")


def test_a_reward_without_routes_gives_math_none_for_the_tests():
    from verifiers import Sample, Status

    plain = load_reward({"components": {"accuracy": {"verifier": "math"}}})
    try:
        score = plain.score(Sample(RIGHT, reference=APPS))
        assert (score.value, score.status) == (None, Status.INVALID_REFERENCE)
    finally:
        plain.close()
