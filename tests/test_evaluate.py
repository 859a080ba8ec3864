import itertools
import json
import math
from pathlib import Path

import pytest

from verifiers.cli import main
from verifiers.evaluate import (
    EvalError,
    cluster_answers,
    evaluate_group,
    evaluate_rows,
    maj_at_k,
    pass_at_k,
)


def brute_pass_at_k(correct: list[bool], k: int) -> float:
    draws = list(itertools.combinations(range(len(correct)), k))
    return sum(any(correct[i] for i in d) for d in draws) / len(draws)


@pytest.mark.parametrize("n,c", [(1, 0), (1, 1), (4, 1), (8, 3), (10, 0), (10, 10), (16, 5)])
def test_pass_at_k_equals_the_fraction_of_draws_with_a_correct_one(n, c):
    correct = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(correct, k), abs=1e-12)


def test_pass_at_k_is_stable_for_large_groups():
    assert pass_at_k(1024, 1, 1) == pytest.approx(1 / 1024)
    assert pass_at_k(1024, 0, 512) == 0.0
    value = pass_at_k(1000, 10, 100)
    assert value == pytest.approx(1 - math.comb(990, 100) / math.comb(1000, 100), rel=1e-9)


@pytest.mark.parametrize("n,c,k", [(4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(n, c, k)


def test_equivalent_answers_are_one_vote():
    clusters = cluster_answers(["0.5", "\\frac{1}{2}", "1/2", " 0.5 ", "1/3", None, "", "x = 7", "7"])
    assert clusters[0] == clusters[1] == clusters[2] == clusters[3]
    assert clusters[4] not in (None, clusters[0])
    assert clusters[5] is None and clusters[6] is None
    assert clusters[7] == clusters[8]  # gold "x = 7" accepts 7 and 7 accepts "x = 7"'s value


def test_only_answers_equal_both_ways_share_a_vote():
    # gold "0.33" accepts 1/3 (it sets the precision), but gold 1/3 does not accept 0.33
    a, b = cluster_answers(["0.33", "1/3"])
    assert a != b


def test_maj_at_k_by_hand():
    clusters = cluster_answers(["0.5", "\\frac12", "1/3", None])
    correct = [True, True, False, False]
    assert maj_at_k(clusters, correct, 4) == 1.0  # two votes for 1/2 beat one for 1/3
    assert maj_at_k(clusters, correct, 1) == 0.5  # a single draw: right, right, wrong, no vote
    # pairs: (0,1) 1, (0,2) tie 0.5, (0,3) 1, (1,2) tie 0.5, (1,3) 1, (2,3) 0
    assert maj_at_k(clusters, correct, 2) == pytest.approx(4 / 6)


def test_majority_of_wrong_answers_beats_a_lone_right_one():
    clusters = cluster_answers(["12", "12.0", "\\boxed{12}", "13"])
    assert clusters[0] == clusters[1] == clusters[2] != clusters[3]
    assert maj_at_k(clusters, [False, False, False, True], 4) == 0.0
    assert pass_at_k(4, 1, 4) == 1.0


def test_sampled_maj_at_k_is_reproducible_and_close_to_exact():
    clusters = [0, 0, 1, 1, 1, 2, None, 0, 2, 1, 0, 0]
    correct = [c == 0 for c in clusters]
    exact = maj_at_k(clusters, correct, 5)
    sampled = maj_at_k(clusters, correct, 5, max_draws=10, samples=4000)
    assert sampled == maj_at_k(clusters, correct, 5, max_draws=10, samples=4000)
    assert sampled == pytest.approx(exact, abs=0.03)
    assert 0.0 < exact < 1.0


def test_group_smaller_than_k_reports_only_the_ks_it_has():
    result = evaluate_group("g", ["1", "2"], [True, False], [1, 2, 4])
    assert set(result.pass_at) == {1, 2} and set(result.maj_at) == {1, 2}
    assert result.to_dict()["pass@k"] == {"1": 0.5, "2": 1.0}


def scored(prompt, completion, accuracy, code=None):
    components = {"accuracy": accuracy, "format": 1.0}
    if code is not None:
        components["code_tests"] = code
    return {"prompt": prompt, "completion": completion, "reward": accuracy, "components": components}


def test_evaluate_rows_groups_by_prompt_and_skips_unscored_rows():
    rows = [
        scored("p1", "<answer>0.5</answer>", 1.0),
        scored("p1", "<answer>\\frac{1}{2}</answer>", 1.0),
        scored("p1", "<answer>3</answer>", 0.0),
        scored("p1", "<answer>3</answer>", None),  # an outage: left out, not counted wrong
        scored([{"role": "user", "content": "p2"}], [{"role": "assistant", "content": "<answer>7</answer>"}], 0.0),
        scored([{"role": "user", "content": "p2"}], [{"role": "assistant", "content": "<answer>8</answer>"}], 1.0),
        {"completion": "<answer>1</answer>", "components": {"accuracy": 1.0}},  # no prompt
    ]
    report = evaluate_rows(rows, [1, 3])
    assert report["rows"] == 7 and report["groups"] == 2
    assert report["skipped"] == {"no metric value": 1, "no group": 1}
    assert report["groups_per_k"] == {"1": 2, "3": 1}
    p1 = report["per_group"][0]
    assert p1["n"] == 3 and p1["correct"] == 2
    assert report["pass@k"]["1"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert report["pass@k"]["3"] == 1.0 and report["maj@k"]["3"] == 1.0


def test_metric_list_takes_the_first_with_a_value():
    rows = [
        {"prompt": "c", "completion": "x", "components": {"accuracy": None, "code_tests": 1.0}},
        {"prompt": "c", "completion": "y", "components": {"accuracy": None, "code_tests": 0.5}},
    ]
    report = evaluate_rows(rows, [1], metrics=["accuracy", "code_tests"])
    assert report["per_group"][0]["correct"] == 1
    report = evaluate_rows(rows, [1], metrics=["code_tests"], threshold=0.5)
    assert report["per_group"][0]["correct"] == 2


def test_no_row_with_the_metric_names_the_components_there_are():
    with pytest.raises(EvalError, match="no row has a value for accuracy; the rows' components: format, lang"):
        evaluate_rows([{"prompt": "p", "completion": "x", "components": {"format": 1, "lang": 1}}], [1])
    with pytest.raises(EvalError, match="positive integers"):
        evaluate_rows([], [0])


def test_eval_command_prints_a_table_and_writes_json(tmp_path: Path, capsys):
    src = tmp_path / "scored.jsonl"
    rows = [scored("q", f"<answer>{a}</answer>", float(a in ("2", "2.0"))) for a in ["2", "2.0", "3", "4"]]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n{torn line\n" + "[" * 5000 + "\n")
    assert main(["eval", str(src), "--k", "1,2,8"]) == 1  # the report is written; 1: some lines were unreadable
    captured = capsys.readouterr()
    assert "pass@k" in captured.out and "maj@k" in captured.out and "2 unreadable line" in captured.out
    assert "line 5: malformed JSON" in captured.err and "line 6: JSON nested too deeply" in captured.err
    report = json.loads((tmp_path / "scored.eval.json").read_text())
    assert report["pass@k"]["1"] == 0.5 and report["pass@k"]["8"] is None
    # pairs: "2"/"2.0" one vote (1), with 3 or 4: ties (0.5 each, 4 pairs), 3/4 tie of wrongs (0)
    assert report["maj@k"]["2"] == pytest.approx((1 + 4 * 0.5 + 0) / 6)
    assert report["skipped"]["unreadable line"] == 2
    dst = tmp_path / "r.json"
    assert main(["eval", str(src), "--k", "1", "-o", str(dst), "--metric", "reward", "--threshold", "0.5"]) == 1
    assert json.loads(dst.read_text())["metric"] == ["reward"]


def test_eval_command_usage_errors_exit_2(tmp_path: Path, capsys):
    src = tmp_path / "s.jsonl"
    src.write_text(json.dumps(scored("q", "1", 1.0)) + "\n")
    assert main(["eval", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["eval", str(src), "--k", "1,x"]) == 2
    assert main(["eval", str(src), "--metric", "nope"]) == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "not found" in err and "comma-separated integers" in err and "no row has a value for nope" in err
    assert main(["eval", str(src), "--threshold", "nan"]) == 2  # was: every row wrong, pass@k 0, exit 0
    assert "--threshold must be a finite number" in capsys.readouterr().err


def test_rows_scored_under_other_names_are_read_there_and_unread_completions_are_no_majority_vote(tmp_path, capsys):
    """Rows scored with `--field completion=response --prefix score_` (their own `reward` column kept):
    eval reads our columns, not the input's, and a completion it cannot find gives no maj@k, not 0."""
    def row(question, response, accuracy):
        return {"question": question, "response": response, "reward": 0.0,
                "score_reward": accuracy, "score_components": {"accuracy": accuracy}}

    rows = [row("p", "<answer>5</answer>", 1.0), row("p", "<answer>5.0</answer>", 1.0), row("p", "<answer>4</answer>", 0.0)]
    report = evaluate_rows(rows, [1], metrics=["accuracy"], group_by="question", completion_field="response",
                           prefix="score_")
    assert report["pass@k"]["1"] == pytest.approx(2 / 3) and report["maj@k"]["1"] == pytest.approx(2 / 3)
    unread = evaluate_rows(rows, [1], group_by="question", prefix="score_")  # completion under another name
    assert unread["pass@k"]["1"] == pytest.approx(2 / 3) and unread["maj@k"]["1"] is None
    assert unread["skipped"]["no completion (no maj@k for its group)"] == 3
    with pytest.raises(EvalError, match="group field 'prompt'"):
        evaluate_rows(rows, [1], prefix="score_")
    assert evaluate_rows(rows, [1], metrics=["reward"], group_by="question", prefix="score_")["pass@k"]["1"] > 0

    src = tmp_path / "scored.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["eval", str(src), "--k", "1", "--field", "completion=response", "--field", "prompt=question",
            "--prefix", "score_"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "scored.eval.json").read_text())
    assert report["maj@k"]["1"] == pytest.approx(2 / 3) and report["groups"] == 1


def test_eval_reads_a_gzip_scored_file_and_refuses_one_with_no_rows(tmp_path, capsys):
    import gzip

    rows = [scored("p", "<answer>1</answer>", 1.0), scored("p", "<answer>2</answer>", 0.0)]
    src = tmp_path / "scored.jsonl.gz"  # what `verifiers score ... -o scored.jsonl.gz` writes
    with gzip.open(src, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", str(src), "--k", "1"]) == 0
    report = json.loads((tmp_path / "scored.eval.json").read_text())
    assert report["rows"] == 2 and report["pass@k"]["1"] == 0.5
    assert main(["eval", str(tmp_path / "scored.eval.json"), "-o", str(tmp_path / "x.json")]) == 2
    assert "holds no JSON rows" in capsys.readouterr().err
