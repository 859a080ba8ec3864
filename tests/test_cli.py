import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verifiers import Sample, Score, Verifier, register
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
    bad = {"uid": "q7", "other": [1]}  # no completion: its error row keeps every input column
    src = write(tmp_path / "in.jsonl", json.dumps(row) + "\n" + json.dumps(bad) + "\n")
    out = tmp_path / "out.jsonl"
    args = ["score", str(src), "--config", str(cfg), "-o", str(out), "-q"]
    assert main(args + ["--field", "completion=response", "--field", "task=meta.kind", "--field", "id=uid"]) == 1
    good, bad = rows(out)
    assert good["reward"] == 1.0
    assert bad["uid"] == "q7" and bad["other"] == [1] and "missing field 'response'" in bad["error"]
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


# ---------------------------------------------------------------- the CLI as a user meets it (subprocesses)

R1_YAML = Path(__file__).resolve().parent.parent / "examples" / "r1.yaml"
RIGHT = "<think>6*7 is 42</think><answer>42</answer>"
WRONG = "<think>6*7 is 41</think><answer>41</answer>"


def cli(*args: str, stdin: bytes | None = None, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verifiers", *args], input=stdin, capture_output=True,
                          timeout=timeout, **kw)


def jsonl(path: Path, items: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in items))
    return path


def test_output_equal_to_input_is_refused_and_the_input_survives(tmp_path, cfg):
    src = jsonl(tmp_path / "in.jsonl", [{"completion": GOOD}] * 3)
    before = src.read_bytes()
    res = cli("score", str(src), "--config", str(cfg), "-o", str(src))
    assert res.returncode == 2 and b"is the input file" in res.stderr
    link = tmp_path / "link.jsonl"
    os.link(src, link)  # the same inode under another name
    res = cli("score", str(src), "--config", str(cfg), "-o", str(link))
    assert res.returncode == 2 and b"is the input file" in res.stderr
    res = cli("score", str(src), "--config", str(cfg), "-o", str(tmp_path / "." / "in.jsonl"))
    assert res.returncode == 2
    assert src.read_bytes() == before


def test_rows_without_a_task_get_accuracy_from_their_reference(tmp_path):
    # TRL / open-r1 / GSM8K rows have no task column: the right and the wrong answer must differ
    src = jsonl(tmp_path / "in.jsonl", [
        {"prompt": "What is 6*7?", "completion": RIGHT, "reference": "42"},
        {"prompt": "What is 6*7?", "completion": WRONG, "reference": "42"},
    ])
    out = tmp_path / "out.jsonl"
    res = cli("score", str(src), "--config", str(R1_YAML), "-o", str(out))
    assert res.returncode == 0, res.stderr
    right, wrong = rows(out)
    assert right["components"]["accuracy"] == 1.0 and wrong["components"]["accuracy"] == 0.0
    assert right["reward"] > wrong["reward"] + 0.9
    assert right["info"]["route"] == "math"
    text = res.stdout.decode()
    for name in ("accuracy", "code_tests", "format", "language"):  # every component, with its applied count
        assert name in text
    assert "component 'code_tests' applied to no row" in text and "route 'code' matched no row" in text
    assert "note: component 'code_tests'" in text and "warning" not in text  # every row took a route of its own


def test_a_reference_under_another_name_is_a_warning_and_task_sets_the_route(tmp_path):
    src = jsonl(tmp_path / "in.jsonl", [{"prompt": "What is 6*7?", "completion": RIGHT, "answer": "42"}])
    out = tmp_path / "out.jsonl"
    res = cli("score", str(src), "--config", str(R1_YAML), "-o", str(out))
    assert res.returncode == 0
    text = res.stdout.decode()
    assert "warning: component 'accuracy' applied to no row" in text and "--field reference=" in text
    res = cli("score", str(src), "--config", str(R1_YAML), "-o", str(out), "--task", "math", "-q")
    assert res.returncode == 0
    [row] = rows(out)  # routed to math, but the gold is still missing: None, never a silent 0
    assert row["reward"] is None and row["status"] == "invalid_reference"
    res = cli("score", str(src), "--config", str(R1_YAML), "-o", str(out), "--field", "reference=answer", "-q")
    [row] = rows(out)
    assert res.returncode == 0 and row["components"]["accuracy"] == 1.0


