import json
from pathlib import Path

import pytest

from verifiers import Score, Status
from verifiers.cli import main
from verifiers.rejection import BestOfGroup, Criteria, parse_minimums, select

R1_FORMAT_LANG = """
components:
  accuracy: {verifier: math, weight: 1.0, params: {timeout: 5}}
  format:   {verifier: format, weight: 0.3}
"""


def s(value, **components):
    return Score(value, Status.OK if value is not None else Status.ERROR, components)


def test_none_never_passes_and_components_have_minimums():
    crit = Criteria(1.0, {"format": 1.0})
    assert crit.rejects(s(1.3, format=1.0)) is None
    assert crit.rejects(s(None)) == "reward None (error)"
    assert crit.rejects(s(0.3, format=1.0)) == "reward below minimum"
    assert crit.rejects(s(1.0, format=0.0)) == "format below minimum"
    assert crit.rejects(s(1.0)) == "format: no value"
    assert Criteria(-5.0).rejects(s(None)) is not None


def test_a_nan_reward_or_component_never_passes():
    """NaN (a plugin's or a reward model's) compares False with every minimum; it must not be kept."""
    nan = float("nan")
    assert Criteria(1.0).rejects(s(nan)) == "reward not finite"
    assert Criteria(1.0, {"format": 1.0}).rejects(s(1.3, format=nan)) == "format: no value"
    assert select([s(nan), s(1.0)], Criteria(0.5)) == [1]


def test_select_keeps_order_and_best_of_group_keeps_the_first_best():
    scores = [s(1.0), s(0.2), s(1.3), s(None), s(1.3), s(1.1)]
    assert select(scores, Criteria(1.0)) == [0, 2, 4, 5]
    groups = ["a", "a", "a", "b", "b", "c"]
    assert select(scores, Criteria(1.0), groups=groups) == [2, 4, 5]
    assert select(scores, Criteria(2.0), groups=groups) == []
    with pytest.raises(ValueError, match="differ in length"):
        select(scores, Criteria(1.0), groups=["a"])


def test_best_of_group_orders_groups_by_first_offer():
    best = BestOfGroup()
    best.offer("y", 0.5, "y1")
    best.offer("x", 0.1, "x1")
    assert best.offer("y", 0.9, "y2") and not best.offer("y", 0.9, "y3")
    assert best.items() == ["y2", "x1"] and len(best) == 2


@pytest.mark.parametrize("bad", ["format", "=1", "format=", "format=high", "format=nan", "format=inf"])
def test_bad_minimums_are_named(bad):
    with pytest.raises(ValueError, match="expected COMPONENT=NUMBER"):
        parse_minimums([bad])
    assert parse_minimums(["format=1", "language=0.95"]) == {"format": 1.0, "language": 0.95}
    with pytest.raises(ValueError, match="min_reward"):
        Criteria(float("nan"))


def write_rows(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_filter_command_keeps_correct_well_formatted_rows(tmp_path, capsys):
    cfg = tmp_path / "r.yaml"
    cfg.write_text(R1_FORMAT_LANG)
    good = "<think>1/3 + 1/6 = 1/2</think><answer>\\frac{1}{2}</answer>"
    rows = [
        {"id": 1, "prompt": "q1", "completion": good, "answer": "1/2"},
        {"id": 2, "prompt": "q1", "completion": "<think>x</think><answer>0.5</answer>", "answer": "1/2"},
        {"id": 3, "prompt": "q1", "completion": "The answer is 1/2", "answer": "1/2"},  # right, unformatted
        {"id": 4, "prompt": "q2", "completion": "<think>x</think><answer>4</answer>", "answer": "5"},
        {"id": 5, "prompt": "q2", "completion": "<think>x</think><answer>5</answer>", "answer": ""},  # bad gold
        "{not json",
        "[" * 5000 + "]" * 5000,
        {"id": 7, "prompt": "q3", "completion": "<think>x</think><answer>7</answer>", "answer": "7"},
    ]
    src = write_rows(tmp_path / "in.jsonl", rows)
    out = tmp_path / "sft.jsonl"
    args = ["filter", str(src), "--config", str(cfg), "-o", str(out), "--field", "reference=answer"]
    assert main(args + ["--min-reward", "1.0", "--min", "format=1"]) == 1  # input errors
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in kept] == [1, 2, 7]
    assert kept[0]["reward"] == pytest.approx(1.3) and kept[0]["components"]["format"] == 1.0
    assert kept[0]["answer"] == "1/2" and "info" not in kept[0]
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "input error" in err and "format below minimum" in err and "reward None (invalid_reference)" in err

    assert main(args + ["--min-reward", "1.0", "--best-of-group"]) == 1
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [1, 7]


