import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from verifiers import Score, Verifier, register
from verifiers.server import RewardService, create_app

YAML = """
components:
  accuracy: {verifier: math, weight: 1.0}
  format:   {verifier: format, weight: 0.3}
"""
GOOD = "<think>2 + 3 = 5</think><answer>5</answer>"
WRONG = "<think>2 + 3 = 6</think><answer>6</answer>"


@contextmanager
def running(app):
    """Serve `app` with uvicorn on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "r.yaml"
    path.write_text(YAML)
    svc = RewardService(path)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def url(service):
    with running(create_app(service, max_body_bytes=64 * 1024, max_batch=100)) as base:
        yield base


def test_health(url):
    r = httpx.get(f"{url}/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "components": ["accuracy", "format"], "workers": 1}


def test_get_reward_in_openrlhf_schema(url):
    prompt = "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    body = {"query": [prompt + GOOD + "<|im_end|>", prompt + WRONG, prompt + GOOD],
            "prompts": [prompt] * 3, "labels": ["5", "5", ""]}
    r = httpx.post(f"{url}/get_reward", json=body)
    assert r.status_code == 200
    got = json.loads(r.text)  # NaN for the unusable label: Python's json (and OpenRLHF's client) reads it
    assert got["rewards"][:2] == [pytest.approx(1.3), pytest.approx(0.3)] and math.isnan(got["rewards"][2])
    assert got["scores"][:2] == [pytest.approx(1.0), pytest.approx(0.3 / 1.3)]
    assert got["extra_logs"]["accuracy"][:2] == [1.0, 0.0] and got["extra_logs"]["format"] == [1.0] * 3
    # prompts and labels are optional; an empty batch is an empty answer
    assert httpx.post(f"{url}/get_reward", json={"query": [GOOD]}).json()["extra_logs"]["format"] == [1.0]
    assert httpx.post(f"{url}/get_reward", json={"query": []}).json()["rewards"] == []


def test_score_in_our_schema_keeps_bad_rows(url):
    rows = [
        {"id": "a", "completion": GOOD, "answer": "5", "extra": [1, 2]},
        {"id": "b", "prompt": "no completion"},
        {"id": "c", "completion": WRONG, "answer": ""},
        "not an object",
    ]
    r = httpx.post(f"{url}/score", json={"rows": rows, "fields": {"reference": "answer"}})
    assert r.status_code == 200
    out = r.json()["rows"]
    assert [o["line"] for o in out] == [1, 2, 3, 4]  # as `verifiers score` writes them
    assert out[0]["reward"] == pytest.approx(1.3) and out[0]["extra"] == [1, 2] and out[0]["status"] == "ok"
    assert out[0]["components"] == {"accuracy": 1.0, "format": 1.0} and "info" in out[0]
    assert out[1] == {"id": "b", "prompt": "no completion", "line": 2, "reward": None, "status": "error",
                      "error": "line 2: missing field 'completion' (the row has: id, prompt)"}
    assert out[2]["reward"] is None and out[2]["status"] == "invalid_reference"
    assert out[3]["status"] == "error" and "must be a JSON object" in out[3]["error"]
    # a bare list of rows works too; a task for every row; a prefix for rows that have output columns
    assert httpx.post(f"{url}/score", json=[{"completion": GOOD}]).json()["rows"][0]["components"]["format"] == 1.0
    r = httpx.post(f"{url}/score", json={"rows": [{"completion": GOOD, "reward": 7}]})
    assert r.status_code == 422 and "'reward' that the output would overwrite" in r.json()["error"]
    r = httpx.post(f"{url}/score", json={"rows": [{"completion": GOOD, "reference": "5", "reward": 7}], "prefix": "s_"})
    assert r.json()["rows"][0]["reward"] == 7 and r.json()["rows"][0]["s_reward"] == pytest.approx(1.3)


@pytest.mark.parametrize(
    "path,content,status,message",
    [
        ("/get_reward", b"{not json", 400, "malformed JSON"),
        ("/score", b"\xff\xfe", 400, "malformed JSON"),
        ("/score", b"[" * 30_000 + b"]" * 30_000, 400, "nested too deeply"),
        ("/get_reward", b"[1, 2]", 422, "must be a JSON object"),
        ("/get_reward", b'{"prompts": ["p"]}', 422, "missing field 'query'"),
        ("/get_reward", b'{"query": "one string"}', 422, "field 'query' must be a list, got str"),
        ("/get_reward", b'{"query": ["a", "b"], "labels": ["1"]}', 422, "got 2 queries, 2 prompts and 1 labels"),
        ("/get_reward", b'{"query": [3]}', 422, "query[0] must be a string, got int"),
        ("/get_reward", b'{"query": ["a"], "labels": [true]}', 422, "labels[0] must be"),
        ("/score", b'{"rows": {"completion": "x"}}', 422, "field 'rows' must be a list, got dict"),
        ("/score", b'{"rows": [], "fields": {"answer": "reference"}}', 422, "'fields' must map"),
        ("/score", b'"just a string"', 422, "the body must be"),
        ("/score", b'{"rows": [], "task": 3}', 422, "'task' must be a string"),
    ],
)
def test_bad_input_is_a_clear_4xx_never_a_500(url, path, content, status, message):
    r = httpx.post(f"{url}{path}", content=content, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


def test_oversized_requests_are_413(url):
    big = {"query": ["x" * 70_000]}
    r = httpx.post(f"{url}/get_reward", json=big)
    assert r.status_code == 413 and "limit is 65536" in r.json()["error"]

    def chunked():  # no content-length: the limit is counted while reading
        for _ in range(20):
            yield b" " * 8192
    r = httpx.post(f"{url}/get_reward", content=chunked())
    assert r.status_code == 413 and "over the limit" in r.json()["error"]
    r = httpx.post(f"{url}/score", json={"rows": [{"completion": "x"}] * 101})
    assert r.status_code == 413 and "101 rows in one request; the limit is 100" in r.json()["error"]


def test_token_is_required_when_set(service):
    with running(create_app(service, token="s3cret")) as base:
        body = {"query": [GOOD]}
        assert httpx.post(f"{base}/get_reward", json=body).status_code == 401
        r = httpx.post(f"{base}/score", json=[{"completion": GOOD}], headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in r.json()["error"]
        ok = httpx.post(f"{base}/get_reward", json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert httpx.get(f"{base}/health").status_code == 200


def test_on_none_raise_answers_503_and_a_number_is_used(service):
    body = {"query": [GOOD, GOOD], "labels": ["5", ""]}
    with running(create_app(service, on_none="raise")) as base:
        r = httpx.post(f"{base}/get_reward", json=body)
        assert r.status_code == 503 and "reward is None (invalid_reference)" in r.json()["error"]
    with running(create_app(service, on_none=-1.0)) as base:
        assert httpx.post(f"{base}/get_reward", json=body).json()["rewards"] == [pytest.approx(1.3), -1.0]


def test_64_concurrent_clients_get_their_own_answers(url):
    async def client(i: int, http: httpx.AsyncClient):
        answer = str(i % 7)
        rows = [{"completion": f"<think>t</think><answer>{answer}</answer>", "reference": str(j % 7)} for j in range(8)]
        r = await http.post(f"{url}/score", json={"rows": rows})
        return i, r.status_code, [row["components"]["accuracy"] for row in r.json()["rows"]]

    async def main():
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(limits=limits, timeout=120) as http:
            return await asyncio.gather(*(client(i, http) for i in range(64)))

    for i, status, acc in asyncio.run(main()):
        assert status == 200
        assert acc == [1.0 if j % 7 == i % 7 else 0.0 for j in range(8)]


class GateVerifier(Verifier):
    """Blocks on completions containing 'slow' until the test opens the gate."""

    gate = threading.Event()

    def score(self, sample):
        if "slow" in sample.completion:
            assert self.gate.wait(60)
        return Score(1.0)


register("gate_for_server", GateVerifier)


def test_a_slow_batch_does_not_block_the_server(tmp_path):
    cfg = tmp_path / "gate.yaml"
    cfg.write_text("components:\n  gate: {verifier: gate_for_server}\n  format: {verifier: format}\n"
                   "routes:\n  gated: [gate]\n  default: [format]\n")
    svc = RewardService(cfg)
    try:
        with running(create_app(svc)) as base:
            result = {}
            slow = threading.Thread(target=lambda: result.setdefault(
                "slow", httpx.post(f"{base}/score", json=[{"completion": "slow", "task": "gated"}], timeout=60)))
            slow.start()
            # while the slow batch waits: the event loop answers, and a batch for other components is scored
            assert httpx.get(f"{base}/health").status_code == 200
            fast = httpx.post(f"{base}/score", json=[{"completion": GOOD}], timeout=60)
            assert fast.status_code == 200 and fast.json()["rows"][0]["reward"] == 1.0
            assert "slow" not in result
            GateVerifier.gate.set()
            slow.join(60)
            assert result["slow"].json()["rows"][0]["reward"] == 1.0
    finally:
        svc.close()


class BatchLog(Verifier):
    """Records the size of every batch it scores; a completion 'hold' waits for the test's gate."""

    gate = threading.Event()
    sizes: list[int] = []

    def score_batch(self, samples):
        self.sizes.append(len(samples))
        if any(s.completion == "hold" for s in samples):
            assert self.gate.wait(60)
        return [Score(1.0) for _ in samples]