@pytest.mark.parametrize("column", ["status", "info", "reward", "line"])
def test_input_columns_are_never_overwritten(tmp_path, cfg, column):
    src = jsonl(tmp_path / "in.jsonl", [{"completion": GOOD, column: "mine"}])
    out = tmp_path / "out.jsonl"
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out))
    assert res.returncode == 2 and f"column '{column}'".encode() in res.stderr and b"--prefix" in res.stderr
    assert not out.exists() or out.read_text() == ""
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "--prefix", "score_", "-q")
    assert res.returncode == 0
    [row] = rows(out)
    assert row[column] == "mine" and row["score_reward"] == 1.0 and row["score_line"] == 1


def test_a_clash_later_in_the_file_stops_with_the_output_so_far_intact(tmp_path, cfg):
    src = jsonl(tmp_path / "in.jsonl", [{"completion": GOOD}] * 5 + [{"completion": GOOD, "reward": 3}])
    out = tmp_path / "out.jsonl"
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "--batch-size", "2", "-q")
    assert res.returncode == 2 and b"line 6" in res.stderr
    assert [r["line"] for r in rows(out)] == [1, 2, 3, 4]


def test_error_rows_keep_the_input_columns(tmp_path, cfg):
    src = jsonl(tmp_path / "in.jsonl", [{"prompt": "p", "id": 7, "extra": {"a": [1]}, "completion": 42}])
    out = tmp_path / "out.jsonl"
    assert cli("score", str(src), "--config", str(cfg), "-o", str(out), "-q").returncode == 1
    [row] = rows(out)
    assert (row["prompt"], row["id"], row["extra"], row["completion"]) == ("p", 7, {"a": [1]}, 42)
    assert row["status"] == "error" and row["reward"] is None and "got int" in row["error"]


def test_resume_refuses_another_input_or_config(tmp_path, cfg):
    src = jsonl(tmp_path / "in.jsonl", [{"completion": GOOD}] * 4)
    out = tmp_path / "out.jsonl"
    assert cli("score", str(src), "--config", str(cfg), "-o", str(out), "-q").returncode == 0
    with out.open("r+b") as f:  # as if interrupted after two rows
        f.truncate(len(b"".join(out.read_bytes().splitlines(keepends=True)[:2])))
    other = jsonl(tmp_path / "other.jsonl", [{"completion": "x"}] * 4)
    res = cli("score", str(other), "--config", str(cfg), "-o", str(out), "--resume", "-q")
    assert res.returncode == 2 and b"input file" in res.stderr
    cfg2 = write(tmp_path / "r2.yaml", FORMAT_YAML.replace("1.0", "0.5"))
    res = cli("score", str(src), "--config", str(cfg2), "-o", str(out), "--resume", "-q")
    assert res.returncode == 2 and b"reward config" in res.stderr
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "--resume", "--prefix", "s_", "-q")
    assert res.returncode == 2 and b"options" in res.stderr
    assert len(rows(out)) == 2  # nothing was mixed in
    assert cli("score", str(src), "--config", str(cfg), "-o", str(out), "--resume", "-q").returncode == 0
    assert [r["line"] for r in rows(out)] == [1, 2, 3, 4]


@pytest.mark.parametrize("where", ["missing_dir/out.jsonl", "in.jsonl/out.jsonl", "."])
def test_an_unwritable_output_is_a_one_line_usage_error(tmp_path, cfg, where):
    src = jsonl(tmp_path / "in.jsonl", [{"completion": GOOD}])
    res = cli("score", str(src), "--config", str(cfg), "-o", str(tmp_path / where))
    assert res.returncode == 2, res.stderr
    assert b"Traceback" not in res.stderr and len(res.stderr.decode().strip().splitlines()) == 1


def test_a_full_disk_is_a_one_line_error(tmp_path, cfg):
    src = jsonl(tmp_path / "in.jsonl", [{"completion": GOOD}] * 10)
    res = cli("score", str(src), "--config", str(cfg), "-o", "/dev/full", "-q")
    assert res.returncode == 4 and b"No space left" in res.stderr and b"Traceback" not in res.stderr


def test_running_out_of_file_size_midway_leaves_a_resumable_output(tmp_path, cfg):
    import resource

    src = jsonl(tmp_path / "in.jsonl", [{"id": i, "completion": GOOD, "pad": "x" * 50} for i in range(2000)])
    out = tmp_path / "out.jsonl"

    def limit_file_size(size=64 << 10):  # as a disk that fills up: writes past `size` fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "-q", preexec_fn=lambda: limit_file_size(100))
    assert res.returncode == 4 and b"Traceback" not in res.stderr  # not even the fingerprint fits
    assert len(res.stderr.decode().strip().splitlines()) == 1

    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "--batch-size", "64", "-q",
              preexec_fn=limit_file_size)
    assert res.returncode == 4 and b"Traceback" not in res.stderr and b"--resume" in res.stderr
    assert 0 < out.stat().st_size <= 64 << 10
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "-q", "--resume")
    assert res.returncode == 0, res.stderr
    got = rows(out)
    assert [r["id"] for r in got] == list(range(2000)) and all(r["reward"] == 1.0 for r in got)


