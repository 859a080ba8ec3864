"""run_keyed: requests of several kinds through one Batcher, refused ones passed through, order kept."""

from __future__ import annotations

from verifiers.judge.batcher import Batcher, run_keyed


def test_run_keyed_runs_each_key_once_and_keeps_the_order():
    calls = []

    def fn(key, items):
        calls.append((key, list(items)))
        return [f"{key}:{item}" for item in items]

    batcher = Batcher(fn, gather=False)
    refused = ValueError("too long")
    jobs = [("a", 1), refused, ("b", 2), ("a", 3)]
    assert run_keyed(batcher, jobs) == ["a:1", refused, "b:2", "a:3"]
    assert sorted(calls) == [("a", [1, 3]), ("b", [2])]
    assert run_keyed(batcher, [refused]) == [refused] and len(calls) == 2  # nothing to run
