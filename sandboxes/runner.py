"""The harness that runs inside a sandbox: `python3 runner.py job.json` (or `-` for stdin).

Standard library only, Python 3.8+. It reads a job built by sandboxes/suite.py, runs every
case in a child process with rlimits and a wall-clock limit, and prints exactly one JSON
object on stdout (the raw result graded by the parent). It never sees expected outputs.

Per case the child gets: its own session (process group), rlimits (address space, CPU,
file size, open files, processes, no core), an unprivileged uid when the runner is root
(job "run_as"), no capabilities when asked (job "drop_caps"), no_new_privs, a seccomp
filter refusing syscalls favoured by kernel exploits (x86_64), a scrubbed environment, and
its stdin from a memfd. The runner reads stdout/stderr with byte caps and
kills the child on the limit. After each case it kills everything the case left behind:
as PID 1 of a pid namespace with kill(-1); otherwise, as a child subreaper, every
descendant it finds in /proc. It makes itself non-dumpable so programs running as the same
uid cannot read its memory or /proc entries, and ignores signals it can.

Python programs run in a fork of the runner (no interpreter start per case); C++ is
compiled once with g++ and exec'd per case. Call suites report completion through a
separate pipe carrying a per-run nonce, so exiting early never counts as done. Assert suites
run the test in a process of its own that calls the solution's process through proxies (see
"assert suites: two processes"); only the test's process holds the nonce.

Input: `runner.py job.json`, or `runner.py -` with frames on stdin (a 4-byte length and JSON):
the job without an assert suite's test, then the test (suite.job_frames), so the solution's
process can be forked between the two reads.
"""

from __future__ import annotations

import _json  # the C half of json: the json package imports re and enum, ~9 ms a run
import _signal as signal  # likewise: the signal module imports enum
import os
import resource
import select
import sys
import time

CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
READ_CHUNK = 1 << 16
AUTO_MAX_PROCESSES = 32
DONE_FD = 3  # the fd a Python child writes its completion record to
_IGNORED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def main(argv: list[str]) -> int:
    """`runner.py job.json` (the whole job in a file) or `runner.py -` (frames on stdin: the
    job without its assert test, then the test; see execute)."""
    out = sys.stdout.buffer
    try:
        path = argv[1] if len(argv) > 1 else "-"
        if path == "-":
            job = json_loads(read_frame(0))
            text = _H.encode(execute(job, lambda: json_loads(read_frame(0))))
        else:
            with open(path, "rb") as f:
                job = json_loads(f.read())
            text = _H.encode(execute(job))
    except Exception as exc:  # the parent turns this into status "error"
        text = _H.encode({"version": 1, "error": f"{type(exc).__name__}: {exc}", "cases": []})
    out.write(text.encode("utf-8", "replace"))
    out.flush()
    return 0


def execute(job: dict, read_secret=None) -> dict:
    """Run a job and return the raw result. read_secret: for an assert job that arrived without
    its test, a function returning {"test": ...}; it is called only after the solution's process
    has been forked, so that process never held the test (nor, in memory, any trace of it)."""
    if job.get("private_mounts"):
        _private_mounts(**job["private_mounts"])
    _protect_self()
    # Nothing this process or the test's imports later may come from the work dir.
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p and os.path.isabs(p) and not p.startswith(cwd)]
    early = None
    if job["type"] == "assert" and job["language"] == "python":
        if read_secret is not None and job.get("solution_process", "fork") == "fork":
            early = _fork_solution(job)
        elif job.get("test") is not None:
            job["solution_process"] = "exec"  # the test is already in this process: exec a clean one
    if read_secret is not None:
        job.update(read_secret())
    return run_job(job, early)


def read_frame(fd: int) -> bytes:
    """A 4-byte big-endian length and that many bytes, read from fd with nothing read ahead."""
    n = int.from_bytes(_read_exact(fd, 4), "big")
    return _read_exact(fd, n)