def test_stdin_to_stdout_with_the_summary_on_stderr(tmp_path, cfg):
    data = b"".join(json.dumps({"id": i, "completion": GOOD}).encode() + b"\n" for i in range(3))
    res = cli("score", "-", "--config", str(cfg), "-o", "-", stdin=data)
    assert res.returncode == 0
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["id"] for r in got] == [0, 1, 2] and all(r["reward"] == 1.0 for r in got)
    assert b"reward summary" in res.stderr


def test_gzip_in_and_out(tmp_path, cfg):
    import gzip

    src = tmp_path / "in.jsonl.gz"
    with gzip.open(src, "wt") as f:
        f.write("".join(json.dumps({"id": i, "completion": GOOD}) + "\n" for i in range(5)))
    out = tmp_path / "out.jsonl.gz"
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "-q")
    assert res.returncode == 0, res.stderr
    with gzip.open(out, "rt") as f:
        got = [json.loads(line) for line in f]
    assert [r["id"] for r in got] == list(range(5)) and all(r["reward"] == 1.0 for r in got)


def test_version():
    import verifiers

    res = cli("--version")
    assert res.returncode == 0 and verifiers.__version__ in res.stdout.decode()


def test_hostile_lines_become_error_rows_and_the_run_goes_on(tmp_path, cfg):
    lines = [
        json.dumps({"id": 0, "completion": GOOD}).encode(),
        b"[" * 4000,  # nested too deeply for the JSON parser
        b'{"id": 2, "completion": "\\ud800 a lone surrogate"}',
        b'{"id": 3, "completion": "' + b"x" * 5000 + b'"}',  # over the --max-line-bytes cap below
        b'{"id": 4, "completion": "\xff\xfe not utf-8"}',
        json.dumps({"id": 5, "completion": GOOD}).encode(),
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "--max-line-bytes", "4096", "-q")
    assert res.returncode == 1 and b"Traceback" not in res.stderr
    data = out.read_bytes()
    data.decode("utf-8")  # the whole output is valid UTF-8
    got = [json.loads(line) for line in data.splitlines()]
    assert [r["line"] for r in got] == [1, 2, 3, 4, 5, 6]
    assert got[0]["reward"] == 1.0 and got[5]["reward"] == 1.0
    assert "nested too deeply" in got[1]["error"]
    assert "cannot be encoded" in got[2]["error"] and got[2]["id"] == 2
    assert got[2]["completion"] == "\ud800 a lone surrogate"  # kept, written as its JSON escape
    assert "longer than 4,096 bytes" in got[3]["error"]
    assert "not valid UTF-8" in got[4]["error"]
    # and a resume gets past every one of them
    with out.open("r+b") as f:
        f.truncate(len(b"".join(data.splitlines(keepends=True)[:1])))
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "--max-line-bytes", "4096", "-q", "--resume")
    assert res.returncode == 1 and out.read_bytes() == data


