"""Docker backend specifics: the warm pool, container hardening, replacement, the outer
deadline, the reaper, and that nothing is left behind. The attacks themselves are in
test_security.py (run against both backends).

Skipped without a Docker daemon, except with CI=true, where a missing daemon fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
SUITE = {
    "type": "stdio",
    "cases": [{"input": f"{i} {i + 1}\n", "output": f"{2 * i + 1}\n"} for i in range(3)],
}


@pytest.fixture(scope="module")
def client(docker_image):
    """A live Docker client with the sandbox image built (skips, or fails under CI=true)."""
    return docker_image


@pytest.fixture(scope="module")
def sandbox(client):
    from sandboxes.docker import DockerSandbox

    with DockerSandbox(max_concurrency=2) as sb:
        yield sb
    assert _owned(client, sb.pool_id) == []


def _owned(client, pool_id: str) -> list:
    from sandboxes.docker import POOL_LABEL

    return client.containers.list(all=True, filters={"label": f"{POOL_LABEL}={pool_id}"})


def _new_sandbox(**options):
    from sandboxes.docker import DockerSandbox

    return DockerSandbox(**options)


def test_runs_a_suite_and_reuses_the_warm_container(client):
    with _new_sandbox(max_concurrency=1) as sb:
        first = sb.run(ADD, SUITE)
        second = sb.run(ADD, SUITE)
        assert (first.status, first.passed, first.total) == ("passed", 3, 3)
        assert second.status == "passed"
        assert first.info["container"] == second.info["container"]
        assert len(_owned(client, sb.pool_id)) == 1


def test_containers_are_hardened(client, sandbox):
    result = sandbox.run(ADD, SUITE)
    container = client.containers.get(result.info["container"])
    host = container.attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == ["SETGID", "SETUID"]  # the agent's, to drop to the program uid
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["LogConfig"]["Type"] == "none"
    assert 0 < host["PidsLimit"] <= 1024
    assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"]
    assert host["NanoCpus"] > 0
    assert set(host["Tmpfs"]) == {"/sandbox", "/tmp"}


def test_program_runs_unprivileged_without_network(sandbox):
    code = textwrap.dedent(
        """
        import os, socket
        print(os.getuid(), os.getgid())
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=1)
            print("net")
        except OSError:
            print("no-net")
        try:
            open("/etc/evil", "w")
            print("wrote")
        except OSError:
            print("read-only")
        """
    )
    result = sandbox.run(code, {"type": "stdio", "cases": [{"input": "", "output": "x"}]})
    uid, gid, net, fs = result.cases[0].stdout.split()
    assert int(uid) != 0 and int(gid) != 0
    assert (net, fs) == ("no-net", "read-only")


def test_program_cannot_touch_the_agent(sandbox):
    code = textwrap.dedent(
        """
        import os, signal
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
            try:
                os.kill(1, sig)
                print("signalled")
            except PermissionError:
                print("denied")
        for path in ("/proc/1/environ", "/proc/1/mem", "/proc/1/fd/0"):
            try:
                open(path, "rb").read(1)
                print("read")
            except OSError:
                print("denied")
        """
    )
    result = sandbox.run(code, {"type": "stdio", "cases": [{"input": "", "output": "x"}]})
    assert result.cases[0].stdout.split() == ["denied"] * 6
    assert sandbox.run(ADD, SUITE).status == "passed"


def test_container_memory_exhaustion_is_the_programs_failure(client):
    # Each child stays under the per-process limit; together they exceed the container's memory.
    code = textwrap.dedent(
        """
        import os, time
        kids = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                block = bytearray(150 << 20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(2)
                os._exit(0)
            kids.append(pid)
        print(all(os.waitpid(k, 0)[1] == 0 for k in kids))
        """
    )
    with _new_sandbox(max_concurrency=1, memory_mb=256) as sb:
        result = sb.run(
            code, {"type": "stdio", "cases": [{"input": "", "output": "True"}], "time_limit_s": 10}
        )
        assert result.status in ("failed", "memory"), result
        assert sb.run(ADD, SUITE).status == "passed"


def test_work_dir_is_fresh_for_every_run(sandbox):
    code = textwrap.dedent(
        """
        import glob, os
        print(len(glob.glob("/sandbox/*")), len(glob.glob("/tmp/*")), sorted(os.listdir(".")))
        open("/tmp/mark", "w").write("x")
        open("mark", "w").write("x")
        """
    )
    suite = {"type": "stdio", "cases": [{"input": "", "output": "x"}]}
    results = [sandbox.run(code, suite) for _ in range(4)]
    assert all(r.cases for r in results), results
    outputs = {r.cases[0].stdout for r in results}
    assert outputs == {"1 0 []\n"}  # no job file: the job stays in the agent's memory


def test_sysv_shared_memory_does_not_outlive_the_run(sandbox):
    # A SysV segment has no file to wipe and outlives its process; its memory counts against
    # the container, so a program could leave the next (honest) run too little memory.
    code = textwrap.dedent(
        """
        import ctypes
        libc = ctypes.CDLL(None)
        print(libc.shmget(0, 1 << 20, 0o1600) >= 0, libc.msgget(0, 0o1600) >= 0)
        """
    )
    left = sandbox.run(code, {"type": "stdio", "cases": [{"input": "", "output": "True True"}]})
    assert left.status == "passed"
    check = "print(len(open('/proc/sysvipc/shm').readlines()), len(open('/proc/sysvipc/msg').readlines()))"
    for _ in range(2):  # whichever pool container the next runs get
        assert (
            sandbox.run(check, {"type": "stdio", "cases": [{"input": "", "output": "1 1"}]}).status
            == "passed"
        )


def test_nothing_keeps_running_after_a_run(client, sandbox):
    code = textwrap.dedent(
        """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1000)
            os._exit(0)
        print(1)
        """
    )
    result = sandbox.run(code, {"type": "stdio", "cases": [{"input": "", "output": "1"}]})
    assert result.status == "passed"
    container = client.containers.get(result.info["container"])
    processes = [p[1:] for p in container.top(ps_args="-eo pid,uid,comm")["Processes"]]
    assert processes == [["0", "python3"], ["0", "python3"]]  # only the idle agent (pid 1) and its zygote


def test_runner_timeout_replaces_the_container(client):
    with _new_sandbox(max_concurrency=1) as sb:
        hang = sb.run(
            "import time\ntime.sleep(30)",
            {"type": "stdio", "cases": [{"input": "", "output": ""}], "time_limit_s": 1},
        )
        assert hang.status == "timeout"
        after = sb.run(ADD, SUITE)
        assert after.status == "passed"
        assert after.info["container"] != hang.info["container"]
        _wait_gone(client, hang.info["container"])


def test_outer_deadline_removes_the_container_when_the_harness_is_frozen(client):
    # The program stops its own harness (same uid): only the outer guard can end the run.
    code = "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nimport time\ntime.sleep(60)\n"
    suite = {"type": "stdio", "cases": [{"input": "", "output": ""}], "time_limit_s": 1}
    with _new_sandbox(max_concurrency=1, slack_s=2.0) as sb:
        start = time.monotonic()
        result = sb.run(code, suite)
        elapsed = time.monotonic() - start
        assert result.status == "timeout" and result.passed == 0
        assert elapsed < 1 + 2.0 + 5  # budget + slack + removal
        _wait_gone(client, result.info["container"])
        assert sb.run(ADD, SUITE).status == "passed"


FORK_BOMB_THEN_KILL = """
import os, signal, time
parent = os.getppid()
if os.fork() == 0:
    os.setsid()
    while True:
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
        except OSError:
            time.sleep(0.01)
