"""The math verifier and math_equal: the verdict cache, the cheap path, then the workers.

See verifiers/math/__init__.py for the rules.
"""

from __future__ import annotations

import numbers
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from typing import Any

from verifiers.code import is_test_suite
from verifiers.core import (
    Sample,
    Score,
    Status,
    Verifier,
    end_tokens_option,
    error_score,
    read_completion,
    think_prefilled_option,
)
from verifiers.math.cache import LRU
from verifiers.math.compare import DEFAULT_POLICY, Policy, Verdict, decide_cheap
from verifiers.math.extract import extract_answers, extract_gold
from verifiers.math.limits import VERDICT_CACHE_SIZE

__all__ = ["MathVerifier", "MathWorkerUnavailable", "clear_cache", "decide", "math_equal"]

_cache = LRU(VERDICT_CACHE_SIZE)  # (gold, answer, policy) -> Verdict: a GRPO group repeats its answers
_slow_golds = LRU(
    VERDICT_CACHE_SIZE
)  # gold -> its invalid_reference Verdict once it proved too slow to parse


class MathWorkerUnavailable(RuntimeError):
    """math_equal could not get a sympy worker (none free within the wait, one failed to start or died,
    the pool was closed): an infrastructure failure, which a bool cannot state."""


Task = tuple[str, str, Policy]  # (gold, answer, policy): what a worker decides and the cache remembers


def _remember(key: Task, verdict: Verdict) -> None:
    if verdict.status in (Status.OK, Status.INVALID_REFERENCE):  # timeouts and crashes are no facts
        _cache.put(key, verdict)
    if verdict.status == Status.INVALID_REFERENCE and verdict.reason.startswith("reference too slow"):
        _slow_golds.put(key[0], verdict)


def _known(key: Task) -> Verdict | None:
    return _cache.get(key) or _slow_golds.get(key[0])


def clear_cache() -> None:
    """Forget every decided pair (benchmarks measure cold decisions with it)."""
    _cache.clear()
    _slow_golds.clear()


def decide(
    gold: str, pred: str, *, timeout: float, pool: Any = None, policy: Policy = DEFAULT_POLICY
) -> Verdict:
    """The verdict for one pair: the cache, the cheap path, then a worker with `timeout` of its time."""
    key = (gold, pred, policy)
    verdict = _known(key) or decide_cheap(gold, pred, policy)
    if verdict is None:
        verdict = _run_guarded(pool or _default_pool(), key, timeout=timeout)
    _remember(key, verdict)
    return verdict


def _default_pool() -> Any:
    from verifiers.math.workers import default_pool  # lazy: subprocess plumbing only when sympy is needed

    return default_pool()


def _run_guarded(pool: Any, pair: Task, *, timeout: float) -> Verdict:
    """pool.run, with a failure to start or talk to a worker reported as status error (value None)."""
    try:
        return pool.run(pair, key=pair[0], timeout=timeout)
    except Exception as exc:
        return Verdict(Status.ERROR, reason=f"math worker unavailable: {type(exc).__name__}: {exc}")


def math_equal(
    gold: Any, pred: Any, *, timeout: float = 5.0, percent: str = "either", ordered_lists: bool = False
) -> bool:
    """True when pred is mathematically equal to gold (gold first; see the README's math policy for the
    asymmetry). A timeout, an unusable gold or an unparseable prediction give False.

    `timeout` bounds this pair's own compute in a worker: alone, a call returns within timeout + 0.2 s
    from any thread; under contention it first waits for a free worker (the wait is not charged), and
    when it cannot get one it raises MathWorkerUnavailable (a RuntimeError), never a False.
    percent, ordered_lists: where graders differ (see Policy; the defaults are the README's policy)."""
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    gold_answer = extract_gold(_as_text(gold))
    if gold_answer is None:
        return False
    policy = Policy(percent, ordered_lists)
    verdict = decide(gold_answer, _as_text(pred), timeout=timeout, policy=policy)
    if verdict.status == Status.ERROR:
        raise MathWorkerUnavailable(verdict.reason)
    return verdict.status == Status.OK and verdict.equal


def _as_text(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, (str, int, float, Fraction)):
        raise TypeError(f"an answer must be a string or a number, got {type(x).__name__}")
    if x != x:  # float("nan"), a missing value: an unusable gold, never the answer "nan"
        return ""
    return x if isinstance(x, str) else str(x)


# ---------------------------------------------------------------- the verifier


