"""Fixtures shared by the sandbox tests.

`sandbox` runs a test against both backends. The docker one is skipped when no Docker
daemon is reachable, except with CI=true, where that fails instead.
"""

from __future__ import annotations

import os
import time

import pytest

from sandboxes.local import RUN_UID_RANGE

SANDBOX_UID = 65534  # the bwrap isolation's uid; unshare as root uses a fresh uid per run (RUN_UID_RANGE)


def _is_sandbox_uid(uid: str) -> bool:
    return uid == str(SANDBOX_UID) or RUN_UID_RANGE[0] <= int(uid) < RUN_UID_RANGE[1]


def docker_client_or_skip():
    """A live docker client, or skip (fail under CI=true)."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
        return client
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no Docker daemon is reachable: {exc}")
        pytest.skip(f"no Docker daemon: {exc}")


@pytest.fixture(scope="session")
def docker_image():
    """Build the sandbox image once per session (a no-op when it exists)."""
    client = docker_client_or_skip()
    from sandboxes.build import build_images

    for _ in build_images():
        pass
    return client


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def sandbox(request):
    """A sandbox of each backend, shared by a module's tests."""
    from sandboxes import get_sandbox

    if request.param == "docker":
        request.getfixturevalue("docker_image")
    with get_sandbox(request.param, max_concurrency=2) as sb:
        yield sb


def sandbox_processes(in_docker: bool | None = None) -> set[int]:
    """Host processes running as the sandbox uid (local and docker both use it); in_docker
    keeps only those in (True) or outside (False) a Docker container's cgroup."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
            with open(f"/proc/{entry}/cgroup") as f:
                docker = "docker" in f.read()
        except (OSError, StopIteration):
            continue
        if any(_is_sandbox_uid(u) for u in uids) and (in_docker is None or docker == in_docker):
            if docker or not _someone_elses(int(entry)):
                found.add(int(entry))
    return found


_HELPERS = (b"bwrap", b"setpriv", b"unshare", b"python3")


def _someone_elses(pid: int) -> bool:
    """A local sandbox started by another process on this (shared) host: its ancestors reach a
    process that is neither this one, nor init, nor part of a sandbox. Ours, and orphans that
    escaped to init, are not someone else's."""
    me = os.getpid()
    for _ in range(64):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return False
        pid = int(stat[stat.rindex(b")") + 2 :].split()[1])  # the parent
        if pid in (me, 0, 1):
            return False
        try:
            with open(f"/proc/{pid}/comm", "rb") as f:
                comm = f.read().strip()
        except OSError:
            return False
        if comm not in _HELPERS:
            return True  # e.g. another engineer's pytest
    return False


def sandbox_files() -> set[str]:
    """Files the sandbox uid owns in the host's shared temp dirs."""
    found = set()
    for top in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            entries = os.scandir(top)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if _is_sandbox_uid(str(entry.stat(follow_symlinks=False).st_uid)):
                        found.add(entry.path)
                except OSError:
                    continue
    return found


def _describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:200]
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cgroup") as f:
            cgroup = f.read().strip().splitlines()[-1][-80:]
    except OSError:
        return "gone"
    return f"{state} {cmd} [{cgroup}]"


@pytest.fixture
def leaves_nothing(request):
    """Fail the test if a sandbox-uid process or file is left on the host after it.

    Processes are counted for the backend under test only (inside Docker containers or
    outside), so the two backends' tests can run side by side.
    """
    in_docker = type(request.getfixturevalue("sandbox")).__name__ == "DockerSandbox"
    procs, files = sandbox_processes(in_docker), sandbox_files()
    yield
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and sandbox_processes(in_docker) - procs:
        time.sleep(0.05)  # a killed tree can take a moment to be reaped, longer on a loaded machine
    left = {pid: _describe(pid) for pid in sandbox_processes(in_docker) - procs}
    # A process that exited between the scan and the description was not left behind.
    left = {pid: what for pid, what in left.items() if what != "gone"}
    assert left == {}, "sandbox processes left running on the host"
    assert sandbox_files() - files == set(), "sandbox files left on the host"
