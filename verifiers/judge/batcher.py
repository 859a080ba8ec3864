"""Cross-call batching: many callers, one model, one batch at a time.

Reward calls arrive one sample at a time from many threads (verl's naive reward manager,
OpenRLHF's per-sample reward_func, TRL's async reward functions). A Batcher owns one worker
thread that runs the model; callers hand it their items and block until their results are
back. While the model is busy the next callers' items queue up, and the worker takes all
of them as the next batch; when it is idle it waits at most `max_wait_s` after the first
item for others to join, so a lone caller pays a few milliseconds, not a batch's worth.

Items carry a key (the kind of work and its settings); one batch runs one key. Results come
back to each caller in its own order.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from typing import Any

BatchFn = Callable[[Hashable, list[Any]], list[Any]]


class _Call:
    __slots__ = ("key", "items", "future", "arrived")

    def __init__(self, key: Hashable, items: list[Any]) -> None:
        self.key = key
        self.items = items
        self.future: Future[list[Any]] = Future()
        self.arrived = time.monotonic()


class Batcher:
    """Runs `fn(key, items) -> results` for callers on any thread, gathering their items.

    gather=False runs each call on its caller's thread, one at a time (a lock): the model is
    still shared safely, but every call is its own batch.
    """

    def __init__(
        self,
        fn: BatchFn,
        *,
        gather: bool = True,
        max_wait_s: float = 0.005,
        max_items: int = 256,
        name: str = "judge-batcher",
    ) -> None:
        if max_wait_s < 0 or max_items < 1:
            raise ValueError("batcher: max_wait_s must be >= 0 and max_items >= 1")
        self._fn = fn
        self.gather = gather
        self.max_wait_s = max_wait_s
        self.max_items = max_items
        self._name = name
        self._cond = threading.Condition()
        self._pending: list[_Call] = []
        self._closed = False
        self._lock = threading.Lock()  # gather=False: one call at a time
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.batches_run = 0  # how many times fn ran (for tests and benchmarks)

    def run(self, key: Hashable, items: Sequence[Any]) -> list[Any]:
        """Results for `items`, in their order. Raises what `fn` raised for the batch they were in."""
        items = list(items)
        if not items:
            return []
        if not self.gather:
            with self._lock:
                self.batches_run += 1
                return self._checked(key, items)
        call = _Call(key, items)
        with self._cond:
            if self._closed:
                raise RuntimeError("the judge batcher is closed")
            self._ensure_worker()
            self._pending.append(call)
            self._cond.notify_all()
        return call.future.result()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=60)

    # ------------------------------------------------------------ worker

    def _ensure_worker(self) -> None:
        # After a fork the worker thread is gone in the child: start a new one there.
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def _take(self) -> list[_Call] | None:
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if not self._pending:
                return None  # closed and drained
            deadline = self._pending[0].arrived + self.max_wait_s
            while not self._closed and self._count() < self.max_items:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            key = self._pending[0].key
            batch, rest, count = [], [], 0
            for call in self._pending:
                if call.key == key and (not batch or count + len(call.items) <= self.max_items):
                    batch.append(call)
                    count += len(call.items)
                else:
                    rest.append(call)
            self._pending = rest
            return batch

    def _count(self) -> int:
        return sum(len(c.items) for c in self._pending)

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            items = [item for call in batch for item in call.items]
            try:
                self.batches_run += 1
                results = self._checked(batch[0].key, items)
            except Exception as exc:  # every caller of this batch hears about it; the worker goes on
                for call in batch:
                    call.future.set_exception(exc)
                continue
            except BaseException:  # the thread is dying: never leave a caller waiting
                for call in batch:
                    call.future.set_exception(RuntimeError("the judge batch worker stopped"))
                raise
            start = 0
            for call in batch:
                call.future.set_result(results[start : start + len(call.items)])
                start += len(call.items)

    def _checked(self, key: Hashable, items: list[Any]) -> list[Any]:
        results = self._fn(key, items)
        if len(results) != len(items):
            raise RuntimeError(f"batch function returned {len(results)} results for {len(items)} items")
        return list(results)


def run_keyed(batcher: Batcher, jobs: Sequence[tuple[Hashable, Any] | Exception]) -> list[Any]:
    """Per job, the result of its (key, item) through `batcher`, or the Exception it already is
    (a request refused before the model, e.g. too long): one `run` per key, results in the jobs'
    order. Raises what the batch function raised."""
    results: list[Any] = list(jobs)
    by_key: dict[Hashable, list[int]] = {}
    for i, job in enumerate(jobs):
        if not isinstance(job, Exception):
            by_key.setdefault(job[0], []).append(i)
    for key, slots in by_key.items():
        items = [jobs[i][1] for i in slots]  # type: ignore[index]
        for i, value in zip(slots, batcher.run(key, items), strict=True):
            results[i] = value
    return results