register("batch_log_for_server", BatchLog)


def test_requests_waiting_for_a_busy_scorer_are_merged_into_one_batch(tmp_path):
    cfg = tmp_path / "log.yaml"
    cfg.write_text("components:\n  log: {verifier: batch_log_for_server}\n")
    svc = RewardService(cfg, lanes=1)
    try:
        with running(create_app(svc)) as base:
            answers = []

            def post(completions):
                r = httpx.post(f"{base}/get_reward", json={"query": completions}, timeout=60)
                answers.append((completions, r.status_code, r.json()["rewards"]))

            threads = [threading.Thread(target=post, args=(["hold"],))]
            threads[0].start()
            deadline = time.monotonic() + 60
            while BatchLog.sizes != [1]:  # the one lane is busy with the held request
                assert time.monotonic() < deadline, BatchLog.sizes
                time.sleep(0.01)
            threads += [threading.Thread(target=post, args=([f"q{i}"] * (i + 1),)) for i in range(5)]
            for t in threads[1:]:
                t.start()
            while svc.pending() < 5:
                assert time.monotonic() < deadline, svc.pending()
                time.sleep(0.01)
            BatchLog.gate.set()
            for t in threads:
                t.join(60)
            assert BatchLog.sizes == [1, 1 + 2 + 3 + 4 + 5]  # the five waiting requests: one batch
            assert sorted(len(c) for c, _, _ in answers) == [1, 1, 2, 3, 4, 5]
            assert all(status == 200 and rewards == [1.0] * len(c) for c, status, rewards in answers)
    finally:
        svc.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_command_with_worker_processes(tmp_path):
    cfg = tmp_path / "r.yaml"
    cfg.write_text(YAML)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "verifiers", "serve", "--config", str(cfg), "--port", str(port),
           "--workers", "2", "--token", "t"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert httpx.get(f"{base}/health").json()["workers"] == 2
        r = httpx.post(f"{base}/get_reward", json={"query": [GOOD, WRONG], "labels": ["5", "5"]},
                       headers={"Authorization": "Bearer t"}, timeout=60)
        assert r.json()["rewards"] == [pytest.approx(1.3), pytest.approx(0.3)]
        r = httpx.post(f"{base}/score", json=[{"completion": GOOD, "reference": "5"}],
                       headers={"Authorization": "Bearer t"}, timeout=60)
        assert r.json()["rows"][0]["reward"] == pytest.approx(1.3)
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_command_refuses_a_bad_config_before_binding(tmp_path, capsys):
    from verifiers.cli import main

    cfg = tmp_path / "bad.yaml"
    cfg.write_text("components:\n  accuracy: {verifier: math, weight: high}\n")
    assert main(["serve", "--config", str(cfg), "--port", str(free_port())]) == 2
    assert "components.accuracy.weight" in " ".join(capsys.readouterr().err.split())
    assert main(["serve", "--config", str(cfg), "--on-none", "zero"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--on-none must be nan, raise or a number, got 'zero'" in err and "VERIFIERS_ON_NONE" not in err


def test_serve_on_a_port_in_use_is_a_one_line_usage_error(tmp_path, capsys):
    from verifiers.cli import main

    cfg = tmp_path / "r.yaml"
    cfg.write_text("components:\n  format: {verifier: format}\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--config", str(cfg), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and str(port) in err, err
    assert "in use" in err and "serving" not in err


def test_serve_command_exits_2_when_the_port_is_taken(tmp_path):
    cfg = tmp_path / "r.yaml"
    cfg.write_text("components:\n  format: {verifier: format}\n")
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = subprocess.run([sys.executable, "-m", "verifiers", "serve", "--config", str(cfg), "--port", str(port)],
                             env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
