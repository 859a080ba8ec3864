"""pass@k and maj@k over groups of scored completions (one group per prompt).

pass@k: the unbiased estimator (Chen et al., 2021). With n completions of which c are correct,
    pass@k = 1 - C(n - c, k) / C(n, k): the chance that at least one of k completions drawn
    without replacement is correct.
maj@k: the chance that a majority vote over k completions drawn without replacement picks a
    correct answer. The votes are the completions' final answers (`verifiers.math.extract_answer`)
    grouped by mathematical equivalence (`math_equal` both ways, so "0.5" and "\\frac12" are one
    vote). A completion with no answer does not vote; a draw with no votes is wrong; a tie is broken
    uniformly at random (counted in expectation). The winning answer is correct when its completions
    are correct by the metric (the fraction of them that are, should they disagree). The value is
    the average over all C(n, k) draws when there are at most `max_draws` of them, else over
    `samples` random draws with a fixed seed, so it is reproducible.

A group needs n >= k; groups smaller than k are left out of that k's mean (the report says how many
groups each k used).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verifiers.rows import MISSING, lookup

MAX_DRAWS = 5000
SAMPLES = 2000


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate for n completions of which c are correct (k <= n)."""
    if not (0 <= c <= n) or not (1 <= k <= n):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    # 1 - prod_{i=n-c+1}^{n} (1 - k/i): stable for large n, no huge binomials
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def cluster_answers(answers: Sequence[str | None], *, timeout: float = 5.0) -> list[int | None]:
    """A cluster id per answer (None for no answer); equal ids mean mathematically equal answers.

    Two answers are one cluster when `math_equal` holds both ways; identical strings (after
    stripping) never need a comparison.
    """
    from verifiers.math import math_equal

    reps: list[str] = []  # one representative per cluster
    by_text: dict[str, int] = {}
    out: list[int | None] = []
    for answer in answers:
        if answer is None or not answer.strip():
            out.append(None)
            continue
        text = answer.strip()
        if text not in by_text:
            for cid, rep in enumerate(reps):
                if math_equal(rep, text, timeout=timeout) and math_equal(text, rep, timeout=timeout):
                    by_text[text] = cid
                    break
            else:
                by_text[text] = len(reps)
                reps.append(text)
        out.append(by_text[text])
    return out


def _vote(draw: Sequence[int], clusters: Sequence[int | None], correct: Sequence[bool]) -> float:
    votes: dict[int, list[bool]] = {}
    for i in draw:
        if clusters[i] is not None:
            votes.setdefault(clusters[i], []).append(correct[i])
    if not votes:
        return 0.0
    top = max(len(v) for v in votes.values())
    winners = [v for v in votes.values() if len(v) == top]
    return sum(sum(v) / len(v) for v in winners) / len(winners)


def maj_at_k(
    clusters: Sequence[int | None],
    correct: Sequence[bool],
    k: int,
    *,
    max_draws: int = MAX_DRAWS,
    samples: int = SAMPLES,
    seed: int = 0,
) -> float:
    """The chance that a majority vote over k of these completions is correct (see the module doc)."""
    n = len(clusters)
    if len(correct) != n:
        raise ValueError(f"clusters and correct differ in length: {n} != {len(correct)}")
    if not 1 <= k <= n:
        raise ValueError(f"maj@k needs 1 <= k <= n, got n={n}, k={k}")
    if math.comb(n, k) <= max_draws:
        draws: Iterable[Sequence[int]] = itertools.combinations(range(n), k)
        count = math.comb(n, k)
    else:
        rng = random.Random(seed)
        draws = (rng.sample(range(n), k) for _ in range(samples))
        count = samples
    return sum(_vote(d, clusters, correct) for d in draws) / count


@dataclass
class GroupResult:
    """pass@k and maj@k of one prompt group."""

    group: str
    n: int
    correct: int
    pass_at: dict[int, float] = field(default_factory=dict)
    maj_at: dict[int, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "n": self.n,
            "correct": self.correct,
            "pass@k": {str(k): v for k, v in self.pass_at.items()},
            "maj@k": {str(k): v for k, v in self.maj_at.items()},
        }


def evaluate_group(
    group: str,
    answers: Sequence[str | None],
    correct: Sequence[bool],
    ks: Sequence[int],
    *,
    timeout: float = 5.0,
) -> GroupResult:
    """pass@k and maj@k for each k <= n of one group's answers and correctness."""
    if len(answers) != len(correct):
        raise ValueError(f"answers and correct differ in length: {len(answers)} != {len(correct)}")
    n, c = len(correct), sum(bool(x) for x in correct)
    result = GroupResult(group, n, c)
    usable = [k for k in ks if k <= n]
    if not usable:
        return result
    clusters = cluster_answers(answers, timeout=timeout)
    for k in usable:
        result.pass_at[k] = pass_at_k(n, c, k)
        result.maj_at[k] = maj_at_k(clusters, [bool(x) for x in correct], k)
    return result


