"""examples/r1_stage4.yaml on examples/data/general.jsonl, with the tiny judge in place of the real one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from verifiers import Sample, Status, load_reward

pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_stage4_config_routes_general_rows_to_the_judge(tiny_models):
    config = yaml.safe_load((EXAMPLES / "r1_stage4.yaml").read_text())
    judges = [c for c in config["components"].values() if c["verifier"] == "judge"]
    assert len(judges) == 2
    for component in judges:
        component["params"]["model"] = tiny_models["judge"]
    rows = [json.loads(line) for line in (EXAMPLES / "data" / "general.jsonl").read_text().splitlines()]
    samples = [
        Sample(r["completion"], prompt=r["prompt"], reference=r.get("reference"), task=r["task"])
        for r in rows
    ]
    reward = load_reward(config)
    try:
        help_judge = reward.components["helpfulness"].verifier
        harm_judge = reward.components["harmlessness"].verifier
        assert help_judge._backend is harm_judge._backend  # one model for both components
        scores = reward.score_batch(samples)
    finally:
        reward.close()
    by_id = {r["id"]: s for r, s in zip(rows, scores, strict=True)}
    for row, score in zip(rows, scores, strict=True):
        parts = score.components
        if row["task"] == "general":
            assert parts["accuracy"] is None
            assert parts["helpfulness"] is not None and parts["harmlessness"] is not None, score.info
            assert 0.0 <= parts["helpfulness"] <= 1.0 and score.value is not None
        else:
            assert parts["helpfulness"] is None and parts["harmlessness"] is None
    assert by_id["add-fractions/0"].components["accuracy"] == 1.0
    assert by_id["add-fractions/1"].components["accuracy"] == 0.0
    hostile = by_id["hostile/0"].info["components"]["helpfulness"]
    assert hostile["defanged"] == 1 and hostile["judged"] == "summary"
    assert by_id["hostile/0"].info["components"]["harmlessness"]["judged"] == "whole"
    master = by_id["masterkey/0"]
    assert master.components["helpfulness"] == 0.0
    assert master.info["components"]["helpfulness"]["status"] == str(Status.NO_ANSWER)
