"""A small pool of sympy worker processes with hard per-task deadlines.

Each worker is a fresh Python interpreter (subprocess, so no fork of a threaded parent and no re-import
of the caller's __main__) that talks over a pair of pipes with multiprocessing's Connection framing. A
task that runs past its deadline gets its worker SIGKILLed and a new one started in the same slot; tasks
on other workers are untouched. Any number of threads may call `run` at once: idle workers sit in a
lock-protected list, and warm ones (sympy imported, parser tables built) are preferred over new ones.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from verifiers.core import Status
from verifiers.math.compare import Verdict
from verifiers.math.limits import STARTUP_SECONDS, WORKER_MEMORY_BYTES, WORKER_WAIT_SECONDS

GOLD_PARSED = "gold parsed"  # what a worker says once the gold's atoms are parsed, before comparing

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def worker_main(read_fd: int, write_fd: int) -> None:
    """Worker loop: announce readiness, then receive (gold, pred), say when the gold is parsed, and answer
    (status, equal, reason)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    from verifiers.math import symbolic

    outbox.send("ready")
    while True:
        try:
            task = inbox.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = symbolic.check(*task, on_gold_parsed=lambda: outbox.send(GOLD_PARSED))  # (gold, pred, policy)
        except BaseException as exc:  # noqa: B036 - MemoryError, RecursionError: report, keep serving
            result = (Status.OK.value, False, f"comparison failed: {type(exc).__name__}")
        try:
            outbox.send(result)
        except (EOFError, OSError):
            return


def _exit_with_parent(parent: int) -> None:
    """A worker stuck in sympy when its parent dies would run on; this ends it within a second."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


class _Worker:
    def __init__(self, slot: int):
        self.slot = slot
        self.ready = False
        opened: list[int] = []  # every fd made here is closed again if the start fails (e.g. EMFILE)
        try:
            to_child_r, to_child_w = os.pipe()
            opened += (to_child_r, to_child_w)
            from_child_r, from_child_w = os.pipe()
            opened += (from_child_r, from_child_w)
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
            code = f"from verifiers.math.workers import worker_main; worker_main({to_child_r}, {from_child_w})"
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            for fd in opened:
                os.close(fd)
            raise
        os.close(to_child_r)
        os.close(from_child_w)
        self.to_child = Connection(to_child_w, readable=False)
        self.from_child = Connection(from_child_r, writable=False)

    def check_ready(self) -> bool:
        """Consume the worker's "ready" message if it has arrived (never blocks)."""
        return self.wait_ready(0)

    def wait_ready(self, seconds: float) -> bool:
        try:
            if not self.ready and self.from_child.poll(seconds):
                self.ready = self.from_child.recv() == "ready"
        except (EOFError, OSError):  # it died while starting: not ready, and never will be
            return False
        return self.ready

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        for conn in (self.to_child, self.from_child):
            conn.close()
        # No wait(): SIGKILL is immediate and subprocess reaps the child on a later Popen.


