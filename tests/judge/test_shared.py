"""One instance per process and key, closed after its last user lets go."""

from __future__ import annotations

import threading

import pytest

from verifiers.judge.shared import open_shared, release_shared, shared_key


class Thing:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_same_key_same_instance_closed_after_the_last_release(tmp_path):
    loads = []

    def load():
        loads.append(1)
        return Thing()

    key = shared_key("test", "judge", str(tmp_path), {"dtype": "float32"})
    assert key == shared_key("test", "judge", str(tmp_path / "." / ""), {"dtype": "float32"})
    assert key != shared_key("test", "judge", str(tmp_path), {"dtype": "bfloat16"})
    got = []
    threads = [threading.Thread(target=lambda: got.append(open_shared(key, load))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and all(g is got[0] for g in got)
    for _ in range(3):
        assert release_shared(got[0]) and not got[0].closed
    assert release_shared(got[0]) and got[0].closed
    assert not release_shared(got[0])  # no longer shared
    assert open_shared(key, load) is not got[0] and len(loads) == 2


def test_a_failed_load_leaves_nothing_behind():
    key = shared_key("test", "judge", "no/such/model", {})

    def broken():
        raise ValueError("cannot load model")

    with pytest.raises(ValueError, match="cannot load"):
        open_shared(key, broken)
    thing = open_shared(key, Thing)
    assert release_shared(thing) and thing.closed
