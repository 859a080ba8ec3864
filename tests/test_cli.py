import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verifiers.cli import main

FORMAT_YAML = "components:\n  format: {verifier: format, weight: 1.0}\n"
GOOD = "<think>a</think><answer>1</answer>"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def cfg(tmp_path):
    return write(tmp_path / "r.yaml", FORMAT_YAML)


def test_bad_rows_become_error_rows_and_the_rest_is_scored(tmp_path, cfg, capsys):
    lines = [
        json.dumps({"id": "a", "completion": GOOD}),
        "{not json",
        json.dumps({"id": "c", "prompt": "no completion here"}),
        json.dumps({"id": "d", "completion": 7}),
        json.dumps({"id": "e", "completion": [{"role": "assistant", "content": 3}]}),
        "",
        json.dumps(["a", "list"]),
        json.dumps({"id": "h", "completion": GOOD, "task": 5}),
        json.dumps({"id": "i", "completion": "no tags"}),
    ]
    src = write(tmp_path / "in.jsonl", "\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["score", str(src), "--config", str(cfg), "--output", str(out)]) == 1
    got = rows(out)
    assert [r["line"] for r in got] == list(range(1, 10))
    assert got[0]["reward"] == 1.0 and got[0]["id"] == "a"
    assert got[8]["reward"] == 0.0 and got[8]["status"] == "ok"
    expected_errors = {
        2: "malformed JSON",
        3: "missing field 'completion'",
        4: "got int",
        5: "message content must be a string",
        6: "empty line",
        7: "must be a JSON object",
        8: "'task' must be a string",
    }
    for line, text in expected_errors.items():
        row = got[line - 1]
        assert row["status"] == "error" and row["reward"] is None
        assert row["error"].startswith(f"line {line}: ") and text in row["error"], row
    assert got[2]["id"] == "c"  # what could be read of a bad row is kept
    summary = capsys.readouterr().out
    assert "reward summary" in summary and "input errors" in summary


def test_all_good_exits_zero_and_keeps_input_fields(tmp_path, cfg):
    src = write(tmp_path / "in.jsonl", "".join(json.dumps({"id": i, "completion": GOOD, "extra": i}) + "\n" for i in range(5)))
    out = tmp_path / "out.jsonl"
    assert main(["score", str(src), "--config", str(cfg), "-o", str(out), "-q"]) == 0
    got = rows(out)
    assert [r["extra"] for r in got] == list(range(5))
    assert all(r["components"] == {"format": 1.0} for r in got)


def test_field_mapping_with_dotted_paths(tmp_path):
    cfg = write(tmp_path / "r.yaml", "components:\n  f: {verifier: format}\nroutes:\n  math: [f]\n")
    row = {"response": GOOD, "meta": {"kind": "math"}}
    bad = {"uid": "q7"}  # no completion: its error row still carries the mapped id
    src = write(tmp_path / "in.jsonl", json.dumps(row) + "\n" + json.dumps(bad) + "\n")
    out = tmp_path / "out.jsonl"
    args = ["score", str(src), "--config", str(cfg), "-o", str(out), "-q"]
    assert main(args + ["--field", "completion=response", "--field", "task=meta.kind", "--field", "id=uid"]) == 1
    good, bad = rows(out)
    assert good["reward"] == 1.0
    assert bad["id"] == "q7" and "missing field 'response'" in bad["error"]
    assert main(args + ["--field", "bogus=x"]) == 2


def test_usage_and_config_errors_exit_2(tmp_path, cfg, capsys):
    src = write(tmp_path / "in.jsonl", json.dumps({"completion": GOOD}) + "\n")
    out = str(tmp_path / "o.jsonl")
    assert main(["score", str(tmp_path / "missing.jsonl"), "--config", str(cfg), "-o", out]) == 2
    bad = write(tmp_path / "bad.yaml", "components:\n  a: {verifier: nope}\n")
    assert main(["score", str(src), "--config", str(bad), "-o", out]) == 2
    assert "unknown verifier 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["score", str(src)])
    assert exc.value.code == 2


def test_workers_give_the_same_rows_in_the_same_order(tmp_path, cfg):
    lines = [json.dumps({"id": i, "completion": GOOD if i % 3 else "nope"}) if i % 7 else "{bad" for i in range(300)]
    src = write(tmp_path / "in.jsonl", "\n".join(lines) + "\n")
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["score", str(src), "--config", str(cfg), "-o", str(one), "-q", "--batch-size", "16"]) == 1
    assert main(["score", str(src), "--config", str(cfg), "-o", str(two), "-q", "--batch-size", "16", "--workers", "2"]) == 1
    assert one.read_text() == two.read_text()
    assert len(rows(one)) == 300