def test_filter_command_usage_errors_exit_2(tmp_path, capsys):
    cfg = tmp_path / "r.yaml"
    cfg.write_text(R1_FORMAT_LANG)
    src = write_rows(tmp_path / "in.jsonl", [{"completion": "x"}])
    out = str(tmp_path / "o.jsonl")
    assert main(["filter", str(src), "--config", str(cfg), "-o", out, "--min-reward", "1", "--min", "lang=1"]) == 2
    assert main(["filter", str(src), "--config", str(cfg), "-o", out, "--min-reward", "1", "--min", "x"]) == 2
    assert main(["filter", str(tmp_path / "no.jsonl"), "--config", str(cfg), "-o", out, "--min-reward", "1"]) == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "unknown component(s) ['lang']" in err and "COMPONENT=NUMBER" in err and "not found" in err


def test_filter_task_routes_every_row(tmp_path):
    cfg = tmp_path / "routed.yaml"
    cfg.write_text(R1_FORMAT_LANG + "routes:\n  strict: [accuracy, format]\n  default: [format]\n")
    src = write_rows(tmp_path / "in.jsonl", [{"id": 1, "completion": "<think>x</think><answer>4</answer>",
                                              "reference": "5"}])
    out = tmp_path / "o.jsonl"
    base = ["filter", str(src), "--config", str(cfg), "-o", str(out), "--min-reward", "0.3"]
    assert main(base) == 0 and json.loads(out.read_text())["components"]["accuracy"] is None  # default route
    assert main(base + ["--task", "strict"]) == 0
    assert json.loads(out.read_text())["components"] == {"accuracy": 0.0, "format": 1.0}  # routed by --task


def test_filter_never_overwrites_an_input_reward_column(tmp_path, capsys):
    """A row with its own `reward` (a teacher's score) keeps it: exit 2 and a hint, or --prefix."""
    cfg = tmp_path / "r.yaml"
    cfg.write_text(R1_FORMAT_LANG)
    row = {"prompt": "q", "completion": "<think>2+3=5</think><answer>5</answer>", "reference": "5", "reward": 0.1}
    src = write_rows(tmp_path / "in.jsonl", [row])
    out = tmp_path / "sft.jsonl"
    base = ["filter", str(src), "--config", str(cfg), "-o", str(out), "--min-reward", "1"]
    assert main(base) == 2
    assert "column 'reward'" in " ".join(capsys.readouterr().err.split())
    assert main(base + ["--prefix", "score_"]) == 0
    kept = json.loads(out.read_text())
    assert kept["reward"] == 0.1 and kept["score_reward"] == pytest.approx(1.3)
    assert kept["score_components"] == {"accuracy": 1.0, "format": 1.0}


def test_filter_reads_and_writes_gzip_as_score_does(tmp_path, capsys):
    import gzip

    cfg = tmp_path / "r.yaml"
    cfg.write_text(R1_FORMAT_LANG)
    rows = [{"id": i, "prompt": "q", "completion": f"<think>x</think><answer>{i}</answer>", "reference": "1"}
            for i in range(3)]
    src = tmp_path / "in.jsonl.gz"
    with gzip.open(src, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "kept.jsonl.gz"
    assert main(["filter", str(src), "--config", str(cfg), "-o", str(out), "--min-reward", "1"]) == 0
    with gzip.open(out, "rt") as f:
        assert [json.loads(line)["id"] for line in f] == [1]
    fake = write_rows(tmp_path / "plain.jsonl.gz", rows)
    assert main(["filter", str(fake), "--config", str(cfg), "-o", str(tmp_path / "o.jsonl"), "--min-reward", "1"]) == 2
    assert "is named .gz but is not gzip" in capsys.readouterr().err
