"""Math answer verification: extract the final answer from a completion and decide if it equals the gold.

    extract_answer(completion) -> str | None     the answer a completion commits to (R1-aware)
    math_equal(gold, pred, *, timeout=5.0) -> bool
    MathVerifier(timeout=5.0, workers=None)      registered as "math"

Parts: _math_extract.py (extraction), _math_compare.py (normalisation, structure, caps, the cheap atom
comparison), _math_exact.py (exact numbers, surds, polynomials), _math_sympy.py (the sympy side, imported
only in workers), _math_pool.py (the worker processes).

How a pair is decided, cheapest first:
1. Both strings are normalised (boxes, $, \\text{}, \\left, units, degrees, thousands separators, plain-text
   math such as `sqrt(2)` or `pi/2` rewritten to LaTeX) and split into a structure: sets, lists, tuples,
   intervals, unions, matrices, equations and inequalities, with expressions ("atoms") at the leaves.
2. Atoms are compared in this process when that is exact and cheap: identical text, numbers (integers,
   decimals, fractions, percentages) compared as `fractions.Fraction`, products of rationals, square roots
   and powers of pi in a canonical form, words compared case-insensitively.
3. Anything else goes to a pool of worker processes that parse atoms with latex2sympy2_extended and compare
   with sympy (verifiers/_math_sympy.py). A worker that runs past the deadline is killed and replaced, so a
   call returns within timeout + 0.2 s from any thread, asyncio task or Ray worker.

Gold and prediction are not symmetric. The gold sets the precision: gold "0.33" accepts 1/3 (1/3 rounds to
0.33), but gold "1/3" accepts a decimal only when it has at least 3 significant digits and is 1/3 rounded
or truncated to its own places ("0.333", not "0.33"). Two exact values (integers, fractions, terminating
decimals, surds) must be exactly equal: gold "0.5" equals "1/2", and 1/2^99 never equals 1/2^98. A gold
equation "x = 5" accepts the value "5"; a prediction "x = 5" is judged by its last side, and one without
variables ("2 + 3 = 5") by every side, so "2 + 2 = 5" is not 5. Several answers offered together ("B or C",
"\\boxed{3} and \\boxed{5}", "$3$ or $5$") are a hedge and never equal one gold.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from verifiers._math_compare import (
    _MORE_CHOICES_RE,
    _PRED_CHOICE_RE,
    MAX_ANSWER_CHARS,
    _squash,
    cheap_atom_equal,
    check_caps,
    choice_letter,
    compare,
    normalize,
    parse_structure,
)
from verifiers._math_exact import NeedSympy
from verifiers._math_extract import extract_answer
from verifiers.core import Sample, Score, Status, Verifier, error_score, split_completion

__all__ = ["MathVerifier", "extract_answer", "math_equal", "normalize", "check_caps", "Verdict"]

# ---------------------------------------------------------------- the decision


@dataclass
class Verdict:
    """The outcome of one (gold, prediction) pair."""

    status: Status
    equal: bool = False
    reason: str = ""


def decide_cheap(gold: str, pred: str) -> Verdict | None:
    """Decide in this process, or None when a worker (sympy) has to."""
    if len(gold) > 4 * MAX_ANSWER_CHARS:
        return Verdict(
            Status.INVALID_REFERENCE, reason=f"reference longer than {4 * MAX_ANSWER_CHARS} characters"
        )
    if len(pred) > 4 * MAX_ANSWER_CHARS:
        return Verdict(Status.OK, False, f"answer longer than {4 * MAX_ANSWER_CHARS} characters")
    g, p = normalize(gold), normalize(pred)
    if not g:
        return Verdict(Status.INVALID_REFERENCE, reason="empty reference")
    problem = check_caps(g)
    if problem:
        return Verdict(Status.INVALID_REFERENCE, reason=f"reference rejected: {problem}")
    if not p:
        return Verdict(Status.NO_ANSWER, reason="empty answer")
    if _squash(g) == _squash(p):
        return Verdict(Status.OK, True)
    letter = choice_letter(g)
    if letter is not None:
        m = _PRED_CHOICE_RE.match(p)
        if m and _MORE_CHOICES_RE.match(p, m.end()):
            return Verdict(Status.OK, False, "several choices named")  # a hedge, whichever comes first
        return Verdict(Status.OK, bool(m) and m.group(1).upper() == letter)
    problem = check_caps(p)
    if problem:
        return Verdict(Status.OK, False, f"answer rejected: {problem}")
    try:
        return Verdict(Status.OK, compare(parse_structure(g), parse_structure(p), cheap_atom_equal))
    except NeedSympy:
        return None


# ---------------------------------------------------------------- the worker pool


_default_pool = None
_default_lock = threading.Lock()


def _get_default_pool() -> Any:
    global _default_pool
    with _default_lock:
        if _default_pool is None or _default_pool.pid != os.getpid():  # a forked child gets its own
            from verifiers._math_pool import WorkerPool

            _default_pool = WorkerPool(os.cpu_count() or 1)
            atexit.register(_default_pool.close)
        return _default_pool


class _ResultCache:
    """A small thread-safe LRU of decided pairs: a GRPO group repeats the same answers."""

    def __init__(self, size: int = 8192):
        self._data: OrderedDict[tuple[str, str], Verdict] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Verdict | None:
        with self._lock:
            v = self._data.get(key)
            if v is not None:
                self._data.move_to_end(key)
            return v

    def put(self, key: tuple[str, str], verdict: Verdict) -> None:
        if verdict.status not in (Status.OK, Status.INVALID_REFERENCE):
            return  # timeouts and crashes are not facts about the pair
        with self._lock:
            self._data[key] = verdict
            if len(self._data) > self._size:
                self._data.popitem(last=False)


_cache = _ResultCache()


def decide(
    gold: str, pred: str, *, timeout: float, pool: Any = None, deadline: float | None = None
) -> Verdict:
    """The verdict for one pair; uses the cache, the cheap path, then a worker within the deadline."""
    key = (gold, pred)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    start = time.monotonic()
    verdict = decide_cheap(gold, pred)
    if verdict is None:
        pool = pool or _get_default_pool()
        verdict = _run_guarded(pool, (gold, pred), deadline=deadline or start + timeout)
    _cache.put(key, verdict)
    return verdict


def _run_guarded(pool: Any, pair: tuple[str, str], **limits: float) -> Verdict:
    """pool.run, with a failure to start or talk to a worker reported as status error (value None)."""
    try:
        return pool.run(pair, key=pair[0], **limits)
    except Exception as exc:
        return Verdict(Status.ERROR, reason=f"math worker unavailable: {type(exc).__name__}: {exc}")


def math_equal(gold: Any, pred: Any, *, timeout: float = 5.0) -> bool:
    """True when pred is mathematically equal to gold (gold first; see the module docstring for the
    asymmetry). Returns within timeout + 0.2 s from any thread; a timeout, an unusable gold or an
    unparseable prediction all give False."""
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    verdict = decide(_as_text(gold), _as_text(pred), timeout=timeout)
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

    timeout: seconds of worker time per sample (the hard limit; the worker is killed past it).
    workers: worker processes; None shares one module-wide pool of os.cpu_count() workers.
    Statuses: ok (1.0 / 0.0), no_answer (0.0), timeout (0.0), invalid_reference (None), error (None,
    a worker died, or a completion that is neither a string nor chat messages). info: "extracted" (the
    answer string), "gold", and "error" with the reason.
    """

    name = "math"

    def __init__(self, timeout: float = 5.0, workers: int | None = None):
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise ValueError(f"math verifier: timeout must be a positive number of seconds, got {timeout!r}")
        if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
            raise ValueError(f"math verifier: workers must be a positive integer or None, got {workers!r}")
        self.timeout = float(timeout)
        self.workers = workers
        self._pool: Any = None
        self._lock = threading.Lock()

    def _get_pool(self) -> Any:
        if self.workers is None:
            return _get_default_pool()
        with self._lock:
            if self._pool is None or self._pool.pid != os.getpid():  # never share a parent's pipes
                from verifiers._math_pool import WorkerPool

                self._pool = WorkerPool(self.workers)
            return self._pool

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        """Scores in input order. Cheap pairs are decided here; the rest are spread over the workers,
        each with its own `timeout` counted from when a worker takes it."""
        scores: list[Score | None] = [None] * len(samples)
        pending: dict[tuple[str, str], list[int]] = {}  # one worker task per distinct pair
        futures: dict[tuple[str, str], Future[Verdict]] = {}
        executor: ThreadPoolExecutor | None = None
        try:
            for i, sample in enumerate(samples):
                gold, pred, early = self._prepare(sample)
                if early is not None:
                    scores[i] = early
                    continue
                pair = (gold, pred)
                verdict = _cache.get(pair) or decide_cheap(gold, pred)
                if verdict is not None:
                    _cache.put(pair, verdict)
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
                    scores[i] = _to_score(verdict, *pair)
        finally:
            if executor is not None:
                executor.shutdown(wait=True)
        return [s if s is not None else error_score("internal: sample left unscored") for s in scores]

    def _run_one(self, pool: Any, pair: tuple[str, str]) -> Verdict:
        verdict = _run_guarded(pool, pair, timeout=self.timeout)
        _cache.put(pair, verdict)
        return verdict

    def _prepare(self, sample: Sample) -> tuple[str, str, Score | None]:
        ref = sample.reference
        if (
            ref is None
            or isinstance(ref, bool)
            or not isinstance(ref, (str, int, float))
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
        gold = str(ref)
        try:
            split_completion(sample.completion)
        except TypeError as exc:  # not the policy's output but the caller's bug: None, never a 0
            return gold, "", error_score(f"unreadable completion: {exc}")
        try:
            pred = extract_answer(sample.completion)
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
        return {"timeout": self.timeout, "workers": self.workers}

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
