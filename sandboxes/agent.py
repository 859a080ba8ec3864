"""The agent inside every docker sandbox container: PID 1, root without capabilities but
SETUID/SETGID, standard library only (it runs on the sandbox image's python3).

The docker backend starts a container as `python3 -c BOOT`, which reads this file's source
from stdin and runs it as __main__. The protocol on stdin is frames of a 4-byte big-endian
length and a payload: this source, then {"runner": runner.py's source, "output_cap": n} as
JSON, then {"job": job JSON, "uid": n} per run. Each run is answered on stdout with 8 bytes
(header length, body length), a JSON header {"exit", "signal", "overflow", "leftovers"} (or
{"error"}) and the harness's raw result as body.

Per run a child drops to the program uid, makes a fresh work dir and runs runner.execute on
the job held in memory: the job is never a file the program could read. That child is forked
by a zygote, a fork of the agent made before the first job: the agent reads every run's
result, and a fork of it would carry earlier results (an earlier completion's right answer)
in its heap for the next program to find; the zygote never sees a result (the write end of
each run's output pipe reaches it over a Unix socket). An assert job's solution process is a fresh interpreter (the agent has held earlier
runs' tests in its memory, so no fork of it may run a solution). After the run a cleaner,
as the program uid, kills what that uid left, wipes /sandbox, /tmp, /dev/shm and
/dev/mqueue, and checks that they are empty and still owned and permissioned as at the
start and that no SysV IPC object is left; anything else marks the container damaged, and
the backend replaces it, so a hostile run never changes the next run's outcome.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import struct
import sys
import time
import types

SETUP_FAILED = 125  # the child could not drop privileges or make the work dir
SANDBOX = "/sandbox"
SHARED = (SANDBOX, "/tmp", "/dev/shm", "/dev/mqueue")  # the areas a run can write to
SYSV_IPC = ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem")


def read_exact(n: int, fd: int = 0) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            os._exit(0)  # the channel closed: nobody will send work again
        buf += chunk
    return bytes(buf)


def receive_raw(fd: int = 0) -> bytes:
    return read_exact(struct.unpack(">I", read_exact(4, fd))[0], fd)


def receive(fd: int = 0):
    return json.loads(receive_raw(fd))


def write_all(data: bytes, fd: int = 1) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def send(header: dict, body: bytes) -> None:
    head = json.dumps(header).encode()
    write_all(struct.pack(">II", len(head), len(body)) + head)
    write_all(body)


def become(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def ignore_signals() -> None:
    for s in signal.valid_signals():
        if s not in (signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(s, signal.SIG_IGN)
            except (OSError, ValueError, RuntimeError):
                pass


def child(runner: types.ModuleType, job_r: int, uid: int, out_w: int) -> int:
    """The run: as if `python3 runner.py` had started, with the job (read from job_r, a pipe
    from the agent: no other process of the container's held it) in memory, fd 1 the pipe."""
    for s in signal.valid_signals():
        try:
            signal.signal(s, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        n = int.from_bytes(_read_all(job_r, 4), "big")
        job_text = json.loads(_read_all(job_r, n))["job"]
        os.close(job_r)
        become(uid)
        os.environ.clear()
        os.environ.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME=SANDBOX, LANG="C.UTF-8")
        work = SANDBOX + "/run." + os.urandom(6).hex()
        os.mkdir(work, 0o700)
        os.chdir(work)
        null = os.open("/dev/null", os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(null, 2)
        os.closerange(3, 1 << 16)
        job = runner.json_loads(job_text)
        job["solution_process"] = "exec"
        job["python"] = sys.executable
    except Exception:
        return SETUP_FAILED
    try:
        text = runner._H.encode(runner.execute(job))
    except Exception as exc:
        text = runner._H.encode({"version": 1, "error": f"{type(exc).__name__}: {exc}", "cases": []})
    write_all(text.encode("utf-8", "replace"))
    return 0


def baseline(roots=SHARED) -> dict:
    """{area: (owner, mode)} as the container starts: what every run must leave."""
    found = {}
    for root in roots:
        try:
            st = os.lstat(root)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            found[root] = (st.st_uid, stat.S_IMODE(st.st_mode))
    return found


def _read_all(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the request ended early")
        buf += chunk
    return bytes(buf)


def wipe(shared: dict, sysv: tuple = SYSV_IPC) -> list[str]:
    """Empty the shared areas (as the program uid: what it made), then check they are
    empty and owned and permissioned as in `shared` ({area: (owner, mode)}, see baseline),
    and that no SysV IPC object is left. Returns what is wrong (empty: the container is as
    fresh as at its start)."""
    problems = []
    for root, (_owner, mode) in shared.items():
        try:
            st = os.lstat(root)
        except OSError:
            continue
        if stat.S_IMODE(st.st_mode) != mode:  # the program changed the work area's mode
            problems.append(f"{root} had mode {oct(stat.S_IMODE(st.st_mode))}")
            try:
                os.chmod(root, mode)  # ours (the work area): walkable again, so it can be wiped
            except OSError:
                pass
        for dirpath, dirnames, _ in os.walk(root):
            for d in dirnames:
                try:
                    os.chmod(os.path.join(dirpath, d), 0o700)
                except OSError:
                    pass
        for dirpath, dirnames, filenames in os.walk(root, topdown=False):
            for name in filenames + dirnames:
                path = os.path.join(dirpath, name)
                try:
                    if name in dirnames and not os.path.islink(path):
                        os.rmdir(path)
                    else:
                        os.unlink(path)
                except OSError:
                    pass
    for root, (owner, mode) in shared.items():
        try:
            st = os.lstat(root)
            left = os.listdir(root)
        except OSError as exc:
            problems.append(f"{root}: {exc.strerror}")
            continue
        if left:
            problems.append(f"{root} is not empty: {sorted(left)[:5]}")
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != owner or stat.S_IMODE(st.st_mode) != mode:
            problems.append(f"{root} is owner {st.st_uid} mode {oct(stat.S_IMODE(st.st_mode))}")
    # SysV IPC objects (shmget, msgget, semget) have no file to wipe and outlive every process.
    for path in sysv:
        try:
            with open(path) as f:
                if len(f.readlines()) > 1:  # more than the header line
                    problems.append(f"SysV IPC objects left ({path})")
        except OSError:
            pass
    return problems


def forked(fn, *args):
    """fn(*args) in a child; its int result is the exit code. None when fork keeps failing."""
    for _ in range(100):  # a fork bomb of the last run may still hold the pids limit for a moment
        try:
            pid = os.fork()
            break
        except BlockingIOError:
            time.sleep(0.01)
    else:
        return None
    if pid == 0:
        try:
            code = fn(*args)
        except BaseException:  # noqa: B036 - a child never returns into the agent's loop
            code = SETUP_FAILED
        os._exit(code if isinstance(code, int) else 0)
    return pid


def kill_all(uid: int) -> bool:
    """As the program uid, kill(-1) reaches exactly that uid's processes (never the root agent
    or zygote). Never call it as root. Returns whether any was left (kill(-1) itself succeeds
    whenever any other process exists, so they are counted in /proc)."""
    left = [pid for pid in uid_processes(uid) if pid != os.getpid()]
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    return bool(left)


def uid_processes(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
        except (OSError, StopIteration):
            continue
        if str(uid) in uids:
            found.append(int(entry))
    return found


def clean(uid: int, shared: dict) -> int:
    """The cleaner's body: 0 when the container is clean, 1 otherwise (reasons on fd 2)."""
    become(uid)
    problems = ["processes of the program uid were still running"] if kill_all(uid) else []
    problems += wipe(shared)
    if problems:
        try:
            write_all(("; ".join(problems) + "\n").encode(), 2)
        except OSError:
            pass
    return 1 if problems else 0


def zygote(runner: types.ModuleType, ctl: socket.socket) -> None:
    """Fork each run's child, holding nothing of any run: it receives the program uid (4 bytes)
    with two fds, the write end of the run's output pipe and the read end of its request pipe
    (the child reads the request itself), and answers with the child's wait status (4 bytes,
    -1: could not fork)."""
    while True:
        try:
            head, fds, _, _ = socket.recv_fds(ctl, 4, 2)
        except OSError:
            os._exit(0)
        if len(head) < 4 or len(fds) != 2:
            os._exit(0)  # the agent is gone
        out_w, job_r = fds
        pid = forked(child, runner, job_r, struct.unpack(">I", head)[0], out_w)
        os.close(out_w)
        os.close(job_r)
        status = -1 if pid is None else os.waitpid(pid, 0)[1]
        ctl.sendall(struct.pack(">i", status))


def run(ctl: socket.socket, raw: bytes, cap: int, shared: dict) -> tuple[dict, bytes]:
    uid = json.loads(raw)["uid"]
    out_r, out_w = os.pipe()
    job_r, job_w = os.pipe()
    try:
        socket.send_fds(ctl, [struct.pack(">I", uid)], [out_w, job_r])
    except OSError:
        for fd in (out_r, out_w, job_r, job_w):
            os.close(fd)
        return {"error": "the agent's zygote is gone", "leftovers": True}, b""
    os.close(out_w)
    os.close(job_r)
    try:
        write_all(len(raw).to_bytes(4, "big") + raw, job_w)
    except OSError:
        pass  # the child died first: its exit status says so
    os.close(job_w)
    body, overflow = bytearray(), False
    while True:
        chunk = os.read(out_r, 1 << 16)
        if not chunk:
            break
        body += chunk
        if len(body) > cap:
            del body[cap:]
            overflow = True
            break
    os.close(out_r)  # a harness still writing gets EPIPE and ends
    reply = ctl.recv(4)
    while reply and len(reply) < 4:
        more = ctl.recv(4 - len(reply))
        if not more:
            break
        reply += more
    if len(reply) < 4:
        return {"error": "the agent's zygote is gone", "leftovers": True}, b""
    status = struct.unpack(">i", reply)[0]
    if status == -1:
        return {"error": "the agent could not fork the harness", "leftovers": True}, b""
    cleaner = forked(clean, uid, shared)
    left = 1 if cleaner is None else os.WEXITSTATUS(os.waitpid(cleaner, 0)[1])
    while True:  # reap what was re-parented to us
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    header = {
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "overflow": overflow,
        "leftovers": left != 0,
    }
    return header, bytes(body)


def main() -> None:
    ignore_signals()
    shared = baseline()
    hello = receive()
    runner = types.ModuleType("runner")
    code = compile(hello["runner"], "runner.py", "exec")
    exec(code, runner.__dict__)
    import marshal

    runner.SELF_CODE = marshal.dumps(code)  # an assert run's solution process starts from this
    import ctypes  # noqa: F401 - the harness needs it (prctl) in every run: imported once, forks inherit it

    cap = hello["output_cap"]
    ctl, ctl_zygote = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()  # before any job: the zygote's heap holds no job's result, ever
    if pid == 0:
        ctl.close()
        zygote(runner, ctl_zygote)
        os._exit(0)
    ctl_zygote.close()
    while True:
        send(*run(ctl, receive_raw(), cap, shared))


if __name__ == "__main__":
    main()
