"""A weighted sum of verifiers, configured in YAML and routed per task.

    components:
      accuracy: {verifier: math, weight: 1.0, params: {timeout: 5}}
      format:   {verifier: format, weight: 0.3}
    routes:                      # optional: a sample's task picks its components
      math: [accuracy, format]
      default: [format]          # tasks with no route of their own (else: not applicable)
    renormalize: false           # optional

The reward is sum(weight * value) over the components that apply to the sample.

The None policy:
  - A component the sample is not routed to, or that answers status
    not_applicable, drops out of the sum.
  - A component that answers value None for any other reason (an unusable
    reference, a sandbox or judge outage) makes the whole reward None with that
    status, because a partial sum would turn an infrastructure failure into a
    policy gradient. Set `on_none: drop` on a component to drop it instead.
  - Weights do not renormalise by default (R1 sums raw weights:
    r = r_acc + 0.3 r_fmt + ...). With `renormalize: true` the sum is divided
    by the total weight of the components that contributed.
Every configured component is reported in Score.components (None where it did
not apply), with its status and info under Score.info["components"].
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifiers.core import Sample, Score, Status, Verifier, as_samples, error_score, get_verifier


class ConfigError(ValueError):
    """A reward config is malformed; the message names the bad key."""


@dataclass
class Component:
    name: str
    verifier: Verifier
    weight: float
    verifier_name: str = ""
    on_none: str = "fail"  # "fail": reward becomes None; "drop": component drops out
    params: dict[str, Any] = field(default_factory=dict)


class CompositeReward(Verifier):
    """Weighted sum of named verifier components, optionally routed by Sample.task."""

    name = "composite"

    def __init__(
        self,
        components: Sequence[Component],
        routes: Mapping[str, Sequence[str]] | None = None,
        renormalize: bool = False,
    ) -> None:
        self.components = {c.name: c for c in components}
        if not self.components:
            raise ConfigError("components: at least one component is needed")
        self.routes = {task: list(names) for task, names in (routes or {}).items()}
        for task, names in self.routes.items():
            for i, n in enumerate(names):
                if n not in self.components:
                    raise ConfigError(
                        f"routes.{task}[{i}]: unknown component {n!r}; components: {', '.join(self.components)}"
                    )
        self.renormalize = renormalize
        self._pool = ThreadPoolExecutor(max(1, len(self.components)), thread_name_prefix="reward")

    def _route(self, sample: Sample) -> list[str] | None:
        if not self.routes:
            return list(self.components)
        key = sample.task if sample.task in self.routes else "default"
        return self.routes.get(key)

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        samples = as_samples(samples)
        routes = [self._route(s) for s in samples]
        # Each component scores the samples routed to it, all components at once:
        # the slow ones (math workers, sandboxes, GPU judges) overlap.
        jobs = {}
        for name, comp in self.components.items():
            idx = [i for i, r in enumerate(routes) if r is not None and name in r]
            if idx:
                jobs[name] = (idx, self._pool.submit(comp.verifier.score_batch, [samples[i] for i in idx]))
        per_component: dict[str, dict[int, Score]] = {}
        for name, (idx, future) in jobs.items():
            try:
                scores = future.result()
                if len(scores) != len(idx):
                    raise RuntimeError(f"returned {len(scores)} scores for {len(idx)} samples")
            except Exception as exc:  # a broken verifier is an outage for these samples, not a crash
                reason = f"component {name!r} failed: {type(exc).__name__}: {exc}"
                scores = [error_score(reason) for _ in idx]
            per_component[name] = dict(zip(idx, scores, strict=True))
        return [self._combine(i, s, routes[i], per_component) for i, s in enumerate(samples)]

    def _combine(self, i: int, sample: Sample, route: list[str] | None, parts: dict) -> Score:
        values: dict[str, float | None] = {name: None for name in self.components}
        details: dict[str, Any] = {}
        if route is None:
            reason = f"no route for task {sample.task!r} and no 'default' route"
            return Score(None, Status.NOT_APPLICABLE, values, {"error": reason})
        total, weight_used, failed = 0.0, 0.0, None
        for name in route:
            comp, score = self.components[name], parts[name][i]
            values[name] = score.value
            details[name] = {"status": str(score.status), **score.info}
            if score.value is None:
                if score.status is not Status.NOT_APPLICABLE and comp.on_none == "fail" and failed is None:
                    failed = (name, score)
                continue
            total += comp.weight * score.value
            weight_used += comp.weight
        info: dict[str, Any] = {"components": details}
        if failed is not None:
            name, score = failed
            info["error"] = f"{name}: {score.info.get('error', score.status)}"
            return Score(None, score.status, values, info)
        if weight_used == 0.0:
            return Score(None, Status.NOT_APPLICABLE, values, {**info, "error": "no component applied"})
        if self.renormalize:
            total /= weight_used
        return Score(total, Status.OK, values, info)

    def close(self) -> None:
        for comp in self.components.values():
            comp.verifier.close()
        self._pool.shutdown(wait=False)


_TOP_KEYS = {"components", "routes", "renormalize"}
_COMPONENT_KEYS = {"verifier", "weight", "params", "on_none"}


def load_reward(config: str | Path | Mapping[str, Any]) -> CompositeReward:
    """Build a CompositeReward from a YAML file path or an already-parsed mapping.

    Raises ConfigError naming the bad key for any malformed config.
    """
    if isinstance(config, (str, Path)):
        import yaml

        path = Path(config)
        try:
            config = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read reward config {str(path)!r}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(config, Mapping):
        raise ConfigError(f"reward config must be a mapping, got {type(config).__name__}")
    unknown = set(config) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {sorted(unknown)}; expected {sorted(_TOP_KEYS)}")
    raw = config.get("components")
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError("components: must be a non-empty mapping of name -> {verifier, weight, params}")
    routes = config.get("routes")
    if routes is not None:
        if not isinstance(routes, Mapping):
            raise ConfigError("routes: must be a mapping of task -> [component names]")
        for task, names in routes.items():
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ConfigError(f"routes.{task}: must be a list of component names")
    renormalize = config.get("renormalize", False)
    if not isinstance(renormalize, bool):
        raise ConfigError(f"renormalize: must be true or false, got {renormalize!r}")

    specs = []
    for name, spec in raw.items():
        key = f"components.{name}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{key}: must be a mapping with 'verifier' and 'weight'")
        bad = set(spec) - _COMPONENT_KEYS
        if bad:
            raise ConfigError(f"{key}: unknown key(s) {sorted(bad)}; expected {sorted(_COMPONENT_KEYS)}")
        if not isinstance(spec.get("verifier"), str):
            raise ConfigError(f"{key}.verifier: required, the name of a registered verifier")
        weight = spec.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise ConfigError(f"{key}.weight: must be a finite number, got {weight!r}")
        params = spec.get("params") or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"{key}.params: must be a mapping")
        on_none = spec.get("on_none", "fail")
        if on_none not in ("fail", "drop"):
            raise ConfigError(f"{key}.on_none: must be 'fail' or 'drop', got {on_none!r}")
        specs.append((name, key, spec["verifier"], float(weight), dict(params), on_none))

    if routes is not None:  # check routes before building (and starting) any verifier
        for task, names in routes.items():
            for i, n in enumerate(names):
                if n not in raw:
                    raise ConfigError(f"routes.{task}[{i}]: unknown component {n!r}; components: {', '.join(raw)}")

    components: list[Component] = []
    try:
        for name, key, verifier_name, weight, params, on_none in specs:
            try:
                verifier = get_verifier(verifier_name, **params)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{key}: {exc}") from None
            components.append(Component(name, verifier, weight, verifier_name, on_none, params))
    except ConfigError:
        for c in components:
            c.verifier.close()
        raise
    return CompositeReward(components, routes, renormalize)