def _read_exact(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError(f"the job ended early ({len(buf)} of {n} bytes)")
        buf += chunk
    return bytes(buf)


def run_job(job: dict, early=None) -> dict:
    result = {"version": 1, "compile": None, "cases": [], "budget_exhausted": False, "escaped_processes": 0}
    result["kept_bytes"] = 0  # output kept so far, against job["total_output_bytes"]
    lang = job["language"]
    if lang == "python":
        compiled, program = _compile_python(job)
    elif lang == "cpp":
        compiled, program = _compile_cpp(job, result)
    else:
        raise ValueError(f"unknown language {lang!r}")
    result["compile"] = compiled
    if not compiled["ok"]:
        if early is not None:
            _end_solution(early)
        return result
    # Work every case's child would repeat is done once here and inherited through fork.
    os.environ.clear()
    os.environ.update(CLEAN_ENV, HOME=os.getcwd(), TMPDIR=os.getcwd())
    if job.get("seccomp", True):
        _prepare_seccomp()

    start = time.monotonic()
    stop = False
    for case in job["cases"]:
        left = job["total_time_s"] - (time.monotonic() - start)
        if stop or left <= 0:
            reason = "stopped after a failed case" if stop else "total time budget exhausted"
            result["budget_exhausted"] = result["budget_exhausted"] or not stop
            result["cases"].append({"status": "skipped", "reason": reason, "time_s": 0.0})
            continue
        limit = min(job["time_limit_s"], left)
        if job["type"] == "assert" and lang == "python":
            got = _run_assert(job, program, early, limit, result)
        else:
            got = _run_case(job, program, case, limit, result)
        if got["status"] == "timeout" and limit < job["time_limit_s"]:
            result["budget_exhausted"] = True
        result["cases"].append(got)
        stop = job.get("stop_on_error", False) and got["status"] != "ok"
    return result


# ---------------------------------------------------------------- compile


def _compile_python(job: dict):
    try:
        code = compile(job["code"], "solution.py", "exec", dont_inherit=True)
        test = None
        if job["type"] == "assert":  # validated by the parent; compiled here for the test process
            setup = compile(job.get("setup") or "", "setup.py", "exec", dont_inherit=True)
            test = (setup, compile(job["test"], "test.py", "exec", dont_inherit=True))
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
        return {"ok": False, "stderr": f"{type(exc).__name__}: {exc}"}, None
    return {"ok": True, "stderr": ""}, (code, test)


def _compile_cpp(job: dict, result: dict):
    with open("solution.cpp", "w", encoding="utf-8") as f:
        f.write(job["code"])
    argv = ["g++", "-O2", "-std=c++17", "-pipe", "-o", "solution", "solution.cpp"]
    limit = job["compile_time_limit_s"]
    limits = dict(
        job,
        time_limit_s=limit,
        memory_mb=max(job["memory_mb"], 2048),
        max_processes=None if job["max_processes"] is None else max(job["max_processes"], 16),
    )
    got = _run_child(limits, lambda: _exec(argv), b"", limit, result, done_pipe=False)
    ok = got["status"] == "ok" and os.path.exists("solution")
    stderr = got["stderr"] or got.get("reason", "")
    if got["status"] == "timeout":
        stderr = f"compilation timed out after {limit} s"
    return {"ok": ok, "stderr": stderr, "time_s": got["time_s"]}, os.path.abspath("solution")


# ---------------------------------------------------------------- one case


def _run_case(job: dict, program, case: dict, limit: float, result: dict) -> dict:
    stdin = case.get("input", "").encode("utf-8")
    if job["language"] == "cpp":
        return _run_child(job, lambda: _exec([program]), stdin, limit, result, done_pipe=False)
    nonce = os.urandom(16).hex()
    got = _run_child(
        job, lambda: _python_child(job, program, case, nonce), stdin, limit, result, done_pipe=True
    )
    record = got.pop("done_record", b"")
    head, _, payload = record.partition(b"\n")
    got["done"] = head == nonce.encode()
    if got["done"] and job["type"] == "call":
        try:
            done = json_loads(payload)
            got["result"], got["result_error"] = done.get("result"), done.get("error")
        except (ValueError, AttributeError):  # more than our record reached the pipe
            got["done"] = False
    return got


def _run_child(job: dict, target, stdin: bytes, limit: float, result: dict, done_pipe: bool) -> dict:
    """Fork, run target() in the child under limits, collect capped output, clean up."""
    in_fd = _memfd(stdin)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    done_r, done_w = os.pipe() if done_pipe else (None, None)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            fds = {0: in_fd, 1: out_w, 2: err_w}
            if done_w is not None:
                fds[DONE_FD] = done_w
            _enter_child(job, fds)
            target()
        except BaseException:  # noqa: B036 - a child must never fall back into the runner
            os.write(2, b"runner: child setup failed\n")
        os._exit(127)

    for fd in (in_fd, out_w, err_w, done_w):
        if fd is not None:
            os.close(fd)
    streams = {out_r: bytearray(), err_r: bytearray()}
    if done_r is not None:
        streams[done_r] = bytearray()
    left = max(0, job["total_output_bytes"] - result["kept_bytes"])
    caps = {
        out_r: min(job["output_limit_bytes"], left),
        err_r: min(job["stderr_limit_bytes"], left),
        done_r: min(job["output_limit_bytes"], left),
    }
    status, wait_status, truncated = _watch(pid, streams, caps, out_r, (err_r,), start + limit)
    elapsed = time.monotonic() - start
    result["kept_bytes"] += sum(len(buf) for buf in streams.values())
    result["escaped_processes"] += _kill_leftovers(pid)
    for fd in streams:
        os.close(fd)
    got = _case_result(status, elapsed, streams[out_r], streams[err_r], truncated, wait_status, limit, job, caps[out_r])
    if done_r is not None:
        got["done_record"] = bytes(streams[done_r])
    return got


def _case_result(status, elapsed, out, err, truncated, wait_status, limit, job, out_cap) -> dict:
    got = {
        "status": status,
        "time_s": round(elapsed, 6),
        "stdout": bytes(out).decode("utf-8", "replace"),
        "stderr": bytes(err).decode("utf-8", "replace"),
        "truncated": truncated,
        "exit_code": None,
        "signal": None,
    }
    if wait_status is not None:
        if os.WIFSIGNALED(wait_status):
            got["signal"] = os.WTERMSIG(wait_status)
        else:
            got["exit_code"] = os.WEXITSTATUS(wait_status)
    if status == "ok":
        got["status"], got["reason"] = _classify_exit(got)
    elif status == "timeout":
        got["reason"] = f"killed after {limit:.3g} s"
    elif status == "output_limit" and out_cap < job["output_limit_bytes"]:
        got["reason"] = f"the run's output exceeded {job['total_output_bytes']} bytes over all cases"
    elif status == "output_limit":
        got["reason"] = f"stdout exceeded {job['output_limit_bytes']} bytes"
    return got


def _watch(pid: int, streams: dict, caps: dict, out_fd: int, err_fds: tuple, deadline: float):
    """Read the child's pipes until it exits, times out or floods stdout.
    Returns (status, wait_status or None, truncated)."""
    poll = select.poll()
    for fd in streams:
        os.set_blocking(fd, False)
        poll.register(fd, select.POLLIN)
    pidfd = _pidfd(pid)  # readable when the child exits; without it, poll every 5 ms
    if pidfd is not None:
        poll.register(pidfd, select.POLLIN)
    status, wait_status, truncated = "ok", None, False
    try:
        while status == "ok":
            exited, wait_status = _reap(pid)
            if exited:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                status = "timeout"
                break
            for fd, _ in poll.poll(1000 * (left if pidfd is not None else min(left, 0.005))):
                if fd == pidfd:
                    continue  # the next _reap sees the exit
                over, eof = _drain(fd, streams[fd], caps[fd], keep_reading=fd in err_fds)
                truncated = truncated or over
                if over and fd == out_fd:
                    status = "output_limit"
                if eof:
                    poll.unregister(fd)
        if status == "ok":  # what the child wrote just before exiting (descendants may hold the pipes)
            for fd in streams:
                truncated = _drain(fd, streams[fd], caps[fd], keep_reading=False)[0] or truncated
    finally:
        if pidfd is not None:
            os.close(pidfd)
    return status, wait_status, truncated


def _drain(fd: int, buf: bytearray, cap: int, keep_reading: bool):
    """Read what fd has now into buf, up to cap bytes. Returns (data beyond the cap was seen,
    end of file). keep_reading: past the cap, read and drop (stderr) instead of stopping."""
    over = False
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return over, False
        if not chunk:
            return over, True
        room = cap - len(buf)
        if len(chunk) > room:
            buf += chunk[: max(room, 0)]
            over = True
            if not keep_reading:
                return over, False
        else:
            buf += chunk


def _reap(pid: int):
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True, None
    return (waited == pid), (status if waited == pid else None)


def _classify_exit(got: dict):
    sig, code, err = got["signal"], got["exit_code"], got["stderr"]
    if sig == signal.SIGXCPU:
        return "timeout", "CPU time limit exceeded"
    if "MemoryError" in err[-2000:] or "std::bad_alloc" in err[-2000:]:
        return "memory", "memory limit exceeded"
    if sig is not None:
        return "runtime_error", f"killed by signal {sig}"
    if code != 0:
        return "runtime_error", f"exit code {code}"
    return "ok", ""


def _kill_leftovers(pid: int) -> int:
    """Kill the case's process group and anything that escaped it; return how many escaped."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
    escaped = 0
    for _ in range(50):
        if os.getpid() == 1:  # init of a pid namespace: everything else belongs to the case
            _reap_all()
            others = [p for p in _pids() if p != 1]
            if others:
                os.kill(-1, signal.SIGKILL)
        else:
            others = _descendants(os.getpid())
            for p in others:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        escaped = max(escaped, len(others))
        _reap_all()
        if not others:
            break
        time.sleep(0.002)
    return escaped


def _reap_all() -> None:
    while True:
        try:
            waited, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if waited == 0:
            return


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for p in _pids():
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(p)
    out, todo = [], list(children.get(root, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


# ---------------------------------------------------------------- inside the child


def _enter_child(job: dict, fds: dict) -> None:
    """In a freshly forked child: its own session, the given fds (target: source) and no
    others, rlimits, the program uid, no capabilities, no_new_privs, the syscall filter."""
    os.setsid()
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the runner
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_DFL)
    parked = {target: os.dup2(source, 200 + target) for target, source in fds.items()}
    for target, source in parked.items():  # via high fds: a source may sit on another's target
        os.dup2(source, target)
    keep = max(fds) + 1
    for fd in [int(fd) for fd in os.listdir("/proc/self/fd")]:  # closerange(keep, 65536) is slow
        if fd >= keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the fd listdir itself used

    mem = job["memory_mb"] << 20
    cpu = int(job["time_limit_s"]) + 1
    limits = [
        (resource.RLIMIT_AS, mem),
        (resource.RLIMIT_DATA, mem),
        (resource.RLIMIT_STACK, min(mem, 256 << 20)),
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, job["file_size_mb"] << 20),
        (resource.RLIMIT_NOFILE, job["open_files"]),
        (resource.RLIMIT_CORE, 0),
    ]
    nproc = job["max_processes"]
    if nproc is None and _private_user_namespace():
        nproc = AUTO_MAX_PROCESSES
    if nproc is not None:
        limits.append((resource.RLIMIT_NPROC, nproc))
    for which, value in limits:
        soft, hard = value if isinstance(value, tuple) else (value, value)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            resource.setrlimit(which, (min(soft, resource.getrlimit(which)[1]),) * 2)

    if job.get("run_as") and os.getuid() == 0:
        uid, gid = job["run_as"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    elif job.get("drop_caps"):
        _drop_capabilities()
    _prctl(38, 1)  # PR_SET_NO_NEW_PRIVS: setuid binaries gain nothing
    if job.get("seccomp", True):
        _deny_syscalls()


def _private_user_namespace() -> bool:
    """False in the initial user namespace (identity uid map), where uids are host-wide."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def _exec(argv: list[str]) -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.execvpe(argv[0], argv, dict(os.environ))


def _python_child(job: dict, program, case: dict, nonce: str) -> None:
    """Run the solution as __main__ in this forked process, then the call (call suites).

    The program shares this interpreter, so everything the verdict depends on (exec, dict,
    the encoder, os.write, os._exit) was bound when the runner was imported: rebinding
    builtins or patching json/os from the program changes nothing.
    """
    code, _ = program
    then = (lambda g: _call(g, job["fn_name"], case)) if job["type"] == "call" else None
    _run_program(code, then, nonce)


def _run_program(code, then, nonce: str | None) -> None:
    """Run `code` as __main__ with fresh stdio on fds 0-2; then `then(globals)` if given, whose
    string result (with the nonce) is the completion record on DONE_FD. Ends the process."""
    import atexit
    import io
    import types

    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), "utf-8", "surrogateescape")
    out = sys.stdout = sys.__stdout__ = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), "utf-8", "backslashreplace"
    )
    err = sys.stderr = sys.__stderr__ = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), "utf-8", "backslashreplace", line_buffering=True
    )
    main = types.ModuleType("__main__")
    main.__file__ = "solution.py"
    sys.modules["__main__"] = main
    sys.argv = ["solution.py"]
    sys.path.insert(0, os.getcwd())
    record = None
    exit_code = 0
    try:
        _H.exec(code, main.__dict__)
        if then is not None:
            record = then(main.__dict__)
    except SystemExit as exc:
        exit_code = _exit_code(exc)
    except BaseException as exc:  # the program's own error: report it like python would
        exit_code = 1
        if isinstance(exc, MemoryError):
            main.__dict__.clear()  # free the program's data so the report itself can allocate
        _print_exception(exc, skip_first=True)
    if record is not None and exit_code == 0 and nonce is not None:
        _write_all(DONE_FD, (nonce + "\n" + record).encode("utf-8", "replace"))
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        atexit._run_exitfuncs()
        # os._exit skips finalisation, which would flush the streams the program replaced
        # (sys.stdout = io.StringIO() and writing to sys.__stdout__ is a fast-output idiom).
        # Like python at exit, a stream the program closed is not flushed.
        for stream in (sys.stdout, sys.stderr, out, err):
            if not stream.closed:
                stream.flush()
    except BaseException:  # noqa: B036 - a failing flush (closed pipe) still ends the child
        exit_code = exit_code or 1
    _H.exit(exit_code)


