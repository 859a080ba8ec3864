"""Warm-pool Docker backend: run untrusted programs against test suites in pre-started containers.

Why a pool: `docker run` costs a container create + start per completion (0.2-0.3 s);
`docker exec` into a container that is already running costs a fraction of that.

Each container (from `SANDBOX_IMAGE`, built by `verifiers sandbox build`) is started with:
no network, a read-only root, tmpfs for /sandbox (work dirs) and /tmp, pids / memory
(swap included) / CPU limits, all capabilities dropped, no-new-privileges, log driver
none, and a label naming the owning process. Its only process is an idle root process
that ignores every signal and reaps orphans (so the sandbox uid can neither signal it
nor fill the pid table with zombies). Programs run as an unprivileged uid of their
container: by default a random one in 20000-59999 per container, so the per-uid process
limit (RLIMIT_NPROC, counted across the whole host) of one container's fork bomb does not
starve the programs of other containers; `uid=65534` pins it.

Each run is one `docker exec` as that uid of a small shell wrapper that
1. kills anything that uid left running, makes a fresh work dir and unpacks runner.py
   and job.json into it from the exec's stdin (a tar stream: the root is read-only and
   /sandbox is a tmpfs, so put_archive cannot be used),
2. runs `python3 runner.py job.json` (the harness enforces per-case limits and the total
   budget itself),
3. kills leftover processes, wipes /sandbox, /tmp and /dev/shm, says it is done on
   stderr, and exits 86 when it found leftovers (a damaged container).
The parent reads the result from the exec stream with a byte cap and a deadline (the
suite's budget plus slack); past the deadline or the cap it removes the container, which
ends everything inside it (no client process is ever killed). A container is replaced
after a timeout, a memory error, an infrastructure error, leftovers, or `max_runs` runs.
Expected outputs never enter the container: suite.build_job leaves them out, and
suite.grade compares in this process.

Orphans: every container carries the label `LABEL=<boot id>:<hostname>:<pid>:<start time>`
of the process that made it; `reap_orphans` (run at start and at close) removes the
labelled containers whose owner process on this host is gone.
"""

from __future__ import annotations

import io
import json
import os
import random
import socket
import struct
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sandboxes import suite as suites
from sandboxes.suite import RunResult

SANDBOX_IMAGE = "r1-verifiers/sandbox-python:latest"
LABEL = "r1-verifiers.sandbox"
RUNNER_PATH = Path(__file__).resolve().parent / "runner.py"

EXIT_SETUP_FAILED = 85  # the wrapper could not make the work dir: nothing of the program ran yet
EXIT_DAMAGED = 86  # the program left processes or files behind: replace the container
WRAPPER_DONE = "r1v-wrapper-done"  # the wrapper's last words on stderr: it was not killed

# pid 1 of every container: ignores all signals (SIGCHLD ignored = orphans are reaped by the kernel).
_IDLE = (
    "import signal\n"
    "for s in signal.valid_signals():\n"
    "    try: signal.signal(s, signal.SIG_IGN)\n"
    "    except (OSError, ValueError, RuntimeError): pass\n"
    "while True: signal.pause()\n"
)

# Runs as the sandbox uid; `kill -9 -1` signals every process of that uid but the shell itself.
_WRAPPER = f"""
kill -9 -1 2>/dev/null
d=$(mktemp -d /sandbox/run.XXXXXXXX) && cd "$d" && tar -xf - || exit {EXIT_SETUP_FAILED}
python3 runner.py job.json
rc=$?
cd /
left=0
kill -9 -1 2>/dev/null && left=1
chmod -R u+rwX /sandbox /tmp /dev/shm 2>/dev/null
rm -rf /sandbox/* /sandbox/.[!.]* /tmp/* /tmp/.[!.]* /dev/shm/* /dev/shm/.[!.]* 2>/dev/null
for p in /sandbox/* /sandbox/.[!.]* /tmp/* /tmp/.[!.]* /dev/shm/* /dev/shm/.[!.]*; do
    [ -e "$p" ] && left=1
done
echo {WRAPPER_DONE} >&2
[ "$left" = 1 ] && exit {EXIT_DAMAGED}
exit $rc
"""


