"""Warm-pool Docker backend: run untrusted programs against test suites in pre-started containers.

Why a pool: `docker run` costs a container create + start per completion (0.2-0.4 s), and
even `docker exec` into a running container costs ~60 ms plus an interpreter start. So each
container runs a small agent as PID 1 and a run is one message over the container's attached
stdin/stdout: a few milliseconds.

Each container (from `SANDBOX_IMAGE`, built by `verifiers sandbox build`) is started with:
no network, a read-only root, tmpfs for /sandbox (work dirs) and /tmp, pids / memory
(swap included) / CPU limits, every capability dropped except SETUID/SETGID (which only
the agent uses, to drop to the program uid), no-new-privileges, log driver none, and a
label naming the owning process.

The agent (`sandboxes/agent.py`, stdlib only) is root inside the container and ignores every
signal; programs run as an unprivileged uid (by default a random one in 20000-59999 per container,
so the host-wide per-uid process limit one container's fork bomb reaches does not starve the
others; `uid=65534` pins it), so they can neither signal the agent nor read its memory. Per run
the agent forks a child that drops to that uid, makes a fresh work dir and runs runner.py's
execute on the job it holds in memory (runner.py is sent once, compiled in the agent: no
interpreter start per run; an assert suite's solution gets a fresh interpreter). The harness
enforces per-case limits and the total budget itself. The agent reads the harness's result with
a byte cap, then (as the program uid) kills whatever that uid left running, wipes /sandbox, /tmp,
/dev/shm and /dev/mqueue, checks they are as the container started, and replies.

The parent waits for the reply with a deadline (the suite's budget plus slack); past it it
removes the container, which ends everything inside (no client process is ever killed). A
container is replaced after a timeout, a memory error, an infrastructure error, an
unreadable harness result, leftovers (or a shared dir whose owner or mode changed), or `max_runs` runs. Expected outputs never enter the
container: suite.build_job leaves them out, and suite.grade compares in this process.

Orphans: every container carries the label `LABEL=<boot id>:<hostname>:<pid>:<start time>`
of the process that made it (and `POOL_LABEL` naming its pool, which close() removes);
`reap_orphans` (run at start and at close) removes the labelled containers whose owner
process on this host is gone.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sandboxes import suite as suites
from sandboxes.suite import RunResult

SANDBOX_IMAGE = "r1-verifiers/sandbox-python:latest"
LABEL = "r1-verifiers.sandbox"  # value: the owner process (see owner_id), for the reaper
POOL_LABEL = "r1-verifiers.pool"  # value: one DockerSandbox instance, for its close()
RUNNER_PATH = Path(__file__).resolve().parent / "runner.py"
AGENT_PATH = Path(__file__).resolve().parent / "agent.py"  # PID 1 of each container
CHILD_SETUP_FAILED = 125  # the agent's child could not drop privileges or make the work dir

# PID 1 of every container starts as `python3 -c _BOOT`, which reads the agent's source
# (sandboxes/agent.py) from stdin and runs it (short command lines in `ps`; agent and library
# never disagree).
# Protocol on its stdin: frames of a 4-byte big-endian length and a payload; first the agent's
# source, then {"runner": source, "output_cap": n} as JSON, then {"job": json text, "uid": n}
# per run. Each run is answered on stdout with 8 bytes (header length, body length), a JSON
# header {"exit", "signal", "overflow", "leftovers"} (or {"error"}) and the harness's raw
# stdout as body.
_BOOT = (
    "import os, struct\n"
    "def read(n):\n"
    "    buf = b''\n"
    "    while len(buf) < n:\n"
    "        chunk = os.read(0, n - len(buf))\n"
    "        if not chunk: os._exit(0)\n"
    "        buf += chunk\n"
    "    return buf\n"
    "exec(compile(read(struct.unpack('>I', read(4))[0]), 'r1v-agent', 'exec'))\n"
)
class DockerSandbox:
    """A warm pool of sandbox containers; `run` is thread-safe.

    max_concurrency: containers in the pool = runs at once (default: CPU count).
    prewarm:         containers started by the constructor (default max_concurrency).
    memory_mb, cpus, pids_limit, work_mb, tmp_mb: per-container limits.
    max_runs:        a container is replaced after this many runs.
    uid:             the uid programs run as (default: random per container, see above).
    slack_s:         added to the suite's total budget for the outer deadline.
    max_output_bytes: cap on the harness's result read from a run.
    docker_client:   a docker.DockerClient to use instead of docker.from_env().
    Raises RuntimeError when the daemon is unreachable or the image is missing
    (build it with `verifiers sandbox build`). Memory is one budget per container: all
    processes of a run share memory_mb (a suite's memory_mb is a per-process limit inside it).
    Fork-safe: a forked child leaves its parent's containers alone and starts its own pool.
    """

    def __init__(
        self,
        image: str = SANDBOX_IMAGE,
        max_concurrency: int | None = None,
        prewarm: int | None = None,
        memory_mb: int = 1024,
        cpus: float = 1.0,
        pids_limit: int = 128,
        work_mb: int = 64,
        tmp_mb: int = 16,
        max_runs: int = 200,
        slack_s: float = 5.0,
        max_output_bytes: int = 256 << 20,
        uid: int | None = None,
        docker_client: Any = None,
    ) -> None:
        import docker  # lazy: the SDK is only needed for this backend

        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        self.image = image
        self.max_concurrency = max_concurrency or os.cpu_count() or 1
        self.memory_mb, self.cpus, self.pids_limit = memory_mb, cpus, pids_limit
        self.work_mb, self.tmp_mb, self.max_runs = work_mb, tmp_mb, max_runs
        self.slack_s, self.max_output_bytes = slack_s, max_output_bytes
        if uid is not None and not 0 < uid < 65536:
            raise ValueError(f"uid must be an unprivileged uid in 1..65535, got {uid}")
        self.uid = uid
        agent = AGENT_PATH.read_bytes()
        hello = json.dumps({"runner": RUNNER_PATH.read_text(), "output_cap": max_output_bytes}).encode()
        self._hello = struct.pack(">I", len(agent)) + agent + struct.pack(">I", len(hello)) + hello
        self._docker_client = docker_client
        self._closed = False
        self._fork_lock = threading.Lock()
        self._new_pool()
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            self.close()
            raise RuntimeError(f"sandbox image {image!r} is missing: run `verifiers sandbox build`") from None
        reap_orphans(self.client)
        warm = min(self.max_concurrency, self.max_concurrency if prewarm is None else prewarm)
        if warm > 0:
            self._count = warm
            with ThreadPoolExecutor(max_workers=min(warm, 8)) as ex:
                futures = [ex.submit(self._start_container) for _ in range(warm)]
            started = [f for f in futures if f.exception() is None]
            self._idle = [f.result() for f in started]
            self._count = len(self._idle)
            if not self._idle:
                self.close()
                raise RuntimeError(f"could not start sandbox containers: {futures[0].exception()}")

    def _new_pool(self) -> None:
        """Fresh pool state for this process: daemon connection, owner labels, no containers yet."""
        import docker

        self._pid = os.getpid()
        self.owner = owner_id()
        self.pool_id = os.urandom(8).hex()
        try:
            self.client = self._docker_client or docker.from_env(max_pool_size=self.max_concurrency + 4)
            self.client.ping()
        except Exception as exc:
            raise RuntimeError(f"no Docker daemon is reachable: {exc}") from None
        self._cond = threading.Condition()
        self._idle: list[_Container] = []
        self._count = 0  # containers idle + busy + being replaced
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="r1v-docker-pool")
        # Removes the pool's containers at close(), on garbage collection, or at interpreter exit
        # for a sandbox that was never closed; the reaper covers a process that was killed.
        self._finalizer = weakref.finalize(self, _remove_pool, self.client, self.pool_id, self._pid)

    def _after_fork(self) -> None:
        """A forked child must not talk over its parent's container channels or remove its
        parent's containers: it forgets them (without closing) and grows its own pool lazily."""
        self._finalizer.detach()
        self._docker_client = None  # its connections are shared with the parent too
        self._new_pool()

    # ------------------------------------------------------------ public

    def run(
        self, code: str, tests: dict[str, Any], language: str = "python", *, stop_on_error: bool = False
    ) -> RunResult:
        """Run `code` against the test suite `tests` in a pool container.

        stop_on_error skips the cases after the first crash or timeout (binary scoring).
        A malformed suite or an unknown language raises ValueError (misuse); everything the
        program does ends in a RunResult. Status "error" means the sandbox itself failed.
        """
        if self._closed:
            raise RuntimeError("DockerSandbox is closed")
        if os.getpid() != self._pid:
            with self._fork_lock:
                if os.getpid() != self._pid:
                    self._after_fork()
        suite = suites.validate(tests)
        job = suites.build_job(code, suite, language, stop_on_error=stop_on_error)
        deadline_s = suites.job_wall_limit(job, self.slack_s)
        try:
            box = self._acquire()
        except Exception as exc:
            return _error(suite, f"no sandbox container: {type(exc).__name__}: {exc}")
        damaged = True  # unless the run ends cleanly, the container is replaced
        try:
            reply = self._call(box, _frame({"job": json.dumps(job), "uid": box.uid}), deadline_s)
            result = self._interpret(suite, reply, box)
            result.info["container"] = box.container.short_id
            damaged = reply.damaged or result.status in ("timeout", "memory", "error")
            return result
        except Exception as exc:  # the daemon or the container failed under us
            return _error(suite, f"sandbox failure: {type(exc).__name__}: {exc}")
        finally:
            self._release(box, damaged)

    def close(self) -> None:
        """Remove this sandbox's containers (also ones still running) and reap orphans. Idempotent."""
        if os.getpid() != self._pid:  # forked, never used here: the containers are the parent's
            self._closed = True
            self._finalizer.detach()
            return
        with self._cond:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for box in idle:
            box.close()
        self._background.shutdown(wait=True)
        self._finalizer()
        reap_orphans(self.client)
        if self._docker_client is None:  # our own client: its pooled daemon connections go too
            self.client.close()

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ pool

    def _start_container(self) -> _Container:
        from docker.types import LogConfig, Ulimit

        uid = self.uid or random.randrange(20000, 60000)
        container = self.client.containers.create(
            self.image,
            ["python3", "-c", _BOOT],
            stdin_open=True,  # the agent's request channel; stays open between attaches
            user="0:0",  # the agent: root without capabilities but SETUID/SETGID
            network_mode="none",
            read_only=True,
            tmpfs={
                # exec allowed in the work dir: compiled C++ programs run from there
                "/sandbox": f"rw,exec,nosuid,nodev,size={self.work_mb}m,uid={uid},gid={uid},mode=0700",
                "/tmp": f"rw,noexec,nosuid,nodev,size={self.tmp_mb}m,mode=1777",
            },
            shm_size=f"{self.tmp_mb}m",
            pids_limit=self.pids_limit,
            mem_limit=f"{self.memory_mb}m",
            memswap_limit=f"{self.memory_mb}m",
            nano_cpus=int(self.cpus * 1e9),
            ulimits=[Ulimit(name="nofile", soft=1024, hard=1024), Ulimit(name="core", soft=0, hard=0)],
            cap_drop=["ALL"],
            cap_add=["SETUID", "SETGID"],
            security_opt=["no-new-privileges"],
            log_config=LogConfig(type="none"),
            labels={LABEL: self.owner, POOL_LABEL: self.pool_id},
            environment={"HOME": "/sandbox", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"},
            hostname="sandbox",
            working_dir="/sandbox",
        )
        try:
            params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            stream = self.client.api.attach_socket(container.id, params=params)
            container.start()
            box = _Container(container, uid, stream)
            box.sock.sendall(self._hello)
            return box
        except BaseException:
            _remove(container)
            raise

    def _acquire(self) -> _Container:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the sandbox is closed")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.max_concurrency:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return self._start_container()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, box: _Container, damaged: bool) -> None:
        box.runs += 1
        with self._cond:
            if not self._closed and not damaged and box.runs < self.max_runs:
                self._idle.append(box)
                self._cond.notify()
                return
            closed = self._closed
        if not closed:
            try:
                self._background.submit(self._replace, box)
                return
            except RuntimeError:  # closed between the check and the submit
                pass
        _remove(box)

    def _replace(self, old: _Container) -> None:
        """Swap a used-up container for a fresh one, off the caller's thread."""
        _remove(old)
        try:
            fresh = self._start_container()
        except Exception:
            fresh = None
        with self._cond:
            if fresh is None or self._closed:
                self._count -= 1
            else:
                self._idle.append(fresh)
            self._cond.notify()
        if fresh is not None and self._closed:
            _remove(fresh)

    # ------------------------------------------------------------ one run

    def _call(self, box: _Container, request: bytes, deadline_s: float) -> _Reply:
        """Send one run to the container's agent and wait for its reply until the deadline."""
        reply = _Reply()
        end = time.monotonic() + deadline_s
        stdout, need = bytearray(), None
        sock = box.sock
        sock.settimeout(deadline_s)
        sock.sendall(request)
        while need is None or len(stdout) < need:
            remaining = end - time.monotonic()
            if remaining <= 0:
                reply.timed_out = True
                break
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                reply.timed_out = True
                break
            if not chunk:
                reply.lost = True  # the agent, the container or the daemon connection is gone
                break
            for fd, data in box.reader.feed(chunk):
                if fd == 1:
                    stdout += data
                else:  # the agent's stderr: only its tail matters, for error messages
                    reply.stderr = (reply.stderr + data)[-8192:]
            if need is None and len(stdout) >= 8:
                head_len, body_len = struct.unpack(">II", stdout[:8])
                need = 8 + head_len + body_len
                if body_len > self.max_output_bytes or head_len > 1 << 16:
                    reply.lost = True  # not a reply of our agent
                    break
        if reply.timed_out or reply.lost:
            # The outer guard and the broken channel both end here: removing the container
            # ends every process in it.
            reply.oom_killed = _oom_killed(box.container) if reply.lost else False
            _remove(box)
            return reply
        head_len = struct.unpack(">I", stdout[:4])[0]
        reply.header = json.loads(bytes(stdout[8 : 8 + head_len]))
        reply.body = bytes(memoryview(stdout)[8 + head_len : need])
        return reply

    def _interpret(self, suite: Any, reply: _Reply, box: _Container) -> RunResult:
        if reply.timed_out:
            return _closed_result(
                suite, "timeout", "the run passed its total budget plus slack; container removed"
            )
        if reply.lost:
            if reply.oom_killed:  # the container ran out of memory: the program's doing
                return _closed_result(suite, "memory", "the container ran out of memory")
            detail = reply.stderr.decode(errors="replace").strip()[-300:]
            return _error(
                suite, "the sandbox container stopped during the run" + (f": {detail}" if detail else "")
            )
        header = reply.header
        if header.get("error"):
            return _error(suite, f"agent: {header['error']}")
        if header.get("overflow"):
            return _closed_result(suite, "failed", f"the harness output passed {self.max_output_bytes} bytes")
        if header.get("exit") == CHILD_SETUP_FAILED and not reply.body:
            return _error(suite, "the agent could not set up the run (uid switch or work dir)")
        try:
            raw = json.loads(reply.body)
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            # The agent is fine but the harness died or was tampered with: only the program
            # (same uid as the harness) can do that, so it fails rather than escaping as an error.
            reply.unreadable = True
            how = f"signal {header['signal']}" if header.get("signal") else f"exit code {header.get('exit')}"
            return _closed_result(suite, "failed", f"unreadable harness output ({how})")
        result = suites.grade(suite, raw)
        result.info["backend"] = "docker"
        if header.get("leftovers"):
            result.info["leftovers"] = True
        return result


class _Container:
    """A pool container with its attached agent channel."""

    def __init__(self, container: Any, uid: int, stream: Any) -> None:
        self.container, self.uid, self.runs = container, uid, 0
        self.stream = stream  # keeps the SDK's wrapper (and so the connection) alive
        self.sock = getattr(stream, "_sock", stream)  # the raw socket under it
        self.reader = _FrameReader()

    def close(self) -> None:
        # Closing the SDK's wrapper alone leaves the socket open (the HTTP response under it
        # holds it until garbage collection): one fd lost per replaced container.
        for part in (self.stream, self.sock):
            try:
                part.close()
            except Exception:
                pass


class _Reply:
    """What came back from one run: the agent's header and the harness's raw stdout."""

    def __init__(self) -> None:
        self.header: dict[str, Any] = {}
        self.body = b""
        self.stderr = b""
        self.timed_out = self.lost = self.oom_killed = self.unreadable = False

    @property
    def damaged(self) -> bool:
        header = self.header
        return (
            self.timed_out
            or self.lost
            or self.unreadable
            or bool(header.get("leftovers") or header.get("overflow"))
        )


class _FrameReader:
    """Demultiplexes Docker's attach stream: frames of (fd, size) headers plus payload."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[tuple[int, bytes]]:
        self._buf += chunk
        frames = []
        while len(self._buf) >= 8:
            fd, size = struct.unpack(">BxxxL", self._buf[:8])
            if len(self._buf) < 8 + size:
                break
            frames.append((fd, self._buf[8 : 8 + size]))
            self._buf = self._buf[8 + size :]
        return frames


# ---------------------------------------------------------------- helpers


def _frame(message: dict[str, Any]) -> bytes:
    data = json.dumps(message).encode()
    return struct.pack(">I", len(data)) + data


def _error(suite: Any, reason: str) -> RunResult:
    return _closed_result(suite, "error", reason)


def _closed_result(suite: Any, status: str, reason: str) -> RunResult:
    return RunResult(
        status=status, passed=0, total=len(suite.cases), cases=[], info={"error": reason, "backend": "docker"}
    )


def _oom_killed(container: Any) -> bool:
    """Whether the container stopped because its memory cgroup ran out (waits briefly for it to stop)."""
    for _ in range(20):
        try:
            container.reload()
        except Exception:
            return False
        state = container.attrs.get("State", {})
        if state.get("OOMKilled"):
            return True
        if not state.get("Running"):
            return False
        time.sleep(0.05)
    return False


def _remove_pool(client: Any, pool_id: str, pid: int) -> None:
    if os.getpid() != pid:  # a forked child exiting: these are its parent's containers
        return
    try:
        for c in _labelled(client, f"{POOL_LABEL}={pool_id}"):
            _remove(c)
    except Exception:  # the daemon is gone: the reaper of a later run removes them
        pass


def _remove(container: Any) -> None:
    if isinstance(container, _Container):
        container.close()
        container = container.container
    try:
        container.remove(force=True)
    except Exception:  # already gone, or the daemon is; the reaper catches what is left
        pass


def owner_id(pid: int | None = None) -> str:
    """This process's owner label: boot id, hostname, pid and start time (pids get reused)."""
    pid = os.getpid() if pid is None else pid
    return f"{_boot_id()}:{socket.gethostname()}:{pid}:{_start_time(pid)}"


def owner_alive(owner: str) -> bool | None:
    """Whether the process named by an owner label still runs; None when it is not on this host."""
    try:
        boot, host, pid, start = owner.split(":")
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    if boot != _boot_id():
        return False  # the machine rebooted since: that process is gone
    return _start_time(int(pid)) == start


def _labelled(client: Any, label: str) -> list:
    """Containers carrying `label`. The SDK inspects each listed container, so one removed
    meanwhile (by another pool's close or reaper) raises NotFound: list again."""
    import docker

    for _ in range(5):
        try:
            return client.containers.list(all=True, filters={"label": label})
        except docker.errors.NotFound:
            continue
    return client.containers.list(all=True, filters={"label": label})


def reap_orphans(client: Any) -> int:
    """Remove labelled sandbox containers whose owner process on this host is gone; return how many."""
    removed = 0
    for c in _labelled(client, LABEL):
        if owner_alive(c.labels.get(LABEL, "")) is False:
            _remove(c)
            removed += 1
    return removed


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "dead"
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name