@pytest.fixture
def sigint_reaches_children():
    """A Ctrl-C test's child must start with SIGINT's default action, whatever this process inherited: a
    suite started in the background (`make test &`, nohup) ignores SIGINT, an exec keeps it ignored and
    the child's Python then never raises KeyboardInterrupt. A handler, unlike SIG_IGN, is reset by exec."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def slow_plugin_run(tmp_path):
    """(config, input, environment) for a run slow enough to interrupt: 2000 rows through the `slow`
    plugin verifier, installed in tmp_path as an entry point the child process finds."""
    (tmp_path / "slow_plugin.py").write_text(SLOW_PLUGIN)
    dist = tmp_path / "slow_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[verifiers.plugins]\nslow = slow_plugin:Slow\n")
    cfg = write(tmp_path / "slow.yaml", "components:\n  s: {verifier: slow}\n")
    src = jsonl(tmp_path / "in.jsonl", [{"completion": "x"}] * 2000)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return cfg, src, env


def test_ctrl_c_says_how_to_resume(tmp_path, sigint_reaches_children):
    cfg, src, env = slow_plugin_run(tmp_path)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "verifiers", "score", str(src), "--config", str(cfg), "-o",
                             str(out), "--batch-size", "4", "-q"], env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 8):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert b"--resume" in stderr and b"Traceback" not in stderr
    assert subprocess.run([sys.executable, "-m", "verifiers", "score", str(src), "--config", str(cfg), "-o",
                           str(out), "--batch-size", "64", "-q", "--resume"], env=env, timeout=120).returncode == 0
    assert [r["line"] for r in rows(out)] == list(range(1, 2001))


def test_ctrl_c_during_filter_says_the_output_is_incomplete(tmp_path, sigint_reaches_children):
    cfg, src, env = slow_plugin_run(tmp_path)
    out = tmp_path / "kept.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "verifiers", "filter", str(src), "--config", str(cfg), "-o",
                             str(out), "--batch-size", "4", "--min-reward", "0"], env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 60  # until some kept rows reach the file (written in buffered blocks)
    while time.time() < deadline and (not out.exists() or "\n" not in out.read_text()):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert b"is incomplete" in b" ".join(stderr.split()) and b"Traceback" not in stderr
    assert 0 < len(rows(out)) < 2000  # what was kept before the interrupt is there, whole rows only


@pytest.mark.slow
def test_memory_stays_flat_whatever_the_row_count(tmp_path, cfg):
    """Peak RSS scoring 200k rows, or resuming half of them, is about that of 20k rows: nothing is kept
    per row (the old CLI kept a stat per row and read a resumed output whole)."""
    # VmHWM: this process image's peak RSS (ru_maxrss would also count the forked test process before exec)
    probe = ("import re, sys\nfrom verifiers.cli import main\nrc = main(sys.argv[1:])\n"
             "print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1), file=sys.stderr)\n"
             "sys.exit(rc)\n")
    peaks = {}
    for n in (20_000, 200_000):
        src = tmp_path / f"in{n}.jsonl"
        line = json.dumps({"completion": GOOD, "pad": "y" * 100})
        src.write_text((line + "\n") * n)
        out = tmp_path / f"out{n}.jsonl"
        res = subprocess.run([sys.executable, "-c", probe, "score", str(src), "--config", str(cfg), "-o", str(out)],
                             capture_output=True, timeout=900)
        assert res.returncode == 0, res.stderr[-2000:]
        peaks[n] = int(res.stderr.decode().strip().splitlines()[-1])  # KiB
        with out.open("rb") as f:
            assert sum(1 for _ in f) == n
        if n == 200_000:  # --resume reads the output it continues: streaming too
            with out.open("r+b") as f:
                f.seek(out.stat().st_size // 2)
                f.readline()
                f.truncate(f.tell())
            res = subprocess.run([sys.executable, "-c", probe, "score", str(src), "--config", str(cfg), "-o",
                                  str(out), "--resume"], capture_output=True, timeout=900)
            assert res.returncode == 0, res.stderr[-2000:]
            peaks["resume"] = int(res.stderr.decode().strip().splitlines()[-1])
            with out.open("rb") as f:
                assert sum(1 for _ in f) == n
        src.unlink()
    assert peaks[200_000] - peaks[20_000] < 15_000, peaks  # < 15 MB more for 10x the rows
    assert peaks["resume"] - peaks[20_000] < 15_000, peaks


def test_parquet_and_a_saved_datasets_folder_are_read_as_rows(tmp_path, cfg):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    items = [{"id": i, "completion": GOOD if i % 2 else "no tags", "when": None} for i in range(5)]
    src = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(items), src, row_group_size=2)
    out = tmp_path / "out.jsonl"
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "-q")
    assert res.returncode == 0, res.stderr
    got = rows(out)
    assert [r["id"] for r in got] == list(range(5)) and [r["reward"] for r in got] == [0.0, 1.0] * 2 + [0.0]
    assert [r["line"] for r in got] == [1, 2, 3, 4, 5]
    with out.open("r+b") as f:  # interrupted after two rows: resume skips them
        f.truncate(len(b"".join(out.read_bytes().splitlines(keepends=True)[:2])))
    assert cli("score", str(src), "--config", str(cfg), "-o", str(out), "-q", "--resume").returncode == 0
    assert [r["id"] for r in rows(out)] == list(range(5))

    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(items)}).save_to_disk(str(folder))
    res = cli("score", str(folder), "--config", str(cfg), "-o", str(out), "-q")
    assert res.returncode == 2 and b"train" in res.stderr  # a DatasetDict: name the split
    res = cli("score", str(folder / "train"), "--config", str(cfg), "-o", str(out), "-q")
    assert res.returncode == 0, res.stderr
    assert [r["id"] for r in rows(out)] == list(range(5))


def test_a_sandbox_outage_during_the_run_exits_3_with_one_error(tmp_path, capsys):
    # A real outage: the sandbox's interpreter disappears once the first row has been written.
    import shutil
    import tempfile
    import threading

    top = Path(tempfile.mkdtemp(prefix="r1-cli-outage-", dir="/var/tmp"))
    (top / "bin").mkdir()
    python = top / "bin" / "python3"
    shutil.copy2("/usr/bin/python3", python)
    for path in (top, top / "bin"):
        path.chmod(0o755)
    cfg = tmp_path / "code.yaml"
    cfg.write_text(CODE_CFG % f", python: {python}, max_concurrency: 1")
    row = json.loads((Path(__file__).resolve().parents[1] / "examples/data/code.jsonl").read_text().splitlines()[0])
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(row) + "\n" for _ in range(20)))
    out = tmp_path / "out.jsonl"

    def pull_the_plug():
        while not (out.exists() and out.read_text()):
            time.sleep(0.01)
        python.unlink()

    thread = threading.Thread(target=pull_the_plug, daemon=True)
    thread.start()
    try:
        code = main(["score", str(src), "--config", str(cfg), "-o", str(out), "--batch-size", "1"])
    finally:
        thread.join(timeout=5)
        shutil.rmtree(top, ignore_errors=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 3 and len(rows) == 20  # every row still written
    assert rows[0]["reward"] is not None and rows[-1]["reward"] is None
    assert rows[-1]["info"]["components"]["tests"]["outage"]
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "a code sandbox or model backend failed for" in err


KILLER_PLUGIN = """
import os, signal
from verifiers import Verifier, Score