class DockerSandbox:
    """A warm pool of sandbox containers; `run` is thread-safe.

    max_concurrency: containers in the pool = runs at once (default: CPU count).
    prewarm:         containers started by the constructor (default max_concurrency).
    memory_mb, cpus, pids_limit, work_mb, tmp_mb: per-container limits.
    max_runs:        a container is replaced after this many runs.
    uid:             the uid programs run as (default: random per container, see above).
    slack_s:         added to the suite's total budget for the outer deadline.
    max_output_bytes: cap on the harness's result read from a run.
    Raises RuntimeError when the daemon is unreachable or the image is missing
    (build it with `verifiers sandbox build`).
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
        max_output_bytes: int = 64 << 20,
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
        self.owner = owner_id()
        self._runner_source = RUNNER_PATH.read_bytes()
        try:
            self.client = docker_client or docker.from_env(max_pool_size=self.max_concurrency + 4)
            self.client.ping()
        except Exception as exc:
            raise RuntimeError(f"no Docker daemon is reachable: {exc}") from None
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            raise RuntimeError(f"sandbox image {image!r} is missing: run `verifiers sandbox build`") from None

        self._cond = threading.Condition()
        self._idle: list[_Container] = []
        self._count = 0  # containers idle + busy + being replaced
        self._closed = False
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="r1v-docker-pool")
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

    # ------------------------------------------------------------ public

    def run(
        self, code: str, tests: dict[str, Any], language: str = "python", *, stop_on_error: bool = False
    ) -> RunResult:
        """Run `code` against the test suite `tests` in a pool container.

        stop_on_error skips the cases after the first crash or timeout (binary scoring).
        A malformed suite or an unknown language raises ValueError (misuse); everything the
        program does ends in a RunResult. Status "error" means the sandbox itself failed.
        """
        suite = suites.validate(tests)
        job = suites.build_job(code, suite, language, stop_on_error=stop_on_error)
        payload = _tar({"runner.py": self._runner_source, "job.json": json.dumps(job).encode()})
        deadline_s = suites.job_wall_limit(job, self.slack_s)
        try:
            box = self._acquire()
        except Exception as exc:
            return _error(suite, f"no sandbox container: {type(exc).__name__}: {exc}")
        damaged = True  # unless the run ends cleanly, the container is replaced
        try:
            out = self._exec(box, payload, deadline_s)
            result = self._interpret(suite, out, box)
            result.info["container"] = box.container.short_id
            damaged = (
                out.killed
                or out.unreadable
                or out.exit_code == EXIT_DAMAGED
                or result.status in ("timeout", "memory", "error")
            )
            return result
        except Exception as exc:  # the daemon or the container failed under us
            return _error(suite, f"sandbox failure: {type(exc).__name__}: {exc}")
        finally:
            self._release(box, damaged)

    def close(self) -> None:
        """Remove this sandbox's containers (also ones still running) and reap orphans. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._idle.clear()
            self._cond.notify_all()
        self._background.shutdown(wait=True)
        for c in self.client.containers.list(all=True, filters={"label": f"{LABEL}={self.owner}"}):
            _remove(c)
        reap_orphans(self.client)

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Best effort for sandboxes that were never closed; the reaper is the real safety net.
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except Exception:
                pass

    # ------------------------------------------------------------ pool

    def _start_container(self) -> _Container:
        from docker.types import LogConfig, Ulimit

        uid = self.uid or random.randrange(20000, 60000)

        container = self.client.containers.run(
            self.image,
            ["python3", "-c", _IDLE],
            detach=True,
            user="0:0",  # pid 1 runs as (capability-less) root so the sandbox uid cannot signal it
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
            security_opt=["no-new-privileges"],
            log_config=LogConfig(type="none"),
            labels={LABEL: self.owner},
            environment={"HOME": "/sandbox", "LANG": "C.UTF-8"},
            hostname="sandbox",
            working_dir="/sandbox",
        )
        return _Container(container, uid)

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
        _remove(box.container)

    def _replace(self, old: _Container) -> None:
        """Swap a used-up container for a fresh one, off the caller's thread."""
        _remove(old.container)
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
            _remove(fresh.container)

    # ------------------------------------------------------------ one run

    def _exec(self, box: _Container, payload: bytes, deadline_s: float) -> _ExecOutput:
        api = self.client.api
        exec_id = api.exec_create(
            box.container.id,
            ["sh", "-c", _WRAPPER],
            stdin=True,
            stdout=True,
            stderr=True,
            user=f"{box.uid}:{box.uid}",
            workdir="/sandbox",
            environment={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/sandbox", "LANG": "C.UTF-8"},
        )["Id"]
        stream = api.exec_start(exec_id, socket=True)
        sock = getattr(stream, "_sock", stream)  # the raw socket under the SDK's wrapper
        out = _ExecOutput()
        end = time.monotonic() + deadline_s
        try:
            sock.settimeout(max(0.1, end - time.monotonic()))
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)  # EOF on the wrapper's stdin ends `tar -x`
            reader = _FrameReader()
            while True:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    out.timed_out = True
                    break
                sock.settimeout(remaining)
                try:
                    chunk = sock.recv(1 << 16)
                except TimeoutError:
                    out.timed_out = True
                    break
                if not chunk:
                    break
                for fd, data in reader.feed(chunk):
                    if fd == 1:
                        out.stdout += data
                    else:  # the wrapper's stderr: only its tail matters
                        out.stderr = (out.stderr + data)[-65536:]
                if len(out.stdout) > self.max_output_bytes:
                    out.overflow = True
                    break
        finally:
            try:
                stream.close()
            except Exception:
                pass
        if out.timed_out or out.overflow:
            # The outer guard: removing the container ends every process in it.
            _remove(box.container)
            out.killed = True
            return out
        out.exit_code = api.exec_inspect(exec_id).get("ExitCode")
        return out

    def _interpret(self, suite: Any, out: _ExecOutput, box: _Container) -> RunResult:
        if out.timed_out:
            return _closed_result(
                suite, "timeout", "the run passed its total budget plus slack; container removed"
            )
        if out.overflow:
            return _closed_result(suite, "failed", f"the harness output passed {self.max_output_bytes} bytes")
        if out.exit_code == EXIT_SETUP_FAILED:
            return _error(
                suite, "could not set up the work dir: " + out.stderr.decode(errors="replace")[-500:]
            )
        try:
            raw = json.loads(out.stdout)
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            out.unreadable = True
            ended = WRAPPER_DONE.encode() in out.stderr[-200:]
            if not ended and not _still_running(box.container):  # removed or died under us
                return _error(
                    suite, f"the sandbox container stopped during the run (exit code {out.exit_code})"
                )
            if not out.stdout and out.exit_code in (126, 127):
                return _error(
                    suite, "the harness could not start: " + out.stderr.decode(errors="replace")[-500:]
                )
            # The container is fine but the harness died or was tampered with: only the program
            # (same uid as the harness) can do that, so it fails rather than escaping as an error.
            return _closed_result(suite, "failed", f"unreadable harness output (exit code {out.exit_code})")
        result = suites.grade(suite, raw)
        result.info["backend"] = "docker"
        if out.exit_code == EXIT_DAMAGED:
            result.info["leftovers"] = True
        return result


