"""TRL reward functions for any reward config.

    from trl import GRPOTrainer
    from verifiers.integrations.trl import trl_reward
    trainer = GRPOTrainer(model=..., reward_funcs=trl_reward("examples/r1.yaml"), train_dataset=...)

TRL (1.x) calls a reward function as `f(prompts=, completions=, completion_ids=, **columns,
trainer_state=, log_extra=, log_metric=)` and wants one float or None per completion; None is NaN to
TRL and a completion with only None rewards is left out of its group's baseline and gets advantage 0.
So an outage or an unusable gold answer (reward None under the composite's None policy) is passed
through as None: never a 0 that would become gradient.

- `trl_reward(config)`: one function, the composite reward; the per-component means go to
  `log_metric` as `<name>/<component>` and the per-completion values and statuses to the
  completions table through `log_extra`.
- `trl_rewards(config)`: one function per component, named after it (TRL logs each as
  `rewards/<component>/mean` and applies its own `reward_weights`; each function's `.weight` is the
  config's). A component that does not apply to a sample gives None for it; a sample whose whole
  reward is None gives None from every function, so TRL does not sum the rest into a partial reward.
  The functions share one scoring pass per batch.
- `asynchronous=True`: the functions are coroutines; TRL runs them concurrently on its event loop
  and the scoring runs in a thread, off the loop.

`completion_ids` (TRL passes them) go to each Sample's `meta["completion_ids"]`, so length verifiers
(`cosine_length`, `overlong`, `repetition` in tokens) measure tokens. The reference answer is read from the first dataset column of `reference`, `solution`, `answer`,
`ground_truth` (or the one named by `reference_field`; dotted paths reach nested columns such as
`reward_model.ground_truth`); the task from the `task` column (`task_field`) or a constant `task`.
Every function pickles (as its config), as TRL's AsyncGRPOTrainer needs for its spawned scorer.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from verifiers.core import Sample, Score, Verifier
from verifiers.integrations.lazy import LazyReward

REFERENCE_COLUMNS = ("reference", "solution", "answer", "ground_truth")
Config = str | os.PathLike[str] | Mapping[str, Any] | Verifier


def _column(columns: Mapping[str, Any], path: str, n: int) -> list[Any] | None:
    """One value per completion from a dataset column (a dotted path reaches into dict columns)."""
    head, _, rest = path.partition(".")
    if head not in columns:
        return None
    values = columns[head]
    if not isinstance(values, (list, tuple)) or len(values) != n:
        raise ValueError(f"column {head!r}: expected a list of {n} values, got {type(values).__name__}")
    out = []
    for value in values:
        for part in rest.split(".") if rest else ():
            value = value.get(part) if isinstance(value, Mapping) else None
        out.append(value)
    return out


class _Scorer:
    """Turns TRL's call into Samples and scores them; shared by the functions of one trl_rewards call
    so that a batch is scored once however many component functions TRL calls with it."""

    def __init__(self, config: Config, reference_field: str | None, task: str | None, task_field: str) -> None:
        self.reward = LazyReward(config)
        self.reference_field = reference_field
        self.task = task
        self.task_field = task_field
        self._lock = threading.Lock()
        self._last: tuple[tuple, Future] | None = None
        self._warned = False

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_last", "_warned")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock, self._last, self._warned = threading.Lock(), None, False

    def _warn_no_reference(self, columns: Mapping[str, Any]) -> None:
        """Once: the dataset has no reference column while the config routes rows by task, so every
        completion takes the `default` route and accuracy never applies (usually a gold answer
        under another name)."""
        routes = getattr(self.reward.get(), "routes", None) or {}
        if self._warned or self.task is not None or not any(k != "default" for k in routes):
            return
        self._warned = True
        have = ", ".join(sorted(k for k in columns if k not in ("trainer_state", "log_extra", "log_metric")))
        warnings.warn(
            f"verifiers trl reward: the dataset has none of the reference columns {', '.join(REFERENCE_COLUMNS)} "
            f"(columns: {have or 'none'}), so every completion takes the 'default' route "
            f"({', '.join(routes.get('default') or ['not scored'])}) and no accuracy component applies; "
            f"name the gold-answer column with reference_field=",
            stacklevel=4,
        )

    def samples(self, prompts: Sequence[Any] | None, completions: Sequence[Any], columns: Mapping[str, Any]) -> list[Sample]:
        n = len(completions)
        if prompts is not None and len(prompts) != n:
            raise ValueError(f"got {len(prompts)} prompts for {n} completions")
        if self.reference_field is not None:
            references = _column(columns, self.reference_field, n)
            if references is None:
                have = ", ".join(sorted(k for k in columns if k not in ("trainer_state", "log_extra", "log_metric")))
                raise ValueError(f"reference column {self.reference_field!r} not in the dataset; columns: {have}")
        else:
            references = next((r for c in REFERENCE_COLUMNS if (r := _column(columns, c, n)) is not None), None)
            if references is None and self.task_field not in columns:
                self._warn_no_reference(columns)
        tasks = None if self.task is not None else _column(columns, self.task_field, n)
        ids = columns.get("completion_ids")  # token ids of each completion: length in tokens (cosine_length, overlong)
        if ids is not None and (not isinstance(ids, (list, tuple)) or len(ids) != n):
            raise ValueError(f"completion_ids: expected a list of {n} token-id lists, got {type(ids).__name__}")
        return [
            Sample(
                completions[i],
                prompt=None if prompts is None else prompts[i],
                reference=None if references is None else references[i],
                task=self.task if tasks is None else tasks[i],
                meta={} if ids is None else {"completion_ids": ids[i]},
            )
            for i in range(n)
        ]

    def _claim(self, prompts: Any, completions: Any, columns: Mapping[str, Any]) -> tuple[Future, bool]:
        """The future for this batch and whether the caller must compute it (the first caller does).

        The key holds the argument lists themselves (so their ids cannot be reused) and shallow
        copies (so a list changed in place is a new batch)."""
        parts = [prompts, completions] + [columns.get(c) for c in (*REFERENCE_COLUMNS, self.task_field)]
        if self.reference_field:
            parts.append(columns.get(self.reference_field.partition(".")[0]))
        key = tuple((p, list(p) if isinstance(p, (list, tuple)) else p) for p in parts)
        with self._lock:
            if self._last is not None and len(self._last[0]) == len(key) and all(
                a[0] is b[0] and a[1] == b[1] for a, b in zip(self._last[0], key, strict=True)
            ):
                return self._last[1], False
            future: Future = Future()
            self._last = (key, future)
            return future, True

    def score(self, prompts: Any, completions: Any, columns: Mapping[str, Any]) -> list[Score]:
        future, mine = self._claim(prompts, completions, columns)
        if mine:
            try:
                future.set_result(self.reward.get().score_batch(self.samples(prompts, completions, columns)))
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()

    async def ascore(self, prompts: Any, completions: Any, columns: Mapping[str, Any]) -> list[Score]:
        future, mine = self._claim(prompts, completions, columns)
        if mine:
            try:
                samples = self.samples(prompts, completions, columns)
                future.set_result(await asyncio.to_thread(self.reward.get().score_batch, samples))
            except BaseException as exc:
                future.set_exception(exc)
        return await asyncio.wrap_future(future)


def _value(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


class _RewardFunction:
    """Base of the callables TRL gets: named (TRL logs `__name__`), picklable."""

    def __init__(self, scorer: _Scorer, name: str, component: str | None, weight: float) -> None:
        self._scorer = scorer
        self.__name__ = name
        self.component = component
        self.weight = weight

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__}>"

    def warm_up(self) -> None:
        """Build the reward in this process and start its workers now (e.g. before training), so the
        first step does not pay for it."""
        self._scorer.reward.warm_up()

    def _values(self, scores: list[Score], log_extra: Callable | None, log_metric: Callable | None) -> list[float | None]:
        if self.component is not None:
            # a reward None under the None policy is None for every component: no partial sums in TRL
            return [None if s.value is None else _value(s.components.get(self.component)) for s in scores]
        values = [_value(s.value) for s in scores]
        names = sorted({c for s in scores for c in s.components})
        if log_extra is not None:
            log_extra(f"{self.__name__}/status", [str(s.status) for s in scores])
            for c in names:
                log_extra(f"{self.__name__}/{c}", [s.components.get(c) for s in scores])
        if log_metric is not None:
            for c in names:
                got = [v for s in scores if (v := s.components.get(c)) is not None]
                if got:
                    log_metric(f"{self.__name__}/{c}", sum(got) / len(got))
            log_metric(f"{self.__name__}/none_fraction", sum(v is None for v in values) / max(len(values), 1))
        return values


class TRLReward(_RewardFunction):
    """A synchronous TRL reward function (see the module doc)."""

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        log_extra: Callable | None = None,
        log_metric: Callable | None = None,
        **columns: Any,
    ) -> list[float | None]:
        if completions is None:
            raise TypeError(f"{self.__name__}: completions= is required")
        return self._values(self._scorer.score(prompts, completions, columns), log_extra, log_metric)


class AsyncTRLReward(_RewardFunction):
    """An async TRL reward function: TRL awaits it on its event loop; scoring runs in a thread."""

    async def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        log_extra: Callable | None = None,
        log_metric: Callable | None = None,
        **columns: Any,
    ) -> list[float | None]:
        if completions is None:
            raise TypeError(f"{self.__name__}: completions= is required")
        return self._values(await self._scorer.ascore(prompts, completions, columns), log_extra, log_metric)


def _default_name(config: Config) -> str:
    if isinstance(config, (str, os.PathLike)):
        return Path(config).stem.replace("-", "_") or "reward"
    return "reward"


def trl_reward(
    config: Config,
    *,
    name: str | None = None,
    reference_field: str | None = None,
    task: str | None = None,
    task_field: str = "task",
    asynchronous: bool = False,
) -> TRLReward | AsyncTRLReward:
    """One TRL reward function for a reward config (YAML path, mapping or CompositeReward).

    Named `name` (default: the YAML file's stem, else "reward"); returns the composite reward per
    completion, None where it is None. Raises ConfigError now for a bad config.
    """
    scorer = _Scorer(config, reference_field, task, task_field)
    cls = AsyncTRLReward if asynchronous else TRLReward
    return cls(scorer, name or _default_name(config), None, 1.0)


def trl_rewards(
    config: Config,
    *,
    reference_field: str | None = None,
    task: str | None = None,
    task_field: str = "task",
    asynchronous: bool = False,
) -> list[TRLReward | AsyncTRLReward]:
    """One TRL reward function per component of a composite config, named after the component.

    Use `reward_weights=[f.weight for f in funcs]` in GRPOConfig for the config's weights.
    """
    scorer = _Scorer(config, reference_field, task, task_field)
    components = getattr(scorer.reward.get(), "components", None)
    if not isinstance(components, Mapping):
        raise TypeError("trl_rewards needs a composite reward config (with components); use trl_reward")
    cls = AsyncTRLReward if asynchronous else TRLReward
    return [cls(scorer, name, name, comp.weight) for name, comp in components.items()]