SLOW_PLUGIN = """
import time
from verifiers import Verifier, Score

class Slow(Verifier):
    '''Sleeps per batch so a test can kill the run midway.'''
    def score_batch(self, samples):
        time.sleep(0.05)
        return [Score(float(len(s.completion) % 2)) for s in samples]
"""


def test_resume_after_kill_9(tmp_path):
    """A real `verifiers score` subprocess is SIGKILLed midway; --resume finishes without loss or duplicates."""
    (tmp_path / "slow_plugin.py").write_text(SLOW_PLUGIN)
    dist = tmp_path / "slow_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[verifiers.plugins]\nslow = slow_plugin:Slow\n")
    cfg = write(tmp_path / "slow.yaml", "components:\n  s: {verifier: slow}\n")
    n = 400
    src = write(tmp_path / "in.jsonl", "".join(json.dumps({"id": i, "completion": "x" * i}) + "\n" for i in range(n)))
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-m", "verifiers", "score", str(src), "--config", str(cfg), "-o", str(out), "--batch-size", "4", "-q"]

    proc = subprocess.Popen(cmd, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 40):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = out.read_text().count("\n")
    assert 40 <= partial < n, "the kill must land midway"
    with out.open("a") as f:  # a torn last line, as a kill during a write leaves
        f.write('{"line": 99999, "rew')

    assert subprocess.run(cmd + ["--resume"], env=env, timeout=120).returncode == 0
    got = rows(out)
    assert [r["line"] for r in got] == list(range(1, n + 1))
    assert [r["id"] for r in got] == list(range(n))
    assert all(r["reward"] == float(r["id"] % 2) for r in got)


def test_resume_refuses_an_unrelated_output(tmp_path, cfg):
    src = write(tmp_path / "in.jsonl", json.dumps({"completion": GOOD}) + "\n")
    out = write(tmp_path / "out.jsonl", json.dumps({"line": 7}) + "\n")
    assert main(["score", str(src), "--config", str(cfg), "-o", str(out), "--resume", "-q"]) == 2


def test_list_and_module_entry_point():
    res = subprocess.run([sys.executable, "-m", "verifiers", "list"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "format" in res.stdout


CODE_CFG = "components:\n  tests: {verifier: code, weight: 1.0, params: {backend: local%s}}\n"


def test_dataset_rows_as_references_and_the_sandbox_in_the_summary(tmp_path, capsys):
    cfg = tmp_path / "code.yaml"
    cfg.write_text(CODE_CFG % "")
    src = Path(__file__).resolve().parents[1] / "examples" / "data" / "code_datasets" / "humaneval.jsonl"
    out = tmp_path / "out.jsonl"
    assert main(["score", str(src), "--config", str(cfg), "-o", str(out), "--field", "reference=*"]) == 0
    row = json.loads(out.read_text())
    assert row["reward"] == 1.0 and row["info"]["components"]["tests"]["isolation"] == "local/bwrap"
    assert "code sandbox: local/bwrap (1 rows)" in capsys.readouterr().out


def test_a_sandbox_that_cannot_run_is_one_clear_error(tmp_path, capsys):
    cfg = tmp_path / "code.yaml"
    cfg.write_text(CODE_CFG % ", python: /nonexistent/python3")
    src = Path(__file__).resolve().parents[1] / "examples" / "data" / "code.jsonl"
    assert main(["score", str(src), "--config", str(cfg), "-o", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "local sandbox cannot run here" in err and not (tmp_path / "out.jsonl").exists()
