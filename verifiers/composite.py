"""A weighted sum of verifiers, configured in YAML and routed per task.

    components:
      accuracy: {verifier: math, weight: 1.0, params: {timeout: 5}}
      format:   {verifier: format, weight: 0.3}
    routes:                      # optional: a sample's task picks its components
      math: [accuracy, format]
      default: [format]          # tasks with no route of their own (else: not applicable)
    renormalize: false           # optional
    think_prefilled: auto        # optional: for every component whose verifier takes it (and end_tokens)

The reward is sum(weight * value) over the components that apply to the sample.

Routing. A sample's task picks its route. A sample without a task (TRL, open-r1 and GSM8K rows have
none) is routed by its reference (`infer_task`): a test suite (a dict, or a JSON object string in our schema
or a code dataset's format: APPS `{"inputs", "outputs"}`, `input_output`, `test_list`, `test_cases`,
...) is "code", any other reference (a gold answer string, even an empty one, or number) is "math", no
reference at all (None, NaN) is the "default" route. A task with no route of its own takes "default". The route
taken is reported in Score.info["route"].

The None policy:
  - A component the sample is not routed to, or that answers status
    not_applicable, drops out of the sum.
  - A component that answers value None for any other reason (an unusable
    reference, a sandbox or judge outage) makes the whole reward None with that
    status, because a partial sum would turn an infrastructure failure into a
    policy gradient. Set `on_none: drop` on a component to drop it instead.
  - A component value that is not a finite number (NaN, infinity) is that
    component's None with status error, the reason in its info.
  - Weights do not renormalise by default (R1 sums raw weights:
    r = r_acc + 0.3 r_fmt + ...). With `renormalize: true` the sum is divided
    by the total weight of the components that contributed.
Every configured component is reported in Score.components (None where it did
not apply), with its status and info under Score.info["components"].
"""

from __future__ import annotations

import math
import numbers
import os
import reprlib
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifiers.code import is_test_suite
from verifiers.core import (
    Sample,
    Score,
    Status,
    Verifier,
    as_samples,
    error_score,
    get_verifier,
    takes_parameter,
)


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


def infer_task(reference: Any) -> str | None:
    """The task a sample without one is routed as: "code" for a test suite (`verifiers.code.is_test_suite`:
    a dict, or a JSON object string in our schema or a code dataset's format), "math" for any other
    string (an empty one is an unusable gold the math verifier reports) or a number (numpy's too),
    None when there is no reference (None, NaN: the "default" route)."""
    if reference is None or isinstance(reference, bool):
        return None
    if is_test_suite(reference):
        return "code"
    if isinstance(reference, numbers.Number):
        return "math" if reference == reference else None  # NaN: a missing answer
    if isinstance(reference, str):
        return "math"
    return None


def _finite(name: str, score: Score) -> Score:
    """A component's Score, or an error Score (value None) when its value is not a finite number: a NaN
    or an infinity summed into the reward would poison every advantage of its group."""
    value = score.value
    if value is None or (isinstance(value, numbers.Real) and math.isfinite(value)):
        return score
    reason = f"component {name!r} returned a value that is not a finite number: {_short.repr(value)}"
    return Score(None, Status.ERROR, info={**score.info, "error": reason, "value": repr(value)})


def _checked(name: str, idx: list[int], scores_of: Any) -> dict[int, Score]:
    """A component's Scores by sample index: `scores_of()`, or error Scores when it raises or miscounts."""
    try:
        scores = scores_of()
        if len(scores) != len(idx):
            raise RuntimeError(f"returned {len(scores)} scores for {len(idx)} samples")
    except Exception as exc:  # a broken verifier is an outage for these samples, not a crash
        reason = f"component {name!r} failed: {type(exc).__name__}: {exc}"
        scores = [error_score(reason) for _ in idx]
    return dict(zip(idx, (_finite(name, s) for s in scores), strict=True))