class _Container:
    __slots__ = ("container", "uid", "runs")

    def __init__(self, container: Any, uid: int) -> None:
        self.container, self.uid, self.runs = container, uid, 0


class _ExecOutput:
    __slots__ = ("stdout", "stderr", "exit_code", "timed_out", "overflow", "killed", "unreadable")

    def __init__(self) -> None:
        self.stdout = b""
        self.stderr = b""
        self.exit_code: int | None = None
        self.timed_out = self.overflow = self.killed = self.unreadable = False


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


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _error(suite: Any, reason: str) -> RunResult:
    return _closed_result(suite, "error", reason)


def _closed_result(suite: Any, status: str, reason: str) -> RunResult:
    return RunResult(
        status=status, passed=0, total=len(suite.cases), cases=[], info={"error": reason, "backend": "docker"}
    )


def _still_running(container: Any, settle_s: float = 1.0) -> bool:
    """Whether the container runs and keeps running for settle_s (a forced removal takes a moment)."""
    end = time.monotonic() + settle_s
    while True:
        try:
            container.reload()
        except Exception:
            return False
        if container.status != "running":
            return False
        if time.monotonic() >= end:
            return True
        time.sleep(0.1)


def _remove(container: Any) -> None:
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


def reap_orphans(client: Any) -> int:
    """Remove labelled sandbox containers whose owner process on this host is gone; return how many."""
    removed = 0
    for c in client.containers.list(all=True, filters={"label": LABEL}):
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
