"""Sandboxed execution of untrusted programs against test suites.

    from sandboxes import get_sandbox
    with get_sandbox("local") as sb:                 # or "docker"
        result = sb.run(code, tests, language="python")
        result.status, result.passed, result.total, result.cases

Backends are imported lazily, so `import sandboxes` pulls in neither the docker SDK nor
anything heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

from sandboxes.suite import CaseResult, RunResult, Suite, validate

BACKENDS = {"local": "sandboxes.local:LocalSandbox", "docker": "sandboxes.docker:DockerSandbox"}

__all__ = ["BACKENDS", "CaseResult", "RunResult", "Suite", "get_sandbox", "validate"]


def get_sandbox(backend: str = "local", **options: Any) -> Any:
    """Build the sandbox named `backend` ("local" or "docker") with backend options.

    Raises ValueError for an unknown backend; the backend raises for bad options or when it
    cannot work on this machine, with a message saying what is missing.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {backend!r}; available: {', '.join(BACKENDS)}")
    module, _, cls = BACKENDS[backend].partition(":")
    return getattr(importlib.import_module(module), cls)(**options)