def _print_exception(exc: BaseException, skip_first: bool = False, only=None) -> None:
    """Print a traceback like python would; only: keep just the frames of these file names."""
    try:
        import traceback

        tb = exc.__traceback__.tb_next if skip_first and exc.__traceback__ else exc.__traceback__
        if only is None:
            traceback.print_exception(type(exc), exc, tb)
        else:
            frames = [f for f in traceback.extract_tb(tb) if f.filename in only]
            lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
            sys.stderr.write("".join(lines + traceback.format_exception_only(type(exc), exc)))
    except BaseException:  # noqa: B036 - still say what it was, without allocating much
        _write_all(2, b"\n" + type(exc).__name__.encode("ascii", "replace") + b"\n")


def _call(g: dict, fn_name: str, case: dict) -> str:
    fn = _H.dict_get(g, fn_name)
    solution = _H.dict_get(g, "Solution")
    if fn is None and _H.isinstance(solution, _H.type):
        fn = _H.getattr(solution(), fn_name, None)
    if not _H.callable(fn):
        return _H.encode({"error": "function " + fn_name + " is not defined"})
    value = fn(*case.get("args", []), **case.get("kwargs", {}))
    try:
        return _H.encode({"result": _H.encode(value)})
    except (TypeError, ValueError) as exc:
        return _H.encode({"error": "return value is not JSON-serialisable: " + _H.str(exc)})


