"""Local backend specifics: both isolation modes, non-root use, concurrency bound, outer guard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandboxes import get_sandbox
from sandboxes.local import LocalSandbox, _communicate
from tests.sandboxes.conftest import sandbox_processes

REPO = Path(__file__).resolve().parents[2]
OK = {"type": "stdio", "cases": [{"input": "", "output": "ok"}]}
PROBE = """
import os, socket
print(os.getuid(), os.getppid())
print(int(open('/proc/self/status').read().split('CapEff:')[1].split()[0], 16))
print(socket.socket().connect_ex(('127.0.0.1', 22)) != 0)
print(os.path.exists('/tmp/r1-local-host-marker'))
"""

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


@pytest.fixture
def host_marker():
    path = "/tmp/r1-local-host-marker"
    Path(path).write_text("host")
    yield path
    os.unlink(path)


@pytest.mark.parametrize("isolation", [pytest.param("bwrap", marks=needs_bwrap), "unshare"])
def test_isolation_modes(isolation, host_marker):
    with LocalSandbox(isolation=isolation) as sb:
        assert sb.isolation == isolation
        result = sb.run(PROBE, OK)
    uid, ppid, caps, refused, sees_host_tmp = result.cases[0].stdout.split()
    assert uid != "0" and ppid == "1"  # the runner is PID 1 of a new pid namespace
    assert caps == "0" and refused == "True" and sees_host_tmp == "False"
    assert result.info["isolation"] == isolation


@needs_bwrap
def test_bwrap_program_is_uid_65534_on_the_host_too():
    seen: set[int] = set()
    with LocalSandbox(isolation="bwrap") as sb:
        thread = threading.Thread(target=sb.run, args=("import time\ntime.sleep(1.5)", OK))
        thread.start()
        deadline = time.monotonic() + 5
        while thread.is_alive() and time.monotonic() < deadline:
            seen |= sandbox_processes()
            time.sleep(0.05)
        thread.join()
    if os.geteuid() == 0:
        assert seen, "no process of the sandbox ran as uid 65534 on the host"


NON_ROOT_SCRIPT = """
import sys
from sandboxes import get_sandbox
with get_sandbox("local", isolation=sys.argv[1]) as sb:
    r = sb.run("import os\\nprint(os.getuid())", {"type": "stdio", "cases": [{"input": "", "output": "x"}]})
    print(sb.isolation, r.status, r.cases[0].stdout.strip(), r.info.get("error", ""))
