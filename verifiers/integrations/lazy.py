"""A reward held as its config: built once per process on first use, pickled as the config.

Trainers move reward functions across process boundaries (TRL's AsyncGRPOTrainer spawns a child,
verl and OpenRLHF run Ray workers). A built CompositeReward holds thread and process pools that
cannot travel, so the integrations hold a `LazyReward` instead: the config (a YAML path, a mapping,
or the config a CompositeReward was built from) travels, and each process builds its own reward
once. Rewards built from the same config in one process are shared.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verifiers.core import Verifier

_BUILT: dict[tuple[int, str], Verifier] = {}  # (pid, config key) -> reward; pid: a fork gets its own
_LOCK = threading.Lock()


def composite_config(reward: Any) -> dict[str, Any] | None:
    """The config a CompositeReward was built from, or None when it cannot be told (a component
    made by hand rather than from the registry, or a parameter that is an object rather than a
    plain YAML value)."""
    components = getattr(reward, "components", None)
    if not isinstance(components, Mapping):
        return None
    spec: dict[str, Any] = {}
    for name, comp in components.items():
        if not getattr(comp, "verifier_name", ""):
            return None
        spec[name] = {
            "verifier": comp.verifier_name,
            "weight": comp.weight,
            "params": dict(comp.params),
            "on_none": comp.on_none,
        }
    config: dict[str, Any] = {"components": spec}
    if getattr(reward, "routes", None):
        config["routes"] = {task: list(names) for task, names in reward.routes.items()}
    if getattr(reward, "renormalize", False):
        config["renormalize"] = True
    try:
        json.dumps(config)
    except (TypeError, ValueError):  # a parameter that is an object (a function, a tokenizer), not config
        return None
    return config


def warm_up(reward: Any) -> None:
    """Start what a reward (or each of its components) starts lazily: the math verifier's sympy workers."""
    for verifier in [c.verifier for c in getattr(reward, "components", {}).values()] or [reward]:
        start = getattr(verifier, "warm_up", None)
        if callable(start):
            start()


class LazyReward:
    """A reward config (YAML path, mapping, CompositeReward or any Verifier) built once per process.

    A path or mapping is loaded (and so validated: ConfigError names a bad key) when the LazyReward
    is made; `get()` returns the reward for the current process. Pickling keeps only the config;
    a Verifier whose config cannot be told is pickled as itself.
    """

    def __init__(self, config: str | os.PathLike[str] | Mapping[str, Any] | Verifier) -> None:
        self._obj: Verifier | None = None
        if isinstance(config, Verifier):
            self._obj = config
            self.config: str | dict[str, Any] | None = composite_config(config)
        elif isinstance(config, (str, os.PathLike)):
            self.config = str(Path(config).resolve())
        elif isinstance(config, Mapping):
            try:
                self.config = json.loads(json.dumps(config))  # a plain, picklable copy
            except (TypeError, ValueError) as exc:
                raise TypeError(f"a reward config mapping must hold plain YAML values: {exc}") from None
        else:
            raise TypeError(
                f"reward config must be a YAML path, a mapping or a Verifier, got {type(config).__name__}"
            )
        self.key = None if self.config is None else json.dumps(self.config, sort_keys=True)
        self._owner = os.getpid()
        if self._obj is None:
            self.get()  # fail now, with the config error, not at the first training step
        elif self.key is not None:
            with _LOCK:
                _BUILT.setdefault((os.getpid(), self.key), self._obj)

    def get(self) -> Verifier:
        """The reward for this process (built on first use)."""
        if self._obj is not None and self._owner == os.getpid():
            return self._obj
        if self.key is None:
            if self._obj is None:
                raise RuntimeError("LazyReward has neither a config nor a reward")
            return self._obj  # an unpickled Verifier: its own copy
        with _LOCK:
            reward = _BUILT.get((os.getpid(), self.key))
            if reward is None:
                from verifiers.composite import load_reward

                reward = load_reward(self.config)
                _BUILT[(os.getpid(), self.key)] = reward
        self._obj, self._owner = reward, os.getpid()
        return reward

    def warm_up(self) -> Verifier:
        """Build the reward for this process and start what its components start lazily (the math
        verifier's sympy workers), so the first batch does not pay for it."""
        reward = self.get()
        warm_up(reward)
        return reward

    def __getstate__(self) -> dict[str, Any]:
        obj = self._obj if self.key is None else None  # a config travels; a bare Verifier travels as itself
        return {"config": self.config, "key": self.key, "obj": obj}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.config, self.key, self._obj = state["config"], state["key"], state["obj"]
        self._owner = os.getpid()