# ---------------------------------------------------------------- assert suites: two processes
#
# The test (trusted, from the dataset) and the solution run in two processes. The solution's
# process is forked before the test ever enters the runner (or, when the runner has held a
# test, started as a fresh interpreter), so it holds no trace of the test. The test's
# process holds the per-run nonce and the completion pipe, is not dumpable (a same-uid
# process without capabilities cannot read its memory, fds or /proc entries; ptrace,
# process_vm_* and pidfd_getfd are refused by the syscall filter anyway), and calls the
# solution through proxies: arguments go over a pipe as JSON, and what comes back is decoded
# into fresh builtin values (see _revive), never an object the solution built. Objects the
# wire cannot carry stay in the solution's process as handles (_Remote).

SOLUTION_FDS = (3, 4)  # in the solution's process: requests in, replies out
TEST_FDS = (4, 5)  # in the test's process: replies in, requests out
_EXEC_BOOT = (
    "import os, marshal\n"
    "def r(n):\n"
    "    b = b''\n"
    "    while len(b) < n:\n"
    "        c = os.read(5, n - len(b))\n"
    "        if not c: os._exit(126)\n"
    "        b += c\n"
    "    return b\n"
    "code = r(int.from_bytes(r(4), 'big')); job = r(int.from_bytes(r(4), 'big')); os.close(5)\n"
    "g = {'__name__': 'r1_runner'}\n"
    "exec(marshal.loads(code), g)\n"
    "g['solution_entry'](job)\n"
)
SELF_CODE = None  # marshalled code of this module, set by a host that runs us without a file


def _public(job: dict) -> dict:
    return {k: v for k, v in job.items() if k not in ("test", "setup")}


def _solution_pipes():
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    ends = {"out": out_r, "err": err_r, "req": req_w, "rep": rep_r}
    child = {0: _memfd(b""), 1: out_w, 2: err_w, SOLUTION_FDS[0]: req_r, SOLUTION_FDS[1]: rep_w}
    return ends, child


def _fork_solution(job: dict) -> dict:
    """The solution's process, forked now, while this runner has not seen the test."""
    ends, child = _solution_pipes()
    pid = os.fork()
    if pid == 0:
        try:
            _enter_child(job, child)
            os.environ.clear()
            os.environ.update(CLEAN_ENV, HOME=os.getcwd(), TMPDIR=os.getcwd())
            _solution_server(job)
        except BaseException:  # noqa: B036 - a child must never fall back into the runner
            os.write(2, b"runner: solution setup failed\n")
        os._exit(127)
    for fd in child.values():
        os.close(fd)
    ends["pid"] = pid
    return ends


def _spawn_solution(job: dict) -> dict:
    """The solution's process as a fresh interpreter (this runner, or its parent, has held tests)."""
    code = SELF_CODE if SELF_CODE is not None else _compile_self()
    ends, child = _solution_pipes()
    boot_r, boot_w = os.pipe()
    child[5] = boot_r
    python = job.get("python") or sys.executable
    pid = os.fork()
    if pid == 0:
        try:
            _enter_child(job, child)
            env = dict(CLEAN_ENV, HOME=os.getcwd(), TMPDIR=os.getcwd())
            os.execve(python, [python, "-I", "-S", "-c", _EXEC_BOOT], env)
        except BaseException:  # noqa: B036
            os.write(2, b"runner: solution setup failed\n")
        os._exit(127)
    for fd in child.values():
        os.close(fd)
    payload = _H.encode(_public(job)).encode("utf-8", "surrogatepass")
    try:
        _write_all(boot_w, len(code).to_bytes(4, "big") + code + len(payload).to_bytes(4, "big") + payload)
    except OSError:
        pass  # it died: the test sees the closed channel
    os.close(boot_w)
    ends["pid"] = pid
    return ends


def _compile_self() -> bytes:
    import marshal

    with open(__file__, "rb") as f:
        return marshal.dumps(compile(f.read(), "runner.py", "exec", dont_inherit=True))


def solution_entry(job_bytes: bytes) -> None:
    """The solution's process after a fresh start (_EXEC_BOOT)."""
    job = json_loads(job_bytes)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    _solution_server(job)