class Killer(Verifier):
    '''Dies (SIGKILL, as the OOM killer does) on the completion "die".'''
    def score_batch(self, samples):
        if any(s.completion == "die" for s in samples):
            os.kill(os.getpid(), signal.SIGKILL)
        return [Score(1.0) for _ in samples]
"""


def test_a_worker_process_that_dies_is_one_error_line_and_the_output_stays_resumable(tmp_path):
    (tmp_path / "killer_plugin.py").write_text(KILLER_PLUGIN)
    dist = tmp_path / "killer_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: killer-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[verifiers.plugins]\nkiller = killer_plugin:Killer\n")
    cfg = write(tmp_path / "k.yaml", "components:\n  k: {verifier: killer}\n")
    src = jsonl(tmp_path / "in.jsonl", [{"completion": "die" if i == 30 else "ok"} for i in range(40)])
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "--workers", "2", "--batch-size", "4", "-q",
              env=env)
    assert res.returncode == 3 and b"worker process died" in res.stderr and b"--resume" in res.stderr
    assert b"Traceback" not in res.stderr
    lines = [r["line"] for r in rows(out)]
    assert lines == list(range(1, len(lines) + 1)) and len(lines) <= 28


def test_filter_and_eval_never_write_over_their_input(tmp_path, cfg):
    src = jsonl(tmp_path / "in.jsonl", [{"prompt": "p", "completion": GOOD, "reward": 1.0, "components": {}}] * 3)
    before = src.read_bytes()
    res = cli("filter", str(src), "--config", str(cfg), "-o", str(src), "--min-reward", "0")
    assert res.returncode == 2 and b"is the input file" in res.stderr
    res = cli("eval", str(src), "-o", str(src))
    assert res.returncode == 2 and b"is the input file" in res.stderr
    res = cli("filter", str(src), "--config", str(cfg), "-o", str(tmp_path / "no" / "out.jsonl"), "--min-reward", "0")
    assert res.returncode == 2 and b"does not exist" in res.stderr and b"Traceback" not in res.stderr
    assert src.read_bytes() == before


class NotFinite(Verifier):
    """Answers a NaN (or an infinity), as a broken third-party verifier might."""

    def __init__(self, value: str = "nan") -> None:
        self.value = float(value)

    def score(self, sample: Sample) -> Score:
        return Score(self.value, info={"raw": self.value})


register("not_finite_for_cli_tests", NotFinite)


def strict_rows(path: Path) -> list[dict]:
    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_score_and_filter_never_write_nan(tmp_path, value):
    cfg = write(tmp_path / "nan.yaml", "components:\n  broken: {verifier: not_finite_for_cli_tests, params: "
                                       f"{{value: '{value}'}}}}\n  fmt: {{verifier: format, weight: 0.3}}\n")
    src = write(tmp_path / "in.jsonl", '{"completion": ' + json.dumps(GOOD) + ', "x": NaN, "y": [Infinity]}\n')
    out = tmp_path / "out.jsonl"
    assert main(["score", str(src), "--config", str(cfg), "-o", str(out), "-q"]) == 0
    (row,) = strict_rows(out)
    assert (row["reward"], row["status"], row["components"]["broken"]) == (None, "error", None)
    assert "not a finite number" in row["info"]["components"]["broken"]["error"]
    assert row["x"] is None and row["y"] == [None]

    fmt = write(tmp_path / "fmt.yaml", FORMAT_YAML)
    kept = tmp_path / "kept.jsonl"
    assert main(["filter", str(src), "--config", str(fmt), "-o", str(kept), "--min-reward", "0"]) == 0
    (row,) = strict_rows(kept)
    assert row["x"] is None and row["reward"] == 1.0


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_with_workers_leaves_no_process_behind(tmp_path):
    """SIGKILL of `score --workers 2` midway: its worker processes (and their math workers) end too.

    Before, the pool's workers waited on their task queue forever, each with its math workers."""
    rows_in = "".join(
        json.dumps({"prompt": "What is 2+2?", "completion": f"<think>t</think><answer>\\boxed{{{i}}}</answer>",
                    "reference": str(i)}) + "\n"
        for i in range(200_000)
    )
    src = write(tmp_path / "in.jsonl", rows_in)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "verifiers", "score", str(src), "--config", str(Path(__file__).resolve().parents[1] / "examples/r1_zero.yaml"),
           "-o", str(out), "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.stat().st_size < 10_000) and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run must still be going when it is killed"
    below = _descendants(proc.pid)
    assert len(below) >= 2, "the worker processes must have started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(p) for p in below):
        time.sleep(0.1)
    assert not [p for p in below if _alive(p)], "processes of the killed run are still running"