# ---------------------------------------------------------------- scored rows


class EvalError(ValueError):
    """The scored rows cannot be evaluated as asked (e.g. no row has the metric)."""


def group_key(value: Any) -> str:
    """A prompt (text or messages) as a group key."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def row_metric(row: Mapping[str, Any], metrics: Sequence[str], prefix: str = "") -> float | None:
    """The first of `metrics` with a value in a scored row: "reward", or a component name (read from
    the `<prefix>reward` and `<prefix>components` columns, as `verifiers score --prefix` wrote them)."""
    raw = row.get(f"{prefix}components")
    components = raw if isinstance(raw, Mapping) else {}
    for name in metrics:
        value = row.get(f"{prefix}reward") if name == "reward" else components.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def evaluate_rows(
    rows: Iterable[Mapping[str, Any]],
    ks: Sequence[int] = (1, 4, 16),
    *,
    metrics: Sequence[str] = ("accuracy",),
    threshold: float = 1.0,
    group_by: str = "prompt",
    completion_field: str = "completion",
    prefix: str = "",
    timeout: float = 5.0,
) -> dict[str, Any]:
    """pass@k and maj@k per prompt group of scored rows (as `verifiers score` writes them).

    A row is correct when its metric (the first of `metrics` with a value: "reward" or a component
    name) is >= threshold. Rows without a metric value (not scored, an outage, the component did
    not apply) or without a group are left out and counted under "skipped". maj@k needs each row's
    completion (`completion_field`, a dotted path): a group with a row that has none gets no maj@k
    (never a 0 from votes that were never read); the overall maj@k is over the groups that have one.
    Returns the report: overall means per k, groups per k, skipped counts and per-group results.
    Raises EvalError when no row has a metric value, naming the components the rows do have, or
    when no row with a value has the group field.
    """
    from verifiers.math import extract_answer

    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise EvalError(f"k values must be positive integers, got {list(ks)}")
    ks = sorted(set(ks))
    groups: dict[str, tuple[list[str | None], list[bool]]] = {}
    unreadable_groups: set[str] = set()  # groups with a row without its completion: no maj@k
    skipped = {"no metric value": 0, "no group": 0}
    no_completion = 0
    seen_components: set[str] = set()
    total = 0
    for row in rows:
        total += 1
        if isinstance(row.get(f"{prefix}components"), Mapping):
            seen_components.update(row[f"{prefix}components"])
        value = row_metric(row, metrics, prefix)
        if value is None:
            skipped["no metric value"] += 1
            continue
        key = lookup(row, group_by)
        if key is None or key is MISSING:
            skipped["no group"] += 1
            continue
        answers, correct = groups.setdefault(group_key(key), ([], []))
        completion = lookup(row, completion_field)
        if completion is MISSING:
            no_completion += 1
            unreadable_groups.add(group_key(key))
            completion = None
        answers.append(extract_answer(completion) if completion is not None else None)
        correct.append(value >= threshold)
    if not groups and skipped["no metric value"]:
        where = f" (columns {prefix}reward, {prefix}components)" if prefix else ""
        if not seen_components:  # not scored at all, or scored under a prefix not given
            raise EvalError(f"no row has a value for {' or '.join(metrics)}{where}: no row has a "
                            f"'{prefix}components' column; eval reads the output of `verifiers score` "
                            "(give --prefix if it was scored with one)")
        have = ", ".join(sorted(seen_components))
        raise EvalError(f"no row has a value for {' or '.join(metrics)}{where}; the rows' components: {have}")
    if not groups and skipped["no group"]:
        raise EvalError(f"no scored row has the group field {group_by!r}; name the prompt's field (--group-by)")
    results = [evaluate_group(g, a, c, ks, timeout=timeout) for g, (a, c) in groups.items()]
    for r in results:
        if r.group in unreadable_groups:
            r.maj_at = {k: None for k in r.maj_at}
    report: dict[str, Any] = {
        "metric": list(metrics),
        "threshold": threshold,
        "rows": total,
        "groups": len(results),
        "skipped": skipped,
        "k": ks,
        "groups_per_k": {},
        "pass@k": {},
        "maj@k": {},
    }
    if no_completion:
        report["skipped"][f"no {completion_field} (no maj@k for its group)"] = no_completion
    for k in ks:
        used = [r for r in results if k in r.pass_at]
        voted = [r.maj_at[k] for r in used if r.maj_at.get(k) is not None]
        report["groups_per_k"][str(k)] = len(used)
        report["pass@k"][str(k)] = sum(r.pass_at[k] for r in used) / len(used) if used else None
        report["maj@k"][str(k)] = sum(voted) / len(voted) if voted else None
    report["per_group"] = [r.to_dict() for r in results]
    return report