def _end_solution(sol: dict) -> None:
    for key in ("out", "err", "req", "rep"):
        try:
            os.close(sol[key])
        except OSError:
            pass
    try:
        os.killpg(sol["pid"], signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(sol["pid"], signal.SIGKILL)
        os.waitpid(sol["pid"], 0)
    except OSError:
        pass


def _run_assert(job: dict, program, early, limit: float, result: dict) -> dict:
    """One assert case: the solution's process serving calls, the test's process making them."""
    _, compiled_test = program
    start = time.monotonic()
    sol = early if early is not None else _spawn_solution(job)
    nonce = os.urandom(16).hex()
    t_err_r, t_err_w = os.pipe()
    done_r, done_w = os.pipe()
    fds = {0: _memfd(b""), 1: t_err_w, 2: t_err_w, DONE_FD: done_w, TEST_FDS[0]: sol["rep"], TEST_FDS[1]: sol["req"]}
    pid = os.fork()
    if pid == 0:
        try:
            _enter_child(job, fds)
            _test_main(job, compiled_test, nonce)
        except BaseException:  # noqa: B036
            os.write(2, b"runner: test setup failed\n")
        os._exit(127)
    for fd in (fds[0], t_err_w, done_w):
        os.close(fd)
    out_r, err_r = sol["out"], sol["err"]
    streams = {out_r: bytearray(), err_r: bytearray(), t_err_r: bytearray(), done_r: bytearray()}
    left = max(0, job["total_output_bytes"] - result["kept_bytes"])
    caps = {
        out_r: min(job["output_limit_bytes"], left),
        err_r: min(job["stderr_limit_bytes"], left),
        t_err_r: min(job["stderr_limit_bytes"], left),
        done_r: min(1 << 16, left),
    }
    status, wait_status, truncated = _watch(pid, streams, caps, out_r, (err_r, t_err_r), start + limit)
    elapsed = time.monotonic() - start
    sol_status = _reap(sol["pid"])[1]
    _end_solution(dict(sol, out=-1, err=-1))
    result["kept_bytes"] += sum(len(buf) for buf in streams.values())
    result["escaped_processes"] += _kill_leftovers(pid)
    for fd in streams:
        os.close(fd)
    stderr = bytes(streams[err_r]) + bytes(streams[t_err_r])
    got = _case_result(status, elapsed, streams[out_r], stderr, truncated, wait_status, limit, job, caps[out_r])
    if got["status"] == "runtime_error" and sol_status is not None and os.WIFSIGNALED(sol_status):
        if os.WTERMSIG(sol_status) == signal.SIGXCPU:
            got["status"], got["reason"] = "timeout", "CPU time limit exceeded"
    head, _, payload = bytes(streams[done_r]).partition(b"\n")
    got["done"] = head == nonce.encode() and got["status"] == "ok"
    if head == nonce.encode() and payload:
        try:
            got["unsupported"] = _H.str(json_loads(payload)["unsupported"])
        except (ValueError, KeyError, TypeError):
            got["done"] = False
        got["done"] = False
    return got


def _solution_server(job: dict) -> None:
    """In the solution's process: wait for the test to start, run the program as __main__, then
    answer the test's requests until it closes the channel."""
    rfd, wfd = SOLUTION_FDS
    try:
        first = _receive(rfd, 1 << 10)
    except (OSError, ValueError):
        first = None
    if first is None:  # the test never started
        _H.exit(0)
    try:
        code = compile(job["code"], "solution.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        _H.exit(1)  # the runner reports the compile error
    _run_program(code, lambda g: _serve(g, rfd, wfd, job["total_output_bytes"]), None)


def _serve(g: dict, rfd: int, wfd: int, cap: int) -> None:
    import types

    handles: list = []
    manifest = []
    for name, value in list(g.items()):
        if not isinstance(name, str) or name.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            manifest.append([name, "m", str(getattr(value, "__name__", ""))])
        elif callable(value):
            manifest.append([name, "f", ""])
    _send(wfd, _H.encode({"r": manifest}))
    while True:
        try:
            msg = _receive(rfd, cap)
        except (OSError, ValueError):
            return
        if msg is None:
            return
        try:
            reply = _answer(g, handles, msg)
        except Exception as exc:  # the program's exception: the test may expect it
            try:
                text = str(exc)[:1000]
            except Exception:
                text = ""
            reply = _H.encode({"e": [type(exc).__name__, text]})
        _send(wfd, reply)


def _answer(g: dict, handles: list, msg: dict) -> str:
    op = msg["op"]
    if op == "call":
        target = _unwire(msg["f"], g, handles)
        args = [_unwire(a, g, handles) for a in msg["a"]]
        kwargs = {k: _unwire(v, g, handles) for k, v in msg["k"]}
        value = target(*args, **kwargs)
        mutable = (list, dict, set, bytearray)
        changed = [[i, wire(a, handles)] for i, a in enumerate(args) if type(a) in mutable]
        return '{"r": ' + wire(value, handles) + ', "m": [' + ", ".join(
            "[" + str(i) + ", " + w + "]" for i, w in changed
        ) + "]}"
    obj = handles[msg["o"]]
    if op == "attr":
        return '{"r": ' + wire(getattr(obj, msg["n"]), handles) + "}"
    if op == "bool":
        return '{"r": ' + ("true" if obj else "false") + "}"
    if op == "len":
        return '{"r": ' + int.__repr__(int(len(obj))) + "}"
    if op == "list":
        return '{"r": ' + wire(list(obj), handles) + "}"
    raise ValueError("unknown request " + repr(op))


def _unwire(x, g: dict, handles: list):
    """In the solution's process: a wire value back into an object (handles resolved)."""
    if type(x) is list:
        return [_unwire(i, g, handles) for i in x]
    if type(x) is not dict:
        return x
    tag, v = x.get("t"), x.get("v")
    if tag == "ref":
        return handles[v]
    if tag == "name":
        return g[v]
    return _revive_tagged(tag, v, lambda i: _unwire(i, g, handles), None)


def _test_main(job: dict, compiled, nonce: str) -> None:
    """In the test's process: run the setup and the test against proxies of the solution's
    functions; write the completion record only if nothing went wrong on the channel."""
    import builtins

    setup, test = compiled
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p and os.path.isabs(p) and not p.startswith(cwd)]
    os.chdir("/")
    chan = _Channel(TEST_FDS[0], TEST_FDS[1], job["total_output_bytes"])
    record, exit_code = None, 0
    try:
        manifest = chan.start()
        g = {"__name__": "__main__", "__builtins__": builtins}
        _H.exec(setup, g)
        entry = job.get("entry_point")
        _install(g, manifest, entry, chan)
        if entry is not None and entry not in [name for name, kind, _ in manifest if kind == "f"]:
            raise NameError("entry point " + entry + " is not defined")
        _H.exec(test, g)
        check = g.get("check")
        if entry is not None and type(check) is type(_install):  # a function the test defined
            check(g[entry])
        record = ""
    except SystemExit as exc:
        exit_code = _exit_code(exc) or 1  # a test that exits did not reach its end
    except BaseException as exc:  # noqa: B036 - a failed assert, or the solution's process gone
        exit_code = 1
        _print_exception(exc, only=("test.py", "setup.py"))
    if chan.unsupported:
        record = _H.encode({"unsupported": chan.unsupported})
    elif chan.broken:
        record = None
    if record is not None:
        _write_all(DONE_FD, (nonce + "\n" + record).encode("utf-8", "replace"))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: B036
        pass
    _H.exit(exit_code if record is None or record == "" else 0)


def _install(g: dict, manifest: list, entry, chan) -> None:
    """Put the solution's names the test may use into the test's globals: functions and classes
    as proxies, modules as this process's own import of the same module. Names the setup
    defined, builtins and the standard library's module names never come from the solution
    (but the entry point always does)."""
    import builtins

    stdlib = getattr(sys, "stdlib_module_names", ())
    for name, kind, module in manifest:
        if name == entry and kind == "f":
            g[name] = chan.remote(name)
            continue
        if name in g or hasattr(builtins, name):
            continue
        if kind == "m" or name in stdlib:
            top = module if kind == "m" else name
            if top.split(".")[0] in stdlib:
                try:
                    g[name] = __import__(top, fromlist=["_"] if "." in top else [])
                except Exception:
                    pass
            continue
        if kind == "f":
            g[name] = chan.remote(name)


class _SolutionGone(BaseException):
    """The solution's process died or broke the protocol: the test cannot pass."""


class _Unsupported(BaseException):
    """The test handed the solution a value the wire cannot carry (the suite's limit)."""


class _SolutionError(Exception):
    """An exception of a class the solution defined, raised by a call into the solution."""


class _Channel:
    """The test's side of the pipe pair to the solution's process."""

    def __init__(self, rfd: int, wfd: int, cap: int) -> None:
        import _thread

        self.rfd, self.wfd, self.cap = rfd, wfd, cap
        self.lock = _thread.allocate_lock()  # one request in flight: a test may call from threads
        self.broken = False
        self.unsupported = ""
        self.remotes: dict = {}

    def start(self) -> list:
        reply = self._ask('{"op": "start"}')
        manifest = reply.get("r")
        ok = _H.type(manifest) is list and all(
            _H.type(e) is list and len(e) == 3 and all(_H.type(x) is str for x in e) for e in manifest
        )
        if not ok:
            self._break("the solution's process sent a malformed list of names")
        return manifest

    def remote(self, key):
        if key not in self.remotes:
            self.remotes[key] = _Remote(self, key)
        return self.remotes[key]

    def call(self, key, args: tuple, kwargs: dict):
        try:
            text = (
                '{"op": "call", "f": ' + self._wire_key(key) + ', "a": ' + wire(list(args)) + ', "k": ['
                + ", ".join("[" + _json.encode_basestring(k) + ", " + wire(v) + "]" for k, v in kwargs.items())
                + "]}"
            )
        except _Unsupported as exc:
            self.unsupported = self.unsupported or _H.str(exc)
            raise
        reply = self._ask(text)
        value = self._value(reply)
        changed = reply.get("m", [])
        if _H.type(changed) is list:
            for item in changed:
                if _H.type(item) is list and len(item) == 2 and _H.type(item[0]) is int and 0 <= item[0] < len(args):
                    _write_back(args[item[0]], self._revive(item[1]))
        return value

    def ask_ref(self, op: str, key, name: str = ""):
        if _H.type(key) is not int:
            raise TypeError("a function of the solution has no " + op)
        extra = ', "n": ' + _json.encode_basestring(name) if op == "attr" else ""
        value = self._value(self._ask('{"op": "' + op + '", "o": ' + int.__repr__(key) + extra + "}"))
        return value

    def _wire_key(self, key) -> str:
        if _H.type(key) is int:
            return '{"t": "ref", "v": ' + int.__repr__(key) + "}"
        return '{"t": "name", "v": ' + _json.encode_basestring(key) + "}"

    def _value(self, reply: dict):
        if "e" in reply:
            err = reply["e"]
            if _H.type(err) is not list or len(err) != 2 or not all(_H.type(x) is str for x in err):
                self._break("malformed exception from the solution's process")
            import builtins

            cls = getattr(builtins, err[0], None)
            if not (_H.type(cls) is type and issubclass(cls, Exception)):
                raise _SolutionError(err[0] + ": " + err[1])
            raise cls(err[1])
        if "r" not in reply:
            self._break("a reply without a value")
        return self._revive(reply["r"])

    def _revive(self, x):
        try:
            return _revive(x, self)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError, ArithmeticError) as exc:
            self._break("the solution's process sent an undecodable value (" + type(exc).__name__ + ")")

    def _ask(self, text: str) -> dict:
        if self.broken:
            raise _SolutionGone("the solution's process is gone")
        try:
            with self.lock:
                _send(self.wfd, text)
                reply = _receive(self.rfd, self.cap)
        except (OSError, ValueError, RecursionError) as exc:
            self._break("the channel to the solution's process failed: " + type(exc).__name__)
        if reply is None:
            self._break("the solution's process exited")
        if _H.type(reply) is not dict:
            self._break("a malformed reply")
        return reply

    def _break(self, why: str):
        self.broken = True
        raise _SolutionGone(why)