time.sleep(1.5)
os.kill(parent, signal.SIGKILL)
time.sleep(5)
"""


@pytest.mark.parametrize(
    "code",
    ["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint(1)\n", FORK_BOMB_THEN_KILL],
    ids=["kill", "fork-bomb-then-kill"],
)
def test_killing_the_harness_fails_closed(client, code):
    with _new_sandbox(max_concurrency=1) as sb:
        result = sb.run(code, {"type": "stdio", "cases": [{"input": "", "output": "1"}], "time_limit_s": 3})
        assert result.status == "failed" and result.passed == 0
        assert "unreadable" in result.info["error"]
        _wait_gone(client, result.info["container"])
        assert sb.run(ADD, SUITE).status == "passed"


def test_container_vanishing_mid_run_is_an_infrastructure_error(client):
    suite = {"type": "stdio", "cases": [{"input": "", "output": ""}], "time_limit_s": 10}
    with _new_sandbox(max_concurrency=1) as sb:
        (victim,) = _owned(client, sb.pool_id)
        threading.Timer(1.0, lambda: victim.remove(force=True)).start()
        result = sb.run("import time\ntime.sleep(8)", suite)
        assert result.status == "error"
        assert sb.run(ADD, SUITE).status == "passed"  # the pool replaced it


def test_harness_output_is_read_with_a_byte_cap(client):
    code = "import sys\nsys.stdout.write('x' * (3 << 20))\n"
    with _new_sandbox(max_concurrency=1, max_output_bytes=1 << 20) as sb:
        result = sb.run(code, {"type": "stdio", "cases": [{"input": "", "output": "x"}]})
        assert result.status == "failed" and "bytes" in result.info["error"]
        _wait_gone(client, result.info["container"])


def test_container_is_replaced_after_max_runs(client):
    with _new_sandbox(max_concurrency=1, max_runs=2) as sb:
        ids = [sb.run(ADD, SUITE).info["container"] for _ in range(3)]
        assert ids[0] == ids[1] != ids[2]
        _wait_gone(client, ids[0])


def test_concurrency_is_bounded(client):
    suite = {"type": "stdio", "cases": [{"input": "", "output": "ok"}]}
    code = "import time\ntime.sleep(0.3)\nprint('ok')\n"
    with _new_sandbox(max_concurrency=2, prewarm=0) as sb:
        results = []
        threads = [threading.Thread(target=lambda: results.append(sb.run(code, suite))) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status for r in results] == ["passed"] * 6
        assert len({r.info["container"] for r in results}) <= 2
        assert len(_owned(client, sb.pool_id)) <= 2


def test_reaper_removes_containers_of_dead_owners_only(client):
    from sandboxes.docker import LABEL, owner_id, reap_orphans

    # A process that starts a pool and dies without closing it leaves labelled containers.
    script = "from sandboxes.docker import DockerSandbox\nimport os\nsb = DockerSandbox(max_concurrency=1)\nprint(sb.pool_id, flush=True)\nos._exit(0)\n"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    dead_pool = out.stdout.strip()
    assert dead_pool and len(_owned(client, dead_pool)) == 1
    alive = client.containers.create(
        "r1-verifiers/sandbox-python:latest", ["true"], labels={LABEL: owner_id()}
    )
    try:
        assert reap_orphans(client) >= 1
        assert _owned(client, dead_pool) == []
        alive.reload()  # still there: its owner (this process) is alive
    finally:
        alive.remove(force=True)


def test_close_removes_every_container_and_refuses_new_runs(client):
    sb = _new_sandbox(max_concurrency=2)
    assert len(_owned(client, sb.pool_id)) == 2
    sb.close()
    sb.close()  # idempotent
    assert _owned(client, sb.pool_id) == []
    with pytest.raises(RuntimeError, match="closed"):
        sb.run(ADD, SUITE)


def test_close_and_replacement_leave_no_open_sockets(client):
    # A trainer runs many sandboxes and many timeouts: every replaced container's attach
    # socket and the pool's own daemon connections must be closed, not left to the GC.
    import gc

    def open_fds():
        gc.collect()
        return len(os.listdir("/proc/self/fd"))

    before = open_fds()
    with _new_sandbox(max_concurrency=1) as sb:
        for _ in range(3):
            hang = sb.run(
                "while True: pass",
                {"type": "stdio", "cases": [{"input": "", "output": ""}], "time_limit_s": 0.2},
            )
            assert hang.status == "timeout"
        assert sb.run(ADD, SUITE).status == "passed"
    assert open_fds() == before


def test_a_pool_never_closed_is_removed_at_exit(client):
    script = "from sandboxes.docker import DockerSandbox\nsb = DockerSandbox(max_concurrency=2)\nprint(sb.pool_id)\n"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() and _owned(client, out.stdout.strip()) == []


FORK_SCRIPT = """
import os, sys
from sandboxes.docker import DockerSandbox
suite = {"type": "stdio", "cases": [{"input": "1 2", "output": "3"}]}
code = "print(sum(map(int, input().split())))"
sb = DockerSandbox(max_concurrency=1)
first = sb.run(code, suite).info["container"]
pid = os.fork()
if pid == 0:  # the child runs on its own pool, then exits normally (atexit runs)
    result = sb.run(code, suite)
    sys.exit(0 if result.status == "passed" and result.info["container"] != first else 3)