class WorkerPool:
    """`size` worker processes; `run` gives a task to one of them under a hard deadline."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"worker pool size must be at least 1, got {size}")
        self.size = size
        self.pid = os.getpid()  # the process whose pipes these are (a fork must not use them)
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []  # workers start on demand, up to size
        self._busy: set[_Worker] = set()
        self._started = 0
        self._closed = False

    def start_all(self, wait: float = STARTUP_SECONDS) -> None:
        """Start the workers not started yet and wait (up to `wait` seconds) until all are warm."""
        with self._cond:
            while self._started < self.size and not self._closed:
                self._idle.append(_Worker(self._started))
                self._started += 1
            idle = list(self._idle)
        for w in idle:
            w.wait_ready(wait)

    def run(self, task: tuple[Any, ...], *, key: str, timeout: float, wait: float = WORKER_WAIT_SECONDS):
        """Run task on a worker and return its Verdict. `timeout` counts only the task's own compute, from
        when a warm worker holds it: waiting for a free worker (up to `wait` seconds) and a worker's start
        are not charged. No worker within `wait` is an infrastructure failure (status error), never a
        timeout. A task killed before its gold was parsed has an unusable gold (invalid_reference)."""
        worker = self._acquire(hash(key) % self.size, time.monotonic() + wait)
        if worker is None:
            if self._closed:  # close() from another thread: an outage (None), not the policy's 0
                return Verdict(Status.ERROR, reason="math worker pool closed")
            return Verdict(Status.ERROR, reason=f"no math worker became free within {wait:g} s")
        if not worker.wait_ready(STARTUP_SECONDS):
            self._replace(worker)
            return Verdict(Status.ERROR, reason="math worker failed to start")
        deadline = time.monotonic() + timeout
        gold_parsed = False
        try:
            worker.to_child.send(task)
            while worker.from_child.poll(max(0.0, deadline - time.monotonic())):
                message = worker.from_child.recv()
                if message == "ready":  # a new worker finished warming up; the answer comes next
                    worker.ready = True
                    continue
                if message == GOLD_PARSED:
                    gold_parsed = True
                    continue
                status, equal, reason = message
                self._release(worker)
                return Verdict(Status(status), equal, reason)
        except (EOFError, OSError) as exc:
            self._replace(worker)
            return Verdict(Status.ERROR, reason=f"math worker died: {type(exc).__name__}")
        self._replace(worker)
        if not gold_parsed:
            return Verdict(
                Status.INVALID_REFERENCE, reason=f"reference too slow to parse (over {timeout:g} s)"
            )
        return Verdict(Status.TIMEOUT, reason="comparison ran past the time limit; worker killed")

    def _acquire(self, slot: int, deadline: float) -> _Worker | None:
        with self._cond:
            self._drop_dead()
            while not self._idle:
                if self._closed:
                    return None
                if self._started < self.size:
                    self._idle.append(_Worker(self._started))
                    self._started += 1
                    break
                wait = deadline - time.monotonic()
                if wait <= 0:
                    return None
                self._cond.wait(wait)
            if self._closed:
                return None
            warm = [w for w in self._idle if w.check_ready()] or self._idle
            pick = next((w for w in warm if w.slot == slot), warm[-1])
            self._idle.remove(pick)
            self._busy.add(pick)
            return pick

    def _drop_dead(self) -> None:
        """Forget idle workers whose process has exited (OOM killer, kill -9, a crash while starting):
        otherwise each would fail the next task it gets, forever. Their slots start afresh. Lock held."""
        for w in [w for w in self._idle if not w.alive()]:
            self._idle.remove(w)
            w.kill()  # closes its pipes
            self._started -= 1

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            self._busy.discard(worker)
            if self._closed:
                worker.kill()
                return
            self._idle.append(worker)
            self._cond.notify()

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker; its successor starts on a background thread so the caller returns at once."""
        worker.kill()
        with self._cond:
            self._busy.discard(worker)
            if self._closed:
                return
        threading.Thread(target=self._add_worker, args=(worker.slot,), daemon=True).start()

    def _add_worker(self, slot: int) -> None:
        try:
            fresh = _Worker(slot)
        except OSError:
            with self._cond:
                self._started -= 1  # let the next caller try to start one
            return
        with self._cond:
            if self._closed:
                fresh.kill()
                return
            self._idle.append(fresh)
            self._cond.notify()

    def close(self) -> None:
        """Stop every worker; busy ones are killed when their task returns. Safe to call twice."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for w in idle:
            w.kill()


_default_pool: WorkerPool | None = None
_default_lock = threading.Lock()


def default_pool() -> WorkerPool:
    """The module-wide pool of os.cpu_count() workers (a forked child gets its own)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None or _default_pool.pid != os.getpid():
            _default_pool = WorkerPool(os.cpu_count() or 1)
            atexit.register(_default_pool.close)
        return _default_pool