class CompositeReward(Verifier):
    """Weighted sum of named verifier components, optionally routed by Sample.task.

    Lives where trainers put it: picklable (the copy rebuilds its per-process state lazily), usable
    in a forked child (the thread pool is per process: a child never waits on its parent's threads),
    and thread-safe. `close()` from another thread while a batch is in flight turns that batch's
    unfinished samples into error Scores (value None); a later batch starts afresh.
    """

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
        self.reuses: dict[str, str] = {}  # component -> the component whose Scores it is given (score_with)
        for name, comp in self.components.items():
            source = getattr(comp.verifier, "reuses", None)
            if source is None:
                continue
            where = f"components.{name}.params.accuracy"
            if source not in self.components or source == name:
                raise ConfigError(f"{where}: {{component: {source}}} names no other component; components: "
                                  f"{', '.join(n for n in self.components if n != name)}")
            if getattr(self.components[source].verifier, "reuses", None) is not None:
                raise ConfigError(f"{where}: component {source!r} itself reuses another component; name the "
                                  "one that runs the verifier")
            self.reuses[name] = source
        self.renormalize = renormalize
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._inflight: set[Future] = set()  # one "closed" signal per batch in flight
        self._executor: ThreadPoolExecutor | None = None  # started on first use, in this process

    def _state(self) -> tuple[threading.Lock, set[Future]]:
        if self._pid != os.getpid():  # a forked child: the parent's lock, threads and batches are not ours
            self._reset_process_state()
        return self._lock, self._inflight

    def _pool(self) -> ThreadPoolExecutor:
        lock, _ = self._state()
        with lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(len(self.components), thread_name_prefix="reward")
            return self._executor

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("_pid", "_lock", "_inflight", "_executor"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_process_state()

    def route(self, sample: Sample) -> tuple[str | None, list[str] | None]:
        """(route key, component names) for a sample; names None when no route applies."""
        if not self.routes:
            return None, list(self.components)
        task = sample.task if sample.task is not None else infer_task(sample.reference)
        key = task if task in self.routes else "default"
        return key, self.routes.get(key)

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        samples = as_samples(samples)
        routes = [self.route(s) for s in samples]
        jobs: dict[str, list[int]] = {}
        for name in self.components:
            idx = [i for i, (_, r) in enumerate(routes) if r is not None and name in r]
            if idx:
                jobs[name] = idx
        # A component reusing another's Scores runs after it; the other scores those samples too (once).
        later = {name: jobs.pop(name) for name in self.reuses if name in jobs}
        for name, idx in later.items():
            source = self.reuses[name]
            jobs[source] = sorted(set(jobs.get(source, ())) | set(idx))
        per_component = self._run(jobs, samples) if jobs else {}
        for name, idx in later.items():  # cheap shaping on Scores already made: here, after the rest
            given = per_component[self.reuses[name]]
            verifier = self.components[name].verifier
            per_component[name] = _checked(name, idx, lambda v=verifier, idx=idx, given=given: v.score_with(
                [samples[i] for i in idx], [given[i] for i in idx]))
        return [self._combine(i, s, *routes[i], per_component) for i, s in enumerate(samples)]

    def _run(self, jobs: dict[str, list[int]], samples: list[Sample]) -> dict[str, dict[int, Score]]:
        """Each component scores the samples routed to it, all components at once (the slow ones,
        math workers, sandboxes, GPU judges, overlap), on threads that belong to this batch."""
        executor = self._pool()
        lock, inflight = self._state()
        closed: Future = Future()
        with lock:
            inflight.add(closed)
        try:
            futures = {
                executor.submit(self.components[name].verifier.score_batch, [samples[i] for i in idx]): name
                for name, idx in jobs.items()
            }
            pending = set(futures)
            while pending and not closed.done():
                _, pending = wait(pending | {closed}, return_when=FIRST_COMPLETED)
                pending.discard(closed)
        finally:
            with lock:
                inflight.discard(closed)
        per_component: dict[str, dict[int, Score]] = {}
        for future, name in futures.items():
            idx = jobs[name]
            if not future.done():
                scores = [error_score(f"component {name!r}: the reward was closed while scoring") for _ in idx]
                per_component[name] = dict(zip(idx, scores, strict=True))
            else:
                per_component[name] = _checked(name, idx, future.result)
        return per_component

    def _combine(self, i: int, sample: Sample, key: str | None, route: list[str] | None, parts: dict) -> Score:
        values: dict[str, float | None] = {name: None for name in self.components}
        details: dict[str, Any] = {}
        if route is None:
            reason = f"no route for task {_short.repr(sample.task)} and no 'default' route"
            return Score(None, Status.NOT_APPLICABLE, values, {"route": None, "error": reason})
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
        info: dict[str, Any] = {"route": key, "components": details}
        if failed is not None:
            name, score = failed
            info["error"] = f"{name}: {score.info.get('error', score.status)}"
            return Score(None, score.status, values, info)
        if weight_used == 0.0:
            return Score(None, Status.NOT_APPLICABLE, values, {**info, "error": "no component applied"})
        if self.renormalize:
            total /= weight_used
        if not math.isfinite(total):  # finite values, yet a sum too large for a float
            return Score(None, Status.ERROR, values, {**info, "error": f"the weighted sum overflowed: {total}"})
        return Score(total, Status.OK, values, info)

    def close(self) -> None:
        """Close every component; a batch in flight returns at once, its unfinished samples as errors."""
        lock, inflight = self._state()
        with lock:
            signals = list(inflight)
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)  # a component still running finishes on its own
        for closed in signals:
            try:
                closed.set_result(None)
            except Exception:  # InvalidStateError: another close() got there first
                pass
        for comp in self.components.values():
            comp.verifier.close()


