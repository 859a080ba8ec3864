"""One loaded model per process: verifiers that open the same backend, model and options share it.

Two YAML components judging with the same model (helpfulness on the summary, harmlessness on the
whole response) then load it once and batch together. Each `open_shared` is paired with one
`release_shared`; the last release closes the model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_SHARED: dict[tuple, list[Any]] = {}  # key -> [instance, users]
_LOCK = threading.RLock()  # re-entrant: a verifier's __del__ may release while we open


def shared_key(backend: str, kind: str, model: str, options: Mapping[str, Any]) -> tuple:
    """The identity of a loaded model: a local folder by its resolved path, a hub name as given."""
    local = Path(model).expanduser()
    ident = str(local.resolve()) if local.is_dir() else model
    return (backend, kind, ident, tuple(sorted((k, repr(v)) for k, v in options.items())))


def open_shared(key: tuple, load: Callable[[], T]) -> T:
    """The process's instance for `key`, made by `load()` on first use (under a lock: two threads
    never load the same model twice). What `load` raises reaches the caller."""
    with _LOCK:
        entry = _SHARED.get(key)
        if entry is None:
            entry = _SHARED[key] = [load(), 0]
        entry[1] += 1
        return entry[0]


def release_shared(instance: Any) -> bool:
    """Drop one use of `instance`, closing it after the last; False when it was never shared."""
    with _LOCK:
        for key, entry in list(_SHARED.items()):
            if entry[0] is instance:
                entry[1] -= 1
                if entry[1] <= 0:
                    del _SHARED[key]
                    instance.close()
                return True
    return False