def test_filter_and_eval_read_their_input_as_score_does(tmp_path, cfg):
    """One reading path for score, filter and eval: a bad line (not UTF-8, over --max-line-bytes,
    malformed) is named by its line number and the rest is processed; gzip and stdin work for all three."""
    good = json.dumps({"prompt": "p", "completion": GOOD}).encode()
    lines = [good, b'{"prompt": "p", "completion": "\xff\xfe"}', b'{"completion": "' + b"x" * 300 + b'"}',
             b"{torn", good]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    before = src.read_bytes()
    kept = tmp_path / "kept.jsonl"
    res = cli("filter", str(src), "--config", str(cfg), "-o", str(kept), "--min-reward", "1", "--max-line-bytes", "200")
    assert res.returncode == 1, res.stderr
    err = b" ".join(res.stderr.split())
    assert b"line 2: not valid UTF-8 at byte" in err and b"line 3: line longer than 200 bytes" in err
    assert b"line 4: malformed JSON" in err and b"Traceback" not in err
    assert [r["reward"] for r in rows(kept)] == [1.0, 1.0]

    scored = tmp_path / "scored.jsonl"
    res = cli("score", str(src), "--config", str(cfg), "-o", str(scored), "-q", "--max-line-bytes", "200")
    assert res.returncode == 1
    assert [r["status"] for r in rows(scored)] == ["ok", "error", "error", "error", "ok"]
    with scored.open("ab") as f:  # a scored file damaged afterwards: eval names the line and reads the rest
        f.write(b'{"prompt": "p", "bad": "\xff"}\n')
    res = cli("eval", str(scored), "--k", "1", "--metric", "reward")
    assert res.returncode == 1 and b"line 6: not valid UTF-8" in res.stderr
    assert json.loads((tmp_path / "scored.eval.json").read_text())["rows"] == 5

    # stdin to stdout (filter), stdin to a report (eval); gzip in and out
    res = cli("filter", "-", "--config", str(cfg), "-o", "-", "--min-reward", "1", stdin=good + b"\n" + good + b"\n")
    assert res.returncode == 0 and [json.loads(x)["reward"] for x in res.stdout.splitlines()] == [1.0, 1.0]
    res = cli("eval", "-", "--k", "1", "--metric", "reward", stdin=scored.read_bytes())
    assert res.returncode == 2 and b"needs --output" in res.stderr
    res = cli("eval", "-", "--k", "1", "--metric", "reward", "-o", str(tmp_path / "r.json"), stdin=scored.read_bytes())
    assert res.returncode == 1 and json.loads((tmp_path / "r.json").read_text())["rows"] == 5
    import gzip

    gz = tmp_path / "in.jsonl.gz"
    gz.write_bytes(gzip.compress(good + b"\n"))
    res = cli("filter", str(gz), "--config", str(cfg), "-o", str(tmp_path / "kept.jsonl.gz"), "--min-reward", "1")
    assert res.returncode == 0 and gzip.decompress((tmp_path / "kept.jsonl.gz").read_bytes()).count(b"\n") == 1
    assert src.read_bytes() == before