"""


@pytest.mark.parametrize("isolation", [pytest.param("bwrap", marks=needs_bwrap), "unshare"])
def test_works_for_a_non_root_user(isolation, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs a system python3 readable by other users")
    # The checkout may sit where uid 1000 cannot read (a private temp dir): give it a copy.
    readable = tmp_path_factory.mktemp("nonroot")
    shutil.copytree(REPO / "sandboxes", readable / "sandboxes", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [readable, *readable.parents]:
        if path == Path(path.anchor):
            break
        path.chmod(path.stat().st_mode | 0o755)
    for path in readable.rglob("*"):
        path.chmod(path.stat().st_mode | (0o755 if path.is_dir() else 0o644))
    proc = subprocess.run(
        [
            "setpriv",
            "--reuid",
            "1000",
            "--regid",
            "1000",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            NON_ROOT_SCRIPT,
            isolation,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PYTHONPATH": str(readable), "PATH": os.environ["PATH"]},
    )
    assert proc.returncode == 0, proc.stderr
    mode, status, uid, *_ = proc.stdout.split()
    assert (mode, status) == (isolation, "failed")  # ran, printed a uid instead of "x"
    assert uid.isdigit()


def test_max_concurrency_bounds_concurrent_runs():
    with LocalSandbox(max_concurrency=1) as sb:
        start = time.monotonic()
        with ThreadPoolExecutor(3) as pool:
            results = list(
                pool.map(lambda _: sb.run("import time\ntime.sleep(0.5)\nprint('ok')", OK), range(3))
            )
        elapsed = time.monotonic() - start
    assert [r.status for r in results] == ["passed"] * 3
    assert elapsed >= 1.5  # one at a time


def test_context_manager_and_closed_sandbox():
    with get_sandbox("local") as sb:
        assert sb.run("print('ok')", OK).status == "passed"
    with pytest.raises(RuntimeError, match="closed"):
        sb.run("print('ok')", OK)
    sb.close()  # twice is fine


def test_bad_options_raise():
    with pytest.raises(ValueError, match="max_concurrency"):
        LocalSandbox(max_concurrency=0)
    with pytest.raises(ValueError, match="isolation"):
        LocalSandbox(isolation="chroot")
    with pytest.raises(TypeError, match="cpus"):
        LocalSandbox(cpus=2)
    with pytest.raises(ValueError, match="backend"):
        get_sandbox("firecracker")


def test_unusable_interpreter_says_why():
    with pytest.raises(RuntimeError, match="interpreter /nonexistent/python3"):
        LocalSandbox(python="/nonexistent/python3")


def test_limits_are_options():
    with LocalSandbox(output_limit_bytes=1000) as sb:
        result = sb.run("print('x' * 5000)", OK)
    assert result.cases[0].status == "output_limit" and len(result.cases[0].stdout) == 1000


def test_output_kept_over_all_cases_is_bounded():
    # 8 MiB per case is fine for one case, but a suite of 100 cases printing 8 MiB of control
    # bytes each made the runner's result ~5 GB (JSON escapes them 6x), all read by the
    # caller: a program could run the trainer out of memory. Past the run's total the case
    # is cut off like one over its own limit.
    line = "x" * 200_000
    suite = {"type": "stdio", "cases": [{"input": "", "output": line}] * 8}
    with LocalSandbox(total_output_bytes=1 << 20) as sb:
        result = sb.run(f"print('{line}')", suite)
    statuses = [c.status for c in result.cases]
    assert statuses[:5] == ["passed"] * 5 and statuses[5] == "output_limit", statuses
    assert sum(len(c.stdout) + len(c.stderr) for c in result.cases) <= 2 << 20


def test_stop_on_failure_suite_key():
    suite = {"type": "stdio", "cases": [{"input": "", "output": "1"}] * 3, "stop_on_failure": True}
    with LocalSandbox() as sb:
        result = sb.run("raise SystemExit(3)", suite)
    assert [c.status for c in result.cases] == ["runtime_error", "skipped", "skipped"]


# ---------------------------------------------------------------- the outer guard


def test_outer_guard_kills_a_hung_process_group():
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 100 & sleep 100"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    start = time.monotonic()
    out, err, timed_out, overflow = _communicate(proc, b"job", time.monotonic() + 0.5, 1 << 20)
    assert timed_out and not overflow
    assert time.monotonic() - start < 5
    assert proc.returncode is not None
    deadline = time.monotonic() + 3  # SIGKILLed processes take a moment to finish dying
    while _live_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _live_members(proc.pid) == []  # the background sleep died with the group


def _live_members(pgid: int) -> list[int]:
    """Processes of a process group that are not zombies (orphans wait for init to reap them)."""
    live = []
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (OSError, ValueError):
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(entry))
    return live


def test_outer_guard_caps_the_result_read():
    proc = subprocess.Popen(
        ["yes"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    out, _, timed_out, overflow = _communicate(proc, b"", time.monotonic() + 30, 1 << 20)
    assert overflow and not timed_out
    assert len(out) <= (1 << 20) + (1 << 16)


def test_runner_runs_standalone_with_a_job_file(tmp_path):
    # The contract with the docker backend: `python3 runner.py job.json` in the work dir.
    import json

    from sandboxes import suite as S

    job = S.build_job(
        "print(input()[::-1])", S.validate({"type": "stdio", "cases": [{"input": "abc", "output": "cba"}]})
    )
    (tmp_path / "job.json").write_text(json.dumps(job))
    runner = REPO / "sandboxes" / "runner.py"
    proc = subprocess.run(
        [sys.executable, str(runner), "job.json"], cwd=tmp_path, capture_output=True, timeout=60
    )
    raw = json.loads(proc.stdout)
    assert raw["cases"][0]["stdout"] == "cba\n"
    assert (
        S.grade(S.validate({"type": "stdio", "cases": [{"input": "abc", "output": "cba"}]}), raw).status
        == "passed"
    )


def test_without_bubblewrap_it_refuses_unless_the_weaker_isolation_is_named(tmp_path, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("setpriv", "unshare"):
        (tools / name).symlink_to(shutil.which(name))
    monkeypatch.setenv("PATH", str(tools))  # a machine without bwrap
    with pytest.raises(RuntimeError, match="install bubblewrap"):
        LocalSandbox()
    with LocalSandbox(isolation="unshare") as sb:
        result = sb.run("print('ok')", OK)
    assert result.status == "passed" and result.info["isolation"] == "unshare"
    assert "host filesystem is readable" in result.info["isolation_note"]


CLONE_NS = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for flags in (0x10000000 | 0x40000000 | 17, 0x20000000 | 17, 0x00020000 | 17):  # NEWUSER|NEWNET, NEWPID, NEWNS
    print(libc.syscall(56, flags, 0, 0, 0, 0), ctypes.get_errno())
print(libc.syscall(435, 0, 0), ctypes.get_errno())  # clone3
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the syscall filter is x86_64-only")
@pytest.mark.parametrize("isolation", [pytest.param("bwrap", marks=needs_bwrap), "unshare"])
def test_no_new_namespaces_through_clone_or_clone3(isolation):
    with LocalSandbox(isolation=isolation) as sb:
        out = sb.run(CLONE_NS, OK).cases[0].stdout.split("\n")
    assert out[:4] == ["-1 1", "-1 1", "-1 1", "-1 38"]  # EPERM x3, ENOSYS


@pytest.mark.skipif(os.geteuid() != 0, reason="per-run uids need root")
def test_unshare_process_limit_is_per_run_not_per_host_uid():
    holder = "import os, time\nfor _ in range(56):\n    if os.fork() == 0:\n        time.sleep(3)\n        os._exit(0)\nprint('held')\ntime.sleep(2.5)\n"
    honest = "import os, time\nkids = []\nfor _ in range(16):\n    pid = os.fork()\n    if pid == 0:\n        time.sleep(0.2)\n        os._exit(0)\n    kids.append(pid)\nfor k in kids:\n    os.waitpid(k, 0)\nprint('ok')\n"
    with LocalSandbox(isolation="unshare", max_concurrency=2) as sb:
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(
                sb.run,
                holder,
                {"type": "stdio", "cases": [{"input": "", "output": "held"}], "time_limit_s": 5},
            )
            time.sleep(1.0)
            result = sb.run(honest, OK)
            assert held.result().cases[0].stdout.startswith("held")
    assert result.status == "passed", result.cases
