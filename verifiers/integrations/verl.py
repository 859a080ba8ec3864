"""verl's custom reward function for any reward config.

    custom_reward_function:
      path: /path/to/site-packages/verifiers/integrations/verl.py   # or: python -c "import verifiers.integrations.verl as m; print(m.__file__)"
      name: compute_score
      reward_kwargs: {config: /abs/path/r1.yaml}

verl (0.9) calls `compute_score(data_source, solution_str, ground_truth, extra_info=None, **reward_kwargs)`
per sample (keywords in its reward managers, positionally in `main_eval`), or, with the `batch`
reward manager, `compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=, **kw)`
once per batch. Both shapes are served here. Each sample gives `{"score": total, **components}`;
verl uses "score" as the reward and logs the other keys as per-component metrics. A component that
did not apply to the sample is absent (not 0); with `missing: nan` it is NaN instead, for verl
code that needs every key on every sample (its reward loop takes the keys from the first sample of
a batch, so mixed routes need this).

None (an outage, an unusable gold): verl needs a float. By default it becomes NaN: never a 0 that
would become gradient; verl skips an optimiser step whose gradient norm is not finite and the NaN
shows in the logged reward. `on_none: raise` stops the run instead; `on_none: <number>` is your
explicit choice of a value.

reward_kwargs: `config` (YAML path; else the environment variable VERIFIERS_CONFIG), `task` (a
constant route key), `on_none` (nan | raise | a number), `missing` (absent | nan),
`scalar: true` (return the float alone, as `main_eval` averages plain numbers).
The route is `extra_info["task"]` when present, else `task`, else the data source when the YAML
has a route of that name (`openai/gsm8k: [accuracy, format]`), so `routes:` can select components
per dataset; any other sample is routed by its ground truth, as a row without a task (a gold answer
is `math`, a test suite `code`). The prompt for `language: {target: auto}` is `extra_info["prompt"]` or
`extra_info["question"]` when the dataset stores it there.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from verifiers.core import Sample, Score
from verifiers.integrations.lazy import LazyReward

ENV_CONFIG = "VERIFIERS_CONFIG"
_rewards: dict[str, LazyReward] = {}
_lock = threading.Lock()


def _reward(config: str | os.PathLike[str] | None) -> LazyReward:
    path = config if config is not None else os.environ.get(ENV_CONFIG)
    if not path:
        raise ValueError(
            f"verifiers compute_score: no reward config; set reward_kwargs: {{config: /path/r1.yaml}} "
            f"in verl's custom_reward_function, or the environment variable {ENV_CONFIG}"
        )
    key = os.fspath(path)
    with _lock:
        if key not in _rewards:
            _rewards[key] = LazyReward(key)
        return _rewards[key]


def _none_policy(on_none: Any) -> float | str:
    if on_none in ("nan", "raise"):
        return on_none
    if isinstance(on_none, bool) or not isinstance(on_none, (int, float)):
        raise ValueError(f"verifiers compute_score: on_none must be 'nan', 'raise' or a number, got {on_none!r}")
    return float(on_none)


def _plain(value: Any) -> Any:
    """A numpy scalar or array (verl reads its parquet columns with numpy) as the Python value it holds."""
    if type(value).__module__ == "numpy" and callable(getattr(value, "tolist", None)):
        return value.tolist()
    return value


def _sample(
    data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any, task: str | None, routes: Any
) -> Sample:
    extra = extra_info if isinstance(extra_info, Mapping) else {}
    route = extra.get("task") if isinstance(extra.get("task"), str) else task
    if route is None and data_source is not None and str(data_source) in routes:
        # a data source the config routes; any other is routed like a row without a task (by its
        # reference: a gold answer is math, a test suite code), so examples/r1.yaml grades GSM8K
        route = str(data_source)
    ground_truth = _plain(ground_truth)
    prompt = next((extra[k] for k in ("prompt", "question") if isinstance(extra.get(k), (str, list))), None)
    completion = solution_str if isinstance(solution_str, (str, list)) else str(solution_str)
    return Sample(completion, prompt=prompt, reference=ground_truth, task=route, meta={"extra_info": extra})


def _result(score: Score, on_none: float | str, missing: str, scalar: bool) -> float | dict[str, float]:
    value = score.value
    if value is None or not math.isfinite(value):
        if on_none == "raise":
            reason = score.info.get("error", "no value")
            raise RuntimeError(f"verifiers compute_score: reward is None ({score.status}): {reason}")
        value = math.nan if on_none == "nan" else on_none
    if scalar:
        return float(value)
    out: dict[str, float] = {"score": float(value)}
    for name, v in score.components.items():
        if v is not None:
            out[name] = float(v)
        elif missing == "nan":
            out[name] = math.nan
    return out


def compute_score(
    data_source: Any = None,
    solution_str: Any = None,
    ground_truth: Any = None,
    extra_info: Any = None,
    *,
    data_sources: Sequence[Any] | None = None,
    solution_strs: Sequence[Any] | None = None,
    ground_truths: Sequence[Any] | None = None,
    extra_infos: Sequence[Any] | None = None,
    config: str | os.PathLike[str] | None = None,
    task: str | None = None,
    on_none: Any = "nan",
    missing: str = "absent",
    scalar: bool = False,
    **_verl_kwargs: Any,
) -> float | dict[str, float] | list[float | dict[str, float]]:
    """verl's reward function: one sample (per-sample shape) or a list (batch shape); see the module doc."""
    policy = _none_policy(on_none)
    if missing not in ("absent", "nan"):
        raise ValueError(f"verifiers compute_score: missing must be 'absent' or 'nan', got {missing!r}")
    reward = _reward(config).get()
    routes = getattr(reward, "routes", None) or {}
    if solution_strs is not None:  # the batch shape
        n = len(solution_strs)
        sources = list(data_sources) if data_sources is not None else [None] * n
        truths = list(ground_truths) if ground_truths is not None else [None] * n
        extras = list(extra_infos) if extra_infos is not None else [None] * n
        if not len(sources) == len(truths) == len(extras) == n:
            raise ValueError(
                f"verifiers compute_score: batch lengths differ: {len(sources)} data_sources, {n} solution_strs, "
                f"{len(truths)} ground_truths, {len(extras)} extra_infos"
            )
        samples = [_sample(sources[i], solution_strs[i], truths[i], extras[i], task, routes) for i in range(n)]
        return [_result(s, policy, missing, scalar) for s in reward.score_batch(samples)]
    if solution_str is None:
        raise TypeError("verifiers compute_score: needs solution_str (per sample) or solution_strs (batch)")
    score = reward.score_batch([_sample(data_source, solution_str, ground_truth, extra_info, task, routes)])[0]
    return _result(score, policy, missing, scalar)