def test_a_truncated_or_fake_gzip_is_one_clear_error_for_every_command(tmp_path, cfg):
    import gzip

    whole = gzip.compress(b"".join(json.dumps({"prompt": str(i), "completion": GOOD}).encode() + b"\n"
                                   for i in range(3000)))
    (tmp_path / "cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "fake.jsonl.gz").write_bytes(b"plain text\n")
    for name, why in (("cut", b"ended before"), ("fake", b"is named .gz but is not gzip")):
        src = str(tmp_path / f"{name}.jsonl.gz")
        out = str(tmp_path / "out.jsonl")
        for args in (("score", src, "--config", str(cfg), "-o", out, "-q"),
                     ("filter", src, "--config", str(cfg), "-o", out, "--min-reward", "0"),
                     ("eval", src, "-o", str(tmp_path / "r.json"))):
            res = cli(*args)
            err = b" ".join(res.stderr.split())
            assert res.returncode == 2 and why in err, (args, res.stderr)
            assert b"Traceback" not in err
            if name == "cut" and args[0] == "filter":  # it read and wrote rows before the break
                assert b"out.jsonl is incomplete" in err


def test_filter_and_eval_read_parquet(tmp_path, cfg):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    items = [{"prompt": "p", "completion": GOOD if i % 2 else "no tags"} for i in range(4)]
    src = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(items), src)
    kept = tmp_path / "kept.jsonl"
    res = cli("filter", str(src), "--config", str(cfg), "-o", str(kept), "--min-reward", "1")
    assert res.returncode == 0, res.stderr
    assert len(rows(kept)) == 2
    scored = [{"prompt": "p", "completion": "x", "reward": float(i % 2), "components": {"format": float(i % 2)}}
              for i in range(4)]
    pq.write_table(pa.Table.from_pylist(scored), tmp_path / "scored.parquet")
    res = cli("eval", str(tmp_path / "scored.parquet"), "--k", "1", "--metric", "format")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "scored.eval.json").read_text())["pass@k"]["1"] == 0.5


def test_completion_ids_in_a_row_measure_length_in_tokens(tmp_path):
    """As TRL passes completion_ids, a row's completion_ids column (or --field completion_ids=COLUMN)
    reaches Sample.meta, so length shaping counts tokens; ids that are not a list of integers are an error row."""
    cfg = write(tmp_path / "o.yaml", "components:\n  overlong: {verifier: overlong, params: "
                                     "{max_completion_len: 100, soft_punish_cache: 20}}\n")
    src = jsonl(tmp_path / "in.jsonl", [
        {"completion": "short text", "completion_ids": [7] * 90},
        {"completion": "short text"},
        {"completion": "short text", "completion_ids": ["a", "b"]},
        {"completion": "short text", "ids": [7] * 100},
    ])
    out = tmp_path / "out.jsonl"
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "-q")
    assert res.returncode == 1
    got = rows(out)
    info = got[0]["info"]["components"]["overlong"]
    assert (got[0]["reward"], info["unit"], info["length"]) == (-0.5, "tokens", 90)
    assert got[1]["info"]["components"]["overlong"]["unit"] == "chars" and got[1]["reward"] == 0.0
    assert got[2]["status"] == "error" and "'completion_ids' must be a list of integer token ids" in got[2]["error"]
    assert got[3]["info"]["components"]["overlong"]["unit"] == "chars"
    res = cli("score", str(src), "--config", str(cfg), "-o", str(out), "-q", "--field", "completion_ids=ids")
    assert rows(out)[3]["reward"] == -1.0 and rows(out)[0]["info"]["components"]["overlong"]["unit"] == "chars"


