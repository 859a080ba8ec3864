"""Local sandbox: Linux namespaces + rlimits, no daemon. The embedded default backend.

Each run starts one sandbox process tree and feeds it runner.py (compiled once, as a
marshalled code object) and the job on stdin:

    setpriv [--reuid 65534 --regid 65534 --clear-groups (when root)] --pdeathsig KILL
      bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --as-pid-1
            --uid 65534 --ro-bind /usr /usr (+ /lib* links) --proc /proc --dev /dev
            --tmpfs /tmp (size-limited, the work dir) --clearenv
        python3 -I -c BOOTSTRAP -

What that gives the program: an unprivileged uid (65534 on the host as well when we are
root), no capabilities, new user/pid/net/mount/ipc/uts/cgroup namespaces (no network but
its own loopback, no view of host processes), a filesystem of read-only /usr plus a
private size-limited /tmp, a scrubbed environment, and per case the runner's rlimits
(address space, CPU, file size, open files, processes) and wall-clock limit. The runner is
PID 1 of the namespace: the program cannot kill it, and when it exits or is killed the
kernel kills everything else in the namespace.

Without bubblewrap the constructor refuses, saying how to install it. isolation="unshare" opts
into a named weaker isolation (util-linux `unshare`: pid/net/mount/ipc/uts namespaces, every
mount read-only, private tmpfs /tmp and /dev/shm, the runner as PID 1; as root each run's
program gets its own uid, so the process limit is per run; otherwise it is root of a user
namespace with every capability dropped). It does not hide the host's filesystem: the program
can read what that uid (or your user) can read; results carry info["isolation_note"].

The runner also puts each program under a seccomp filter (x86_64) that refuses the
syscalls kernel exploits favour (ptrace, process_vm_*, pidfd_getfd, bpf, userfaultfd,
io_uring, keyrings, perf_event_open, namespaces through unshare/setns/clone/clone3, mounts,
modules) and kills 32-bit/x32 syscall entry.

Not protected against (both modes): kernel exploits through the syscalls that remain (this
is a deny list on the host kernel, not a VM), memory across processes (RLIMIT_AS is per
process, so max_processes x memory_mb is the bound, not a cgroup), CPU contention with the
host, and reads of world-readable files under /usr.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sandboxes import suite as suites
from sandboxes.suite import RunResult

RUNNER_PATH = Path(__file__).resolve().parent / "runner.py"
SANDBOX_UID = 65534  # "nobody"
# The runner arrives on stdin as a code object compiled once by the sandbox's interpreter
# (compiling runner.py on every start cost ~12 ms), followed by the job.
# It reads with os.read, exactly: nothing of the job after the runner enters this process
# before the runner asks for it (an assert job's test must arrive after the solution's fork).
BOOTSTRAP = (
    "import marshal, os\n"
    "def r(n):\n"
    "    b = b''\n"
    "    while len(b) < n:\n"
    "        c = os.read(0, n - len(b))\n"
    "        if not c: raise EOFError\n"
    "        b += c\n"
    "    return b\n"
    "exec(marshal.loads(r(int.from_bytes(r(4), 'big'))), {'__name__': '__main__', '__builtins__': __builtins__})\n"
)
ISOLATIONS = ("auto", "bwrap", "unshare")
# The weaker isolation: only when asked for by name (isolation="unshare"), never as a fallback.
WEAK = {"unshare": "unshare (weaker than bwrap: the host filesystem is readable)"}
# unshare as root: each run's program gets its own uid from here, so the process limit
# (counted per uid, host-wide) is per run.
RUN_UID_RANGE = (1 << 20, 1 << 31)
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install "
    "bubblewrap) and allow unprivileged user namespaces, or use the docker backend, or opt into the "
    "weaker isolation by name: isolation='unshare' (the program can read the host's files)"
)


class LocalSandbox:
    """Runs programs against test suites in namespaces on this machine; `run` is thread-safe.

    max_concurrency: runs at once (default: CPU count); more callers wait.
    isolation: "auto" or "bwrap" (bubblewrap; without it the constructor refuses, saying how
    to install it), or "unshare": the named weaker isolation (util-linux unshare; the host
    filesystem stays readable), used only when asked for.
    python: the interpreter inside the sandbox (default /usr/bin/python3, else this one).
    tmp_mb: size of the private /tmp work dir.  slack_s: outer guard beyond the suite budget.
    limits: overrides of suites.DEFAULT_LIMITS (max_processes, file_size_mb, open_files,
    output_limit_bytes, stderr_limit_bytes, total_output_bytes, compile_time_limit_s).
    Raises RuntimeError when no isolation works on this machine, saying why.
    """

    def __init__(
        self,
        max_concurrency: int | None = None,
        isolation: str = "auto",
        python: str | None = None,
        tmp_mb: int = 64,
        slack_s: float = 5.0,
        **limits: Any,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}")
        unknown = set(limits) - set(suites.DEFAULT_LIMITS)
        if unknown:
            raise TypeError(f"unknown LocalSandbox options {sorted(unknown)}")
        self.max_concurrency = max_concurrency or os.cpu_count() or 1
        self.python = python or ("/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable)
        self.tmp_mb, self.slack_s, self.limits = tmp_mb, slack_s, limits
        self.is_root = os.geteuid() == 0
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._closed = False
        self._runner_code = _compile_runner(self.python)
        self.isolation = self._pick(isolation)

    # ------------------------------------------------------------ public

    def run(
        self, code: str, tests: dict[str, Any] | str, language: str = "python", *, stop_on_error: bool = False
    ) -> RunResult:
        """Run `code` against the suite `tests`; stop_on_error skips the cases after the first
        crash or timeout (binary scoring). Raises ValueError for a malformed suite or an
        unsupported language; every problem of the program or the sandbox is a RunResult."""
        if self._closed:
            raise RuntimeError("LocalSandbox is closed")
        suite = suites.validate(tests)
        job = suites.build_job(code, suite, language, stop_on_error=stop_on_error, **self._job_options())
        with self._slots:
            start = time.monotonic()
            result = self._execute(suite, job)
        result.info.update(
            backend="local", isolation=self.isolation, wall_s=round(time.monotonic() - start, 4)
        )
        if self.isolation in WEAK:
            result.info["isolation_note"] = WEAK[self.isolation]
        return result

    def close(self) -> None:
        """Nothing persists between runs; later runs raise."""
        self._closed = True

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _job_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = dict(self.limits)
        if self.isolation == "unshare":  # the runner is (namespace) root: demote the program
            opts["private_mounts"] = {"tmpfs": ["/tmp", "/dev/shm"], "size_mb": self.tmp_mb}
            if self.is_root:
                uid = random.randrange(*RUN_UID_RANGE)  # the process limit counts per uid: one per run
                opts["run_as"] = (uid, uid)
                opts.setdefault("max_processes", 64)
            else:
                opts["drop_caps"] = True
        return opts

    def _execute(self, suite: suites.Suite, job: dict[str, Any]) -> RunResult:
        payload = self._payload(job)
        # The runner's output is bounded: the output it keeps over all cases (stdout and
        # stderr may each fill what is left in the last case), JSON escapes a byte as 6 bytes
        # at most, plus each case's own fields.
        cap = 6 * 2 * job["total_output_bytes"] + len(job["cases"]) * 4096 + (1 << 20)
        try:
            proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_scrubbed_env(),
                cwd="/",
                start_new_session=True,  # the outer guard kills this whole group
            )
        except OSError as exc:
            return suites.error_result(f"could not start the sandbox: {exc}", len(suite.cases))
        deadline = time.monotonic() + suites.job_wall_limit(job, self.slack_s)
        out, err, timed_out, overflow = _communicate(proc, payload, deadline, cap)
        if timed_out:
            return RunResult(
                "timeout", 0, len(suite.cases), [], {"error": "the run passed its total budget plus slack"}
            )
        if overflow:
            return suites.error_result(f"the runner's result passed {cap} bytes", len(suite.cases))
        try:
            raw = json.loads(out)
        except ValueError:
            detail = err.decode("utf-8", "replace")[-500:]
            return suites.error_result(
                f"the sandbox produced no result (exit code {proc.returncode}): {detail}", len(suite.cases)
            )
        return suites.grade(suite, raw)

    def _payload(self, job: dict[str, Any]) -> bytes:
        """What the sandbox reads on stdin: the compiled runner, then the job (test last)."""
        return self._runner_code + suites.job_frames(job)

    def _command(self, argv: list[str] | None = None) -> list[str]:
        argv = argv or [self.python, "-I", "-c", BOOTSTRAP, "-"]
        drop = ["--reuid", str(SANDBOX_UID), "--regid", str(SANDBOX_UID), "--clear-groups"]
        setpriv = [
            "setpriv",
            *(drop if self.is_root and self.isolation == "bwrap" else []),
            "--pdeathsig",
            "KILL",
        ]
        if self.isolation == "bwrap":
            return [*setpriv, *self._bwrap_args(), *argv]
        return [*setpriv, *self._unshare_args(), *argv]

    def _bwrap_args(self) -> list[str]:
        args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
        args += ["--new-session", "--as-pid-1", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        args += ["--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/", name)
            if path.is_symlink():  # merged /usr: recreate the link
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        prefix = _python_prefix(self.python)
        if prefix and not prefix.startswith("/usr/"):
            args += ["--ro-bind", prefix, prefix]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(self.tmp_mb << 20), "--perms", "1777", "--tmpfs", "/tmp"]
        args += ["--chdir", "/tmp", "--clearenv"]
        for key, value in _SANDBOX_ENV.items():
            args += ["--setenv", key, value]
        return args

    def _unshare_args(self) -> list[str]:
        user = [] if self.is_root else ["--user", "--map-root-user"]
        ns = ["unshare", *user, "--pid", "--fork", "--kill-child", "--mount-proc"]
        ns += ["--net", "--ipc", "--uts", "--mount"]
        return [*ns, "env", "-i", *(f"{k}={v}" for k, v in _SANDBOX_ENV.items())]

    def _pick(self, isolation: str) -> str:
        tried = []
        for kind in ("bwrap",) if isolation == "auto" else (isolation,):
            tool = "bwrap" if kind == "bwrap" else "unshare"
            if shutil.which(tool) is None or shutil.which("setpriv") is None:
                tried.append(f"{kind}: {tool} or setpriv not installed")
                continue
            self.isolation = kind
            problem = self._probe()
            if problem is None:
                return kind
            tried.append(f"{kind}: {problem}")
        missing = any("not installed" in t for t in tried)
        hint = INSTALL_HINT if missing else "fix that, or " + INSTALL_HINT.split(", or ", 1)[1]
        raise RuntimeError(f"the local sandbox cannot isolate programs here ({'; '.join(tried)}): {hint}")

    def _probe(self) -> str | None:
        """Run a trivial program through the whole path; None when it passes, else why not."""
        suite = suites.validate(
            {"type": "stdio", "cases": [{"input": "", "output": "ok"}], "time_limit_s": 10}
        )
        result = self._execute(suite, suites.build_job("print('ok')", suite, **self._job_options()))
        if result.status == "passed":
            return None
        return str(result.info.get("error") or f"a trivial program ended with status {result.status}")[-300:]


def _compile_runner(python: str, source: bytes | None = None) -> bytes:
    """runner.py (or `source`) as a length-prefixed marshalled code object of `python`'s own version."""
    script = "import marshal, sys; sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.read(), 'runner.py', 'exec')))"
    try:
        proc = subprocess.run(
            [python, "-I", "-c", script],
            input=RUNNER_PATH.read_bytes() if source is None else source,
            capture_output=True,
            timeout=60,
            env=_scrubbed_env(),
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"the sandbox interpreter {python} does not run: {exc}") from None
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"the sandbox interpreter {python} failed: {proc.stderr.decode()[-300:]}")
    return len(proc.stdout).to_bytes(4, "big") + proc.stdout


_SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}


def _scrubbed_env() -> dict[str, str]:
    # bwrap --clearenv / env -i empty the sandbox's environment; this keeps secrets away
    # from setpriv/bwrap/unshare themselves too.
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def _python_prefix(python: str) -> str | None:
    real = os.path.realpath(python)
    return str(Path(real).parent.parent) if real.startswith("/") else None


def _communicate(proc: subprocess.Popen, payload: bytes, deadline: float, cap: int):
    """Write the job, read stdout up to `cap` bytes and stderr up to 64 KiB, until the process
    exits or the deadline passes; on either limit kill the process group.
    Returns (stdout, stderr, timed_out, overflow)."""
    out, err = bytearray(), bytearray()
    timed_out = overflow = False
    in_fd, out_fd, err_fd = proc.stdin.fileno(), proc.stdout.fileno(), proc.stderr.fileno()
    sel = selectors.DefaultSelector()
    for fd in (in_fd, out_fd, err_fd):
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_WRITE if fd == in_fd else selectors.EVENT_READ)
    view = memoryview(payload)
    try:
        while sel.get_map() and not overflow:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(left):
                if key.fd == in_fd:
                    try:
                        view = view[os.write(in_fd, view[: 1 << 16]) :]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:  # the runner died; its exit shows in the result
                        view = view[:0]
                    if not view:
                        sel.unregister(in_fd)
                        proc.stdin.close()
                    continue
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fd)
                elif key.fd == out_fd:
                    overflow = len(out) + len(chunk) > cap
                    out += chunk
                elif len(err) < (64 << 10):
                    err += chunk
    finally:
        sel.close()
        if timed_out or overflow:
            _kill_group(proc)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            timed_out = True
            proc.wait()
    return bytes(out), bytes(err), timed_out, overflow


def _kill_group(proc: subprocess.Popen) -> None:
    # setpriv exec'd into bwrap/unshare: killing the group kills the namespace's parent,
    # whose death signal (--die-with-parent / --kill-child) kills PID 1 and so the namespace.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