class _Remote:
    """A function, class or object of the solution, seen from the test: calls, attribute
    reads, truth value, len and iteration go to the solution's process and come back as fresh
    values; == and hash are identity."""

    __slots__ = ("_chan", "_key")

    def __init__(self, chan: _Channel, key) -> None:
        object.__setattr__(self, "_chan", chan)
        object.__setattr__(self, "_key", key)

    def __call__(self, *args, **kwargs):
        return self._chan.call(self._key, args, kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._chan.ask_ref("attr", self._key, name)

    def __bool__(self) -> bool:
        value = self._chan.ask_ref("bool", self._key)
        return value is True

    def __len__(self) -> int:
        value = self._chan.ask_ref("len", self._key)
        if _H.type(value) is not int:
            raise TypeError("len() of a solution object")
        return value

    def __iter__(self):
        value = self._chan.ask_ref("list", self._key)
        if _H.type(value) is not list:
            raise TypeError("iteration over a solution object")
        return iter(value)

    def __repr__(self) -> str:
        return "<solution object " + _H.str(self._key) + ">"


def _write_back(arg, new) -> None:
    """Apply the solution's in-place change of a list/dict/set/bytearray argument to the test's own."""
    t = _H.type(arg)
    if t is not _H.type(new):
        return
    if t is list or t is bytearray:
        arg[:] = new
    elif t is dict or t is set:
        arg.clear()
        arg.update(new)


def _send(fd: int, text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    _write_all(fd, len(data).to_bytes(4, "big") + data)


def _receive(fd: int, cap: int):
    """One frame as a JSON value; None at a clean end of the channel."""
    head = os.read(fd, 4)
    if not head:
        return None
    while len(head) < 4:
        more = os.read(fd, 4 - len(head))
        if not more:
            raise ValueError("truncated frame")
        head += more
    n = int.from_bytes(head, "big")
    if n > cap:
        raise ValueError("frame too large")
    data = _read_exact(fd, n)
    return json_loads(data.decode("utf-8", "surrogatepass"))


# The wire: JSON where null, booleans, numbers, strings and arrays (lists) are themselves and
# everything else is {"t": tag, "v": payload}. Refs name objects that stay in the solution.
_TAGGED = ("tuple", "dict", "set", "frozenset", "bytes", "bytearray", "complex", "int", "Fraction",
           "Decimal", "Counter", "OrderedDict", "deque", "range")  # fmt: skip
_LIBRARY = {
    ("fractions", "Fraction"): "Fraction",
    ("decimal", "Decimal"): "Decimal",
    ("_decimal", "Decimal"): "Decimal",
    ("_pydecimal", "Decimal"): "Decimal",
    ("collections", "Counter"): "Counter",
    ("collections", "OrderedDict"): "OrderedDict",
    ("collections", "deque"): "deque",
    ("collections", "defaultdict"): "dict",
}
_MAX_DEPTH = 200


def wire(v, handles=None, depth: int = 0) -> str:
    """Encode a value for the wire. handles: the solution's side keeps what cannot cross and
    sends a ref; on the test's side (None) such a value raises _Unsupported."""
    t = _H.type(v)
    if depth > _MAX_DEPTH:
        raise _Unsupported("a value nested deeper than " + _H.str(_MAX_DEPTH))
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is int:
        try:
            return int.__repr__(v)
        except ValueError:  # past the int-to-str digit limit
            return '{"t": "int", "v": "' + format(v, "x") + '"}'
    if t is float:
        return _H.encode(v)
    if t is str:
        return _json.encode_basestring(v)
    if t is _Remote:
        return '{"t": "' + ("ref" if _H.type(v._key) is int else "name") + '", "v": ' + (
            int.__repr__(v._key) if _H.type(v._key) is int else _json.encode_basestring(v._key)
        ) + "}"
    d = depth + 1
    if t is list:
        return "[" + ", ".join([wire(x, handles, d) for x in v]) + "]"
    tag = _LIBRARY.get((getattr(t, "__module__", ""), getattr(t, "__qualname__", "")))
    if tag is None:
        for base in (bool, int, float, str, list, tuple, dict, set, frozenset, bytes, bytearray, complex, range):
            if t is base or (handles is not None and isinstance(v, base)):
                tag = base.__name__
                break
    if tag == "bool":
        return "true" if v else "false"
    if tag in ("int", "float", "str", "list"):
        return wire({"int": int, "float": float, "str": str, "list": list}[tag](v), handles, depth)
    if tag in ("tuple", "set", "frozenset", "deque"):
        payload = "[" + ", ".join([wire(x, handles, d) for x in v]) + "]"
    elif tag in ("dict", "Counter", "OrderedDict"):
        payload = "[" + ", ".join(["[" + wire(k, handles, d) + ", " + wire(x, handles, d) + "]" for k, x in v.items()]) + "]"
    elif tag in ("bytes", "bytearray"):
        payload = '"' + bytes(v).hex() + '"'
    elif tag == "complex":
        payload = "[" + wire(float(v.real)) + ", " + wire(float(v.imag)) + "]"
    elif tag == "Fraction":
        payload = "[" + wire(int(v.numerator)) + ", " + wire(int(v.denominator)) + "]"
    elif tag == "Decimal":
        payload = _json.encode_basestring(str(v))
    elif tag == "range":
        payload = "[" + wire(v.start) + ", " + wire(v.stop) + ", " + wire(v.step) + "]"
    elif handles is not None:
        handles.append(v)
        return '{"t": "ref", "v": ' + int.__repr__(len(handles) - 1) + ', "n": ' + _json.encode_basestring(t.__name__) + "}"
    else:
        raise _Unsupported(
            "the test passes a " + _H.str(t.__name__) + " to the solution; assert suites carry only plain "
            "values (None, bool, int, float, complex, str, bytes, list, tuple, dict, set, Fraction, Decimal, "
            "Counter, OrderedDict, deque, range) and the solution's own objects between test and solution"
        )
    return '{"t": "' + tag + '", "v": ' + payload + "}"


def _revive(x, chan, depth: int = 0):
    """In the test's process: a decoded wire value into fresh builtin objects (the JSON scanner
    of this process made every str, int, float, list and dict here; nothing came from the solution)."""
    t = _H.type(x)
    if x is None or t is bool or t is int or t is float or t is str:
        return x
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deep")
    if t is list:
        return [_revive(i, chan, depth + 1) for i in x]
    if t is not dict:
        raise TypeError("not a wire value")
    tag, v = x["t"], x["v"]
    if tag == "ref":
        if _H.type(v) is not int or v < 0:
            raise ValueError("bad ref")
        return chan.remote(v)
    if tag not in _TAGGED:
        raise ValueError("unknown tag")
    return _revive_tagged(tag, v, lambda i: _revive(i, chan, depth + 1), True)


def _revive_tagged(tag: str, v, inner, strict):
    """Build the value of a tagged wire object; inner revives nested values. strict: check
    every payload's shape (the test's side)."""
    t = _H.type(v)

    def need(cond):
        if strict and not cond:
            raise ValueError("malformed " + tag)

    if tag in ("tuple", "set", "frozenset", "deque", "dict", "Counter", "OrderedDict", "complex", "Fraction", "range"):
        need(t is list)
    if tag == "tuple":
        return tuple(inner(i) for i in v)
    if tag in ("set", "frozenset"):
        items = [inner(i) for i in v]
        return set(items) if tag == "set" else frozenset(items)
    if tag in ("dict", "Counter", "OrderedDict"):
        pairs = []
        for p in v:
            need(_H.type(p) is list and len(p) == 2)
            pairs.append((inner(p[0]), inner(p[1])))
        if tag == "dict":
            return dict(pairs)
        import collections

        return collections.Counter(dict(pairs)) if tag == "Counter" else collections.OrderedDict(pairs)
    if tag == "deque":
        import collections

        return collections.deque(inner(i) for i in v)
    if tag in ("bytes", "bytearray"):
        need(t is str)
        data = bytes.fromhex(v)
        return data if tag == "bytes" else bytearray(data)
    if tag == "int":
        need(t is str)
        return int(v, 16)
    if tag == "complex":
        need(len(v) == 2 and all(_H.type(i) in (int, float) for i in v))
        return complex(v[0], v[1])
    if tag == "Fraction":
        need(len(v) == 2 and all(_H.type(i) is int for i in v))
        import fractions

        return fractions.Fraction(v[0], v[1])
    if tag == "Decimal":
        need(t is str)
        import decimal

        return decimal.Decimal(v)
    if tag == "range":
        need(len(v) == 3 and all(_H.type(i) is int for i in v))
        return range(v[0], v[1], v[2])
    raise ValueError("unknown tag " + repr(tag))


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if _H.type(exc.code) is int:
        return exc.code & 0xFF
    _write_all(2, (_H.str(exc.code) + "\n").encode("utf-8", "replace"))
    return 1


def _write_all(fd: int, data: bytes, _write=os.write, _view=memoryview) -> None:
    view = _view(data)
    while view:
        view = view[_write(fd, view) :]


# ---------------------------------------------------------------- JSON


def _json_encoder():
    """A JSON encoder for plain values only (exact builtin types: no subclasses, whose
    serialisation the program could control), built from functions the program cannot patch."""
    quote = _json.encode_basestring
    _type, _repr_int, _repr_float, _join, _str = type, int.__repr__, float.__repr__, ", ".join, str
    inf = float("inf")

    def encode(v) -> str:
        t = _type(v)
        if v is None:
            return "null"
        if t is bool:
            return "true" if v else "false"
        if t is int:
            return _repr_int(v)
        if t is float:
            if v != v:
                return "NaN"
            return "Infinity" if v == inf else "-Infinity" if v == -inf else _repr_float(v)
        if t is str:
            return quote(v)
        if t is list or t is tuple:
            return "[" + _join([encode(x) for x in v]) + "]"
        if t is dict:
            items = []
            for k, x in v.items():
                if _type(k) is not str:
                    raise TypeError("dict keys must be str, got " + _type(k).__name__)
                items.append(quote(k) + ": " + encode(x))
            return "{" + _join(items) + "}"
        raise TypeError("cannot encode a " + t.__name__)

    return encode


class _ScanContext:
    """What _json.make_scanner reads from json.JSONDecoder, with the defaults of json.loads."""

    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = staticmethod(float)  # NaN, Infinity, -Infinity


_scan = _json.make_scanner(_ScanContext())


def json_loads(data: bytes):
    """json.loads for the JSON our own side wrote (no surrounding whitespace)."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    if end != len(text):
        raise ValueError("extra data after the JSON value")
    return value


class _H:
    """Builtins and helpers bound at import, before any program runs in a fork of us."""

    exec, dict, type, str, isinstance, getattr, callable = (
        exec,
        dict,
        type,
        str,
        isinstance,
        getattr,
        callable,
    )
    dict_get = dict.get
    exit = os._exit
    settrace, setprofile = staticmethod(sys.settrace), staticmethod(sys.setprofile)
    encode = staticmethod(_json_encoder())


# ---------------------------------------------------------------- OS helpers


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("stdin", 0) if hasattr(os, "memfd_create") else _tmpfile()
    _write_all(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _tmpfile() -> int:
    import tempfile

    fd, path = tempfile.mkstemp()
    os.unlink(path)
    return fd


def _pidfd(pid: int):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


_libc = None


def _prctl(option: int, arg: int) -> None:
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(option, arg, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _drop_capabilities() -> None:
    """Lose every capability for good (root inside a user namespace without other uids)."""
    import ctypes

    _prctl(28, 0x2F)  # PR_SET_SECUREBITS: NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED (+ locks)
    for cap in range(64):
        _prctl(24, cap)  # PR_CAPBSET_DROP
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()
    if _libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _private_mounts(tmpfs: list, size_mb: int) -> None:
    """For a runner that owns its mount namespace (the unshare backend): make every mount
    read-only, mount fresh size-limited tmpfs dirs (the first is the work dir) and cd there."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint64 * 4)(1, 0, 0, 0)  # struct mount_attr: attr_set = MOUNT_ATTR_RDONLY
    if libc.syscall(442, -100, b"/", 0x8000, attr, 32) != 0:  # mount_setattr(AT_FDCWD, "/", AT_RECURSIVE)
        raise OSError(ctypes.get_errno(), "mount_setattr: cannot make / read-only")
    options = f"size={size_mb}m,mode=1777".encode()
    for path in tmpfs:
        if libc.mount(b"r1-sandbox", path.encode(), b"tmpfs", 2 | 4, options) != 0:  # MS_NOSUID | MS_NODEV
            raise OSError(ctypes.get_errno(), f"cannot mount a tmpfs on {path}")
    os.chdir(tmpfs[0])


# x86_64 syscalls no test program needs and kernel exploits like: ptrace, process_vm_*,
# bpf, perf_event_open, userfaultfd, keyrings, io_uring, namespaces, mounts, modules, kexec,
# handles, clock setting, swap, reboot, syslog, ioperm/iopl, fanotify, quotactl, acct, and
# kcmp, pidfd_getfd and process_madvise (reaching into another process, such as the test's).
_DENIED_X86_64 = (
    101, 310, 311, 321, 298, 323, 248, 249, 250, 425, 426, 427, 272, 308,
    165, 166, 155, 428, 429, 430, 431, 432, 442, 175, 176, 313, 246, 320,
    303, 304, 159, 164, 227, 167, 168, 169, 103, 172, 173, 300, 179, 163,
    312, 438, 440,
)  # fmt: skip
_CLONE, _CLONE3 = 56, 435
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME: a new
# namespace through clone is refused like unshare; clone3 (whose flags sit in memory the
# filter cannot read) answers ENOSYS, so libc falls back to clone.
_CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80


def _seccomp_program() -> bytes:
    """The BPF program: the syscalls above fail with EPERM, clone with a namespace flag too,
    clone3 with ENOSYS; 32-bit and x32 entry points (which number syscalls differently) kill
    the process."""
    import struct

    eperm, enosys, kill, allow = 0x00050001, 0x00050026, 0x80000000, 0x7FFF0000  # SECCOMP_RET_ERRNO | EPERM, ...
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, ..|JGE|K, ..|JSET|K, BPF_RET|K
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, 0xC000003E), (ret, 0, 0, kill)]  # arch must be AUDIT_ARCH_X86_64
    prog += [(ld, 0, 0, 0), (jge, 0, 1, 0x40000000), (ret, 0, 0, kill)]  # no x32 ABI
    prog += [(jeq, 0, 1, _CLONE3), (ret, 0, 0, enosys)]
    # clone: look at the low word of args[0] (offset 16 of struct seccomp_data): the flags.
    prog += [(jeq, 0, 4, _CLONE), (ld, 0, 0, 16), (jset, 0, 1, _CLONE_NAMESPACES), (ret, 0, 0, eperm)]
    prog += [(ret, 0, 0, allow)]
    for nr in _DENIED_X86_64:
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, eperm)]
    prog.append((ret, 0, 0, allow))
    return b"".join(struct.pack("<HBBI", *insn) for insn in prog)


_seccomp_filter = None  # (program buffer, sock_fprog), built once per runner before the cases fork


def _prepare_seccomp() -> None:
    """Build the filter in the runner, so each case's child only installs it."""
    global _seccomp_filter
    if _seccomp_filter is not None or os.uname().machine != "x86_64":
        return
    import ctypes

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    program = _seccomp_program()
    raw = ctypes.create_string_buffer(program, len(program))
    _seccomp_filter = (raw, SockFprog(len(program) // 8, ctypes.cast(raw, ctypes.c_void_p)))


def _deny_syscalls() -> None:
    """Install the seccomp filter on this process (x86_64 only; elsewhere a no-op)."""
    if os.uname().machine != "x86_64":
        return
    import ctypes

    _prepare_seccomp()
    if _libc.prctl(22, 2, ctypes.byref(_seccomp_filter[1]), 0, 0) != 0:  # PR_SET_SECCOMP, MODE_FILTER
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")


def _protect_self() -> None:
    _prctl(4, 0)  # PR_SET_DUMPABLE 0: same-uid programs cannot ptrace us or read /proc/<us>/*
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of a case are re-parented to us
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
