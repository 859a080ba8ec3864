"""The worker pool's time limits count only each sample's own compute (issue 9): waiting for a free
worker or for a worker's start is never charged, a sample that cannot get a worker is an outage (None /
an exception), and a gold too slow to parse is an unusable reference, not a 0 for every completion."""

from __future__ import annotations

import threading

import pytest

from verifiers import Sample, Status
from verifiers.math import MathVerifier, math_equal
from verifiers.math.compare import decide_cheap
from verifiers.math.verifier import MathWorkerUnavailable, clear_cache
from verifiers.math.workers import WorkerPool

# Each needs sympy (no exact form of the cheap path reads a logarithm) and takes it well under a second.
EQUAL_SYMPY_PAIRS = [(str(k), f"\\ln(e^{{{k}}})") for k in range(1, 33)]
# Passes every cap, yet expanding it takes sympy far longer than any timeout used here.
SLOW_GOLD, SLOW_PRED = "(a^2+2ab+b^2+c+d)^{40}", "((a+b)^2+c+d)^{40}"


@pytest.mark.slow
def test_contended_callers_never_lose_a_correct_pair():
    """32 threads on 2 workers, each with an equal pair that needs sympy, slow pairs mixed in: every
    equal pair is judged equal, however long it waited behind the slow ones."""
    assert all(decide_cheap(g, p) is None for g, p in EQUAL_SYMPY_PAIRS)  # they do reach the workers
    clear_cache()
    timeout = 2.0
    results: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            if i % 8 == 7:  # a hostile input from another caller
                results[i] = math_equal(SLOW_GOLD + f"+{i}", SLOW_PRED + f"+{i}", timeout=timeout)
            else:
                results[i] = math_equal(*EQUAL_SYMPY_PAIRS[i], timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert len(results) == 32
    assert {i: r for i, r in results.items() if i % 8 != 7 and r is not True} == {}
    assert {i: r for i, r in results.items() if i % 8 == 7 and r is not False} == {}


@pytest.mark.slow
def test_contended_batches_never_lose_a_correct_pair():
    """Several threads scoring batches on one 2-worker verifier with slow samples mixed in."""
    clear_cache()
    out: dict[int, list] = {}
    with MathVerifier(timeout=2.0, workers=2) as v:

        def work(i: int) -> None:
            gold, pred = EQUAL_SYMPY_PAIRS[i]
            batch = [Sample(f"\\boxed{{{pred}}}", reference=gold)]
            if i % 3 == 0:
                batch.append(Sample(f"\\boxed{{{SLOW_PRED}+{i}}}", reference=f"{SLOW_GOLD}+{i}"))
            out[i] = v.score_batch(batch)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
    assert [out[i][0].value for i in range(9)] == [1.0] * 9, [out[i][0].info for i in range(9)]
    slow = [out[i][1] for i in range(0, 9, 3)]
    assert [s.status for s in slow] == [Status.TIMEOUT] * 3, [s.info for s in slow]


def test_no_free_worker_is_an_error_not_a_timeout():
    """A pool whose only worker is busy past the wait: status error (None in score_batch), not a 0."""
    pool = WorkerPool(1)
    try:
        pool.start_all()
        busy = threading.Thread(
            target=pool.run, args=((SLOW_GOLD, SLOW_PRED),), kwargs={"key": "a", "timeout": 3.0}
        )
        busy.start()
        while not pool._busy:  # noqa: SLF001 - wait until the worker is taken
            threading.Event().wait(0.01)
        verdict = pool.run(("1-\\cos^2 x", "\\sin^2 x"), key="b", timeout=1.0, wait=0.2)
        busy.join(30)
    finally:
        pool.close()
    assert verdict.status == Status.ERROR and "no math worker became free" in verdict.reason


def test_a_closed_pool_is_an_outage_for_decide_and_math_equal_raises_on_it():
    from verifiers.math.verifier import decide

    closed = WorkerPool(1)
    closed.close()
    clear_cache()
    verdict = decide("1-\\cos^2 y", "\\sin^2 y", timeout=1.0, pool=closed)
    assert verdict.status == Status.ERROR  # math_equal turns exactly this into MathWorkerUnavailable
    assert issubclass(MathWorkerUnavailable, RuntimeError)


def test_a_gold_too_slow_to_parse_is_an_invalid_reference():
    """A gold the parser itself cannot finish within the limit makes every completion None, not 0."""
    clear_cache()
    slow_gold = "\\sum_{k=1}^{100000} \\frac{1}{k^{2}}"  # within every cap; evaluating it takes minutes
    with MathVerifier(timeout=1.0, workers=1) as v:
        v.warm_up()
        scores = v.score_batch([Sample(f"\\boxed{{{p}}}", reference=slow_gold) for p in ("y", "y+1")])
    assert [s.status for s in scores] == [Status.INVALID_REFERENCE] * 2
    assert all(s.value is None for s in scores)
    assert "too slow to parse" in scores[0].info["error"]


def test_a_cold_start_after_a_kill_is_not_charged_to_the_next_sample():
    """The only worker is killed on a slow pair; the next sample waits for its successor to import sympy
    (seconds) and still gets its whole 0.5 s of compute."""
    clear_cache()
    with MathVerifier(timeout=0.5, workers=1) as v:
        v.warm_up()
        slow = v.score(Sample(f"\\boxed{{{SLOW_PRED}}}", reference=SLOW_GOLD))
        after = v.score(Sample("\\boxed{\\ln(e^{5})}", reference="5"))
    assert slow.status == Status.TIMEOUT
    assert (after.value, after.status) == (1.0, Status.OK), after.info