_TOP_KEYS = {"components", "routes", "renormalize", "think_prefilled", "end_tokens"}
# Reading options every built-in verifier shares (core.read_completion): set once at the top, they go to
# each component whose verifier takes them, unless its params set their own.
_SHARED_PARAMS = ("think_prefilled", "end_tokens")
_COMPONENT_KEYS = {"verifier", "weight", "params", "on_none"}

MAX_CONFIG_BYTES = 1 << 20  # a reward config is a few hundred bytes; a bigger file is a mistake
MAX_CONFIG_NODES = 10_000  # values in the config with every YAML alias expanded (an alias bomb is rejected)
MAX_CONFIG_DEPTH = 50
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlevel = 60, 60, 3


def _check_size(config: Any) -> None:
    """ConfigError when the config, with shared (aliased) values counted each time they appear,
    holds more than MAX_CONFIG_NODES values or nests deeper than MAX_CONFIG_DEPTH. Stops early."""
    stack: list[tuple[Any, int]] = [(config, 0)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_CONFIG_NODES:
            raise ConfigError(f"reward config too large: more than {MAX_CONFIG_NODES:,} values (a YAML alias bomb?)")
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError(f"reward config nested deeper than {MAX_CONFIG_DEPTH} levels")
        if isinstance(value, Mapping):
            stack.extend((v, depth + 1) for kv in value.items() for v in kv)
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read reward config {str(path)!r}: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes; not a reward config")
    try:
        return yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None


def load_reward(config: str | Path | Mapping[str, Any]) -> CompositeReward:
    """Build a CompositeReward from a YAML file path or an already-parsed mapping.

    Raises ConfigError naming the bad key for any malformed config. YAML is loaded safely (no
    Python objects) within limits: MAX_CONFIG_BYTES of text and MAX_CONFIG_NODES values with every
    alias expanded, so an alias bomb is refused at once.
    """
    if isinstance(config, (str, Path)):
        config = _read_yaml(Path(config))
    _check_size(config)
    if config is None:
        raise ConfigError("reward config is empty; it needs a 'components' mapping (see examples/r1.yaml)")
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
        raise ConfigError(f"renormalize: must be true or false, got {_short.repr(renormalize)}")

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
            raise ConfigError(f"{key}.weight: must be a finite number, got {_short.repr(weight)}")
        params = spec.get("params") or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"{key}.params: must be a mapping")
        on_none = spec.get("on_none", "fail")
        if on_none not in ("fail", "drop"):
            raise ConfigError(f"{key}.on_none: must be 'fail' or 'drop', got {_short.repr(on_none)}")
        params = dict(params)
        for shared in _SHARED_PARAMS:
            if shared in config and shared not in params and takes_parameter(spec["verifier"], shared):
                params[shared] = config[shared]
        specs.append((name, key, spec["verifier"], float(weight), params, on_none))

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