_, status = os.waitpid(pid, 0)
again = sb.run(code, suite)
print(os.waitstatus_to_exitcode(status), again.status, again.info["container"] == first)
sb.close()
"""


def test_a_forked_child_gets_its_own_pool_and_leaves_the_parents_alone(client):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.split() == ["0", "passed", "True"], out.stderr[-2000:]


def test_missing_image_is_a_clear_error(client):
    with pytest.raises(RuntimeError, match="verifiers sandbox build"):
        _new_sandbox(image="r1-verifiers/no-such-image:latest")


def test_build_is_a_noop_when_the_image_exists(client):
    from sandboxes.build import build_images

    assert len(list(build_images())) == 1


def _wait_gone(client, container_id: str, timeout: float = 15.0) -> None:
    """Replacement and removal happen off the caller's thread: give them a moment."""
    import docker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.containers.get(container_id)
        except docker.errors.NotFound:
            return
        time.sleep(0.1)
    raise AssertionError(f"container {container_id} is still there")


def test_build_without_a_daemon_says_so(monkeypatch):
    from sandboxes.build import build_images

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(RuntimeError, match="no Docker daemon"):
        list(build_images())


def test_the_toolkit_in_a_container_grades_code_through_the_host_socket(client, tmp_path):
    # What the README documents for the toolkit image: `docker run -v /var/run/docker.sock:...
    # --group-add <socket gid>` and a config with backend docker. Here the toolkit's own code and
    # its installed dependencies are mounted into the sandbox image's python instead of building
    # the toolkit image (its `pip install` needs a registry this test must not depend on).
    import docker as docker_sdk

    from sandboxes.docker import SANDBOX_IMAGE

    repo = Path(__file__).resolve().parents[2]
    deps = Path(docker_sdk.__file__).resolve().parents[1]  # the site-packages holding the SDK, yaml, rich
    sock = "/var/run/docker.sock"
    if not os.path.exists(sock):
        pytest.skip("the daemon is not on the default unix socket")
    work = tmp_path / "work"
    work.mkdir()
    (work / "code.yaml").write_text(
        "components:\n  tests: {verifier: code, weight: 1.0, params: {backend: docker, max_concurrency: 1}}\n"
    )
    work.chmod(0o777)
    for path in (tmp_path, *tmp_path.parents):
        if path == Path("/"):
            break
        path.chmod(path.stat().st_mode | 0o011)  # searchable by the container's unprivileged user
    out = client.containers.run(
        SANDBOX_IMAGE,
        ["python3", "-m", "verifiers", "score", "/app/examples/data/code.jsonl", "--config", "/work/code.yaml",
         "-o", "/work/out.jsonl"],
        # The packages and examples are mounted one by one: a checkout's own folder may be private (a
        # mktemp clone is 0700), and a bind mount keeps that mode for the container's user.
        volumes={sock: {"bind": sock, "mode": "rw"},
                 **{str(repo / part): {"bind": f"/app/{part}", "mode": "ro"}
                    for part in ("verifiers", "sandboxes", "examples")},
                 str(deps): {"bind": "/deps", "mode": "ro"}, str(work): {"bind": "/work", "mode": "rw"}},
        environment={"PYTHONPATH": "/app:/deps", "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
        user="10001:10001", group_add=[str(os.stat(sock).st_gid)], network_mode="none",
        remove=True, stdout=True, stderr=True,
    )  # fmt: skip
    rows = [json.loads(line) for line in (work / "out.jsonl").read_text().splitlines()]
    assert rows and all(r["status"] != "error" for r in rows), out.decode()[-2000:]
    assert {r["info"]["components"]["tests"].get("isolation") for r in rows} - {None} == {"docker"}
    assert b"code sandbox: docker" in out
    from verifiers import Sample, get_verifier

    with get_verifier("code") as here:  # the same rows scored in this process, on the local backend
        expected = here.score_batch([Sample(r["completion"], reference=r["reference"]) for r in rows])
    assert [r["reward"] for r in rows] == [s.value for s in expected]