def test_what_a_stranger_gets_wrong_is_named(tmp_path, cfg):
    """An empty input, a completion under another name, a file that was never scored: each is said plainly."""
    empty = write(tmp_path / "empty.jsonl", "")
    res = cli("score", str(empty), "--config", str(cfg), "-o", str(tmp_path / "o.jsonl"))
    assert res.returncode == 0 and b"the input holds no rows" in res.stdout
    res = cli("filter", str(empty), "--config", str(cfg), "-o", str(tmp_path / "k.jsonl"), "--min-reward", "0")
    assert res.returncode == 0 and b"the input holds no rows" in res.stderr

    renamed = jsonl(tmp_path / "renamed.jsonl", [{"response": GOOD, "answer": "1"}] * 7)
    res = cli("score", str(renamed), "--config", str(cfg), "-o", str(tmp_path / "o.jsonl"))
    text = b" ".join(res.stdout.split())
    assert res.returncode == 1
    assert b"input error: line 1: missing field 'completion' (the row has: response, answer)" in text
    assert b"line 6:" not in text and b"and 2 more input errors" in text  # the first five, then a count

    routed = write(tmp_path / "routed.yaml", FORMAT_YAML + "routes:\n  math: [format]\n")
    typo = jsonl(tmp_path / "typo.jsonl", [{"completion": GOOD, "task": "maths"}])  # no route, no default
    res = cli("score", str(typo), "--config", str(routed), "-o", str(tmp_path / "o.jsonl"))
    assert b"warning: component 'format' applied to no row" in b" ".join(res.stdout.split())

    document = write(tmp_path / "rows.json", json.dumps([{"completion": GOOD}] * 2, indent=2))  # not JSON Lines
    res = cli("score", str(document), "--config", str(cfg), "-o", str(tmp_path / "o.jsonl"))
    assert b"line 1: a line holding only '[': the input must be JSON Lines" in b" ".join(res.stdout.split())
    write(document, json.dumps([{"completion": GOOD}] * 2))
    res = cli("score", str(document), "--config", str(cfg), "-o", str(tmp_path / "o.jsonl"))
    assert b"got list (a JSON array: the input must be JSON Lines" in b" ".join(res.stdout.split())

    res = cli("filter", str(renamed), "--config", str(cfg), "-o", str(tmp_path / "k.jsonl"), "--min-reward", "0",
              "--task", "math", "--field", "task=kind")
    assert res.returncode == 2 and b"cannot be combined with --field task=" in res.stderr

    res = cli("eval", str(renamed), "-o", str(tmp_path / "r.json"))
    err = b" ".join(res.stderr.split())
    assert res.returncode == 2 and b"no row has a 'components' column" in err and b"verifiers score" in err


def test_a_field_column_missing_from_rows_is_a_warning_naming_it(tmp_path, cfg, capsys):
    src = write(tmp_path / "in.jsonl", "\n".join([
        json.dumps({"id": "a", "completion": GOOD, "answer": "1"}),
        json.dumps({"id": "b", "completion": GOOD, "gold": "1"}),
        json.dumps({"id": "c", "completion": GOOD, "answer": "1"}),
        "[1]",  # not an object: an input error, not counted as a row without the column
    ]) + "\n")
    warning = ("warning: --field reference=gold: column 'gold' is missing in 2 of 3 rows; "
               "columns seen: answer, completion, id")
    out = tmp_path / "out.jsonl"
    assert main(["score", str(src), "--config", str(cfg), "-o", str(out), "--field", "reference=gold", "-q"]) == 1
    assert [r.get("reward") for r in rows(out)] == [1.0, 1.0, 1.0, None]  # nothing lost
    assert warning in " ".join(capsys.readouterr().err.split())

    write(out, out.read_text().splitlines(keepends=True)[0])  # resumed rows count too
    assert main(["score", str(src), "--config", str(cfg), "-o", str(out), "--field", "reference=gold", "-q",
                 "--resume"]) == 1
    assert warning in " ".join(capsys.readouterr().err.split()) and len(rows(out)) == 4

    kept = tmp_path / "kept.jsonl"
    assert main(["filter", str(src), "--config", str(cfg), "-o", str(kept), "--field", "reference=gold",
                 "--min-reward", "0"]) == 1
    assert warning in " ".join(capsys.readouterr().err.split()) and len(rows(kept)) == 3

    assert main(["eval", str(out), "--field", "completion=response", "--metric", "format",
                 "--group-by", "id"]) == 0
    assert ("warning: --field completion=response: column 'response' is missing in 4 of 4 rows"
            in " ".join(capsys.readouterr().err.split()))

    assert main(["score", str(src), "--config", str(cfg), "-o", str(out), "--field", "reference=answer"]) == 1
    assert ("column 'answer' is missing in 1 of 3 rows; columns seen: completion, gold, id"
            in " ".join(capsys.readouterr().err.split()))  # some rows only: still named
    assert main(["score", str(src), "--config", str(cfg), "-o", str(out), "--field", "reference=*", "-q"]) == 1
    assert "warning" not in capsys.readouterr().err  # the whole row is never missing
