"""examples/mini_r1.py end to end at a toy size: every stage runs, metrics.json has the promised shape."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import mini_r1  # noqa: E402


def test_problems_are_worked_and_split_cleanly():
    rows = mini_r1.problems(0)
    assert len(rows) == 5**5 and len({r["prompt"] for r in rows}) == 5**5
    row = next(r for r in rows if r["prompt"] == "4+4+0+3+2=")
    assert row["reference"] == "13"
    assert row["solution"] == "<think>4+4=8 8+0=8 8+3=11 11+2=13</think><answer>13</answer>"
    assert row["shortcut"] == "<think>4+4+0+3+2</think><answer>13</answer>"
    assert mini_r1.problems(0) == rows and mini_r1.problems(1) != rows


@pytest.mark.slow
def test_all_stages_at_toy_size(tmp_path):
    code = mini_r1.main([
        "--out", str(tmp_path), "--threads", "1", "--held-out", "16", "--cold-steps", "150", "--grpo-steps", "2",
        "--group-size", "4", "--prompts-per-step", "4", "--eval-every", "1", "--rs-prompts", "24",
        "--rs-samples", "2", "--sft-steps", "4", "--k", "2",
    ])
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # 150 cold-start steps make a model that gets some sums right, so every stage has data
    assert set(metrics["stages"]) == {"sft", "grpo", "rejection_sft", "distill"}
    for name in metrics["stages"]:
        assert 0.0 <= metrics["stages"][name]["accuracy"] <= 1.0
    assert 0.0 <= metrics["pass@1"] <= 1.0 and 0.0 <= metrics["maj@k"] <= 1.0
    assert [c["step"] for c in metrics["grpo_curve"]] == [0, 1, 2]
    for png in ("mini_r1.png", "grpo_train.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    assert len((tmp_path / "grpo" / "metrics.jsonl").read_text().splitlines()) == 2
    # rejection sampling: 24 prompts x 2 samples written, and `verifiers filter` kept only correct,
    # well-formatted completions, at most one per prompt
    assert len((tmp_path / "rollouts.jsonl").read_text().splitlines()) == 48
    kept = [json.loads(line) for line in (tmp_path / "rejection_sft.jsonl").read_text().splitlines()]
    assert 0 < metrics["rejection_sampling"]["kept"] == len(kept) <= 24
    assert len({r["prompt"] for r in kept}) == len(kept)
    for row in kept:
        assert row["reward"] >= 1.3 and row["components"]["accuracy"] == 1.0


@pytest.mark.slow
def test_trl_grpo_example_at_toy_size(tmp_path):
    import trl_grpo

    assert trl_grpo.main(["--out", str(tmp_path), "--steps", "2", "--cold-steps", "5", "--group-size", "4",
                          "--prompts-per-step", "2", "--threads", "1"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["sft"]["accuracy"] <= 1.0 and 0.0 <= metrics["trl_grpo"]["accuracy"] <= 1.0
    assert metrics["steps"] == 2 and metrics["log"]
    # TRL logged our composite's components through trl_reward
    assert any("r1_zero/accuracy" in row for row in metrics["log"])