class MathVerifier(Verifier):
    """Math answer equivalence: 1.0 when the completion's final answer equals the gold, else 0.0.

    timeout: seconds of worker time per sample (the hard limit; the worker is killed past it), counted
    from when a warm worker takes the sample: waiting for a free worker is not charged.
    workers: worker processes; None shares one module-wide pool of os.cpu_count() workers.
    Statuses: ok (1.0 / 0.0), no_answer (0.0), timeout (0.0), invalid_reference (None: also a gold too
    slow to parse), error (None: no worker free in time, a worker died, or a completion that is neither
    a string nor chat messages). info: "extracted" (the
    answer string), "gold", and "error" with the reason.
    percent, ordered_lists: where graders differ (compare.Policy): percent "either" (50% = 50 = 0.5) or
    "exact" (50% = 0.5 only); ordered_lists False (several answers in any order) or True (in order).
    think_prefilled, end_tokens: the rule every verifier shares (core.read_completion): a completion
    that starts inside a pre-filled <think> and never closes it has no answer (no_answer, 0.0).
    """

    name = "math"

    def __init__(
        self,
        timeout: float = 5.0,
        workers: int | None = None,
        think_prefilled: str | bool = "auto",
        end_tokens: Sequence[str] | None = None,
        percent: str = "either",
        ordered_lists: bool = False,
    ):
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise ValueError(f"math verifier: timeout must be a positive number of seconds, got {timeout!r}")
        if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
            raise ValueError(f"math verifier: workers must be a positive integer or None, got {workers!r}")
        self.timeout = float(timeout)
        self.workers = workers
        self.think_prefilled = think_prefilled_option(think_prefilled, "math verifier")
        self.end_tokens = end_tokens_option(end_tokens, "math verifier")
        self.policy = Policy(percent, ordered_lists)
        self._pool: Any = None
        self._lock = threading.Lock()

    def _get_pool(self) -> Any:
        if self.workers is None:
            return _default_pool()
        with self._lock:
            if self._pool is None or self._pool.pid != os.getpid():  # never share a parent's pipes
                from verifiers.math.workers import WorkerPool

                self._pool = WorkerPool(self.workers)
            return self._pool

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        """Scores in input order. Cheap pairs are decided here; the rest are spread over the workers,
        each with its own `timeout` counted from when a worker takes it."""
        scores: list[Score | None] = [None] * len(samples)
        pending: dict[Task, list[int]] = {}  # one worker task per distinct pair
        futures: dict[Task, Future[Verdict]] = {}
        executor: ThreadPoolExecutor | None = None
        try:
            for i, sample in enumerate(samples):
                gold, pred, early = self._prepare(sample)
                if early is not None:
                    scores[i] = early
                    continue
                pair = (gold, pred, self.policy)
                verdict = _known(pair) or decide_cheap(gold, pred, self.policy)
                if verdict is not None:
                    _remember(pair, verdict)
                    scores[i] = _to_score(verdict, gold, pred)
                    continue
                if pair not in futures:  # start sympy now, while this thread goes on with the cheap ones
                    if executor is None:
                        pool = self._get_pool()
                        executor = ThreadPoolExecutor(max_workers=pool.size, thread_name_prefix="math")
                    futures[pair] = executor.submit(self._run_one, pool, pair)
                pending.setdefault(pair, []).append(i)
            for pair, future in futures.items():
                verdict = future.result()
                for i in pending[pair]:
                    scores[i] = _to_score(verdict, pair[0], pair[1])
        finally:
            if executor is not None:
                executor.shutdown(wait=True)
        return [s if s is not None else error_score("internal: sample left unscored") for s in scores]

    def _run_one(self, pool: Any, pair: Task) -> Verdict:
        verdict = _known(pair) or _run_guarded(
            pool, pair, timeout=self.timeout
        )  # a gold found slow meanwhile
        _remember(pair, verdict)
        return verdict

    def _prepare(self, sample: Sample) -> tuple[str, str, Score | None]:
        ref = sample.reference
        if (
            ref is None
            or isinstance(ref, bool)
            or not isinstance(ref, (str, numbers.Number))  # numbers: numpy's too (a parquet column)
            or ref != ref  # float("nan"): how pandas spells a missing answer
            or not str(ref).strip()
        ):
            return (
                "",
                "",
                Score(
                    None, Status.INVALID_REFERENCE, info={"gold": ref, "error": f"unusable reference {ref!r}"}
                ),
            )
        if is_test_suite(ref):  # a code row's tests (a JSON string) routed here: no answer to compare with
            info = {"gold": ref, "error": "the reference is a code test suite, not a gold answer"}
            return "", "", Score(None, Status.INVALID_REFERENCE, info=info)
        gold = extract_gold(str(ref))
        if gold is None:
            info = {"gold": ref, "error": "the reference has no answer after its marker"}
            return "", "", Score(None, Status.INVALID_REFERENCE, info=info)
        try:
            reading = read_completion(
                sample.completion,
                sample.prompt,
                think_prefilled=self.think_prefilled,
                end_tokens=self.end_tokens,
            )
        except TypeError as exc:  # not the policy's output but the caller's bug: None, never a 0
            return gold, "", error_score(f"unreadable completion: {exc}")
        try:
            answers = extract_answers(reading.text)
            pred = None if answers is None else ", ".join(answers)  # several: compared as a list
        except Exception as exc:  # a malformed completion is the policy's problem, never a crash
            pred = None
            reason = f"could not read completion: {exc}"
        else:
            reason = "no final answer found"
        if pred is None:
            verdict = decide_cheap(gold, "")  # an unusable gold outranks a missing answer
            if verdict is not None and verdict.status == Status.INVALID_REFERENCE:
                return gold, "", _to_score(verdict, gold, None)
            info = {"extracted": None, "gold": gold, "error": reason}
            return gold, "", Score(0.0, Status.NO_ANSWER, info=info)
        return gold, pred, None

    def __getstate__(self) -> dict[str, Any]:  # picklable for Ray / spawn: the copy starts its own workers
        return {
            "timeout": self.timeout,
            "workers": self.workers,
            "think_prefilled": self.think_prefilled,
            "end_tokens": list(self.end_tokens),
            "percent": self.policy.percent,
            "ordered_lists": self.policy.ordered_lists,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def warm_up(self) -> None:
        """Start every worker now and wait until each has imported sympy (otherwise the first batch pays)."""
        self._get_pool().start_all()

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _to_score(verdict: Verdict, gold: str, pred: str | None) -> Score:
    info: dict[str, Any] = {"extracted": pred, "gold": gold}
    if verdict.reason:
        info["error"] = verdict.reason
    if verdict.status == Status.OK:
        return Score(1.0 if verdict.equal else 0.0, Status.OK, info=info)
    if verdict.status in (Status.NO_ANSWER, Status.TIMEOUT):
        return Score(0.0, verdict.status, info=info)
    return Score(None, verdict.status, info=info)
