"""TRL reward time per GRPO step: ours (sync and async) against TRL's own `accuracy_reward`, in one run.

    python benchmarks/bench_trl.py [--prompts 64] [--group 16] [--runs 3] [--data PATH]

One GRPO step's reward call: 64 prompts x G=16 completions (1,024), called the way GRPOTrainer calls
it: conversational completions (`[{"role": "assistant", "content": ...}]`), the gold in a `solution`
column. The completions are real model outputs and answers with externally labelled golds
(shared/data/math_real.jsonl, read at run time): each prompt's group mixes its own completion (as a
policy that often repeats itself would) with completions written for other problems whose answer is of
the same kind (integer, fraction, matrix, ...), as a policy's wrong answers usually are.

- TRL: `trl.rewards.accuracy_reward` (math-verify), called in the main thread, where math-verify's
  signal timeouts work (TRL turns them off in other threads).
- ours sync: `trl_reward({"components": {"accuracy": {"verifier": "math"}}})`.
- ours async: the same with `asynchronous=True`, awaited on a daemon event loop as TRL 1.16 does.
Each measurement runs in a fresh process (nothing cached from an earlier call): a warm-up (imports,
our `warm_up()` that starts the math workers, one small call on problems kept out of the timed step),
then one timed step. Prints a markdown table for benchmarks/RESULTS.md, and
how often the two agree and how each does on the labelled pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = next(
    (p for p in (ROOT.parent / "shared/data/math_real.jsonl", Path("/work/shared/data/math_real.jsonl")) if p.exists()),
    ROOT.parent / "shared/data/math_real.jsonl",
)
METHODS = ("trl", "ours_sync", "ours_async")


def load_items(data: Path) -> tuple[list[dict], list[dict]]:
    """(items for the timed step, a few other items for the warm-up call), so the warm-up fills no cache
    the timed step could use."""
    items = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    random.Random(12345).shuffle(items)
    return items[16:], items[:16]


def make_step(items: list[dict], prompts: int, group: int, seed: int) -> dict:
    """One GRPO step's reward inputs and, where the pair is labelled, the expected verdict."""
    rng = random.Random(seed)
    by_type: dict[str, list[dict]] = {}
    for item in items:
        by_type.setdefault(item["type"], []).append(item)
    chosen = rng.sample(items, prompts)
    batch = {"prompts": [], "completions": [], "solution": [], "expected": []}
    for item in chosen:
        for _ in range(group):
            own = rng.random() < 0.5
            source = item if own else rng.choice(by_type[item["type"]])  # a wrong answer of the same kind
            batch["prompts"].append([{"role": "user", "content": f"Problem {item['id']}"}])
            batch["completions"].append([{"role": "assistant", "content": source["completion"]}])
            batch["solution"].append(item["gold"])
            batch["expected"].append(item["expected"] if own and not item.get("debatable") else None)
    return batch


def run_child(method: str, data: Path, prompts: int, group: int, seed: int) -> dict:
    timed_items, warm_items = load_items(data)
    step = make_step(timed_items, prompts, group, seed)
    warm = make_step(warm_items, 8, 4, seed)
    kwargs = {k: step[k] for k in ("prompts", "completions", "solution")}
    warm_kwargs = {k: warm[k] for k in ("prompts", "completions", "solution")}
    if method == "trl":
        from trl.rewards import accuracy_reward

        def call(kw):
            return accuracy_reward(completions=kw["completions"], solution=kw["solution"])
    else:
        from verifiers.integrations.trl import trl_reward

        f = trl_reward({"components": {"accuracy": {"verifier": "math"}}}, asynchronous=method == "ours_async")
        f.warm_up()  # start the sympy workers now, as a trainer would before its first step
        if method == "ours_sync":
            def call(kw):
                return f(**kw)
        else:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()

            def call(kw):
                return asyncio.run_coroutine_threadsafe(f(**kw), loop).result()

    call(warm_kwargs)
    start = time.perf_counter()
    values = call(kwargs)
    seconds = time.perf_counter() - start
    return {"method": method, "seconds": seconds, "values": values, "expected": step["expected"]}


def summarize(results: dict[str, list[dict]]) -> None:
    n = len(results["trl"][0]["values"])
    print(f"\nreward time per GRPO step ({n} completions), one fresh process per measurement\n")
    print("| method | runs | median s/step | min s/step | completions/s | TRL / this |")
    print("|---|---|---|---|---|---|")
    trl_median = sorted(r["seconds"] for r in results["trl"])[len(results["trl"]) // 2]
    for method in METHODS:
        times = sorted(r["seconds"] for r in results[method])
        median = times[len(times) // 2]
        print(f"| {method} | {len(times)} | {median:.3f} | {times[0]:.3f} | {n / median:,.0f} | "
              f"{trl_median / median:.1f}x |")
    # agreement and labelled accuracy, over all runs
    agree = total = 0
    right = {m: 0 for m in METHODS}
    labelled = 0
    for i in range(len(results["trl"])):
        ours = results["ours_sync"][i]["values"]
        theirs = results["trl"][i]["values"]
        for a, b in zip(ours, theirs, strict=True):
            total += 1
            agree += (a is None and b is None) or (a is not None and b is not None and (a >= 0.5) == (b >= 0.5))
        for j, exp in enumerate(results["trl"][i]["expected"]):
            if exp is None:
                continue
            labelled += 1
            for m in METHODS:
                v = results[m][i]["values"][j]
                right[m] += v is not None and (v >= 0.5) == exp
    print(f"\nours and TRL agree on {agree / total:.1%} of {total} completions (None counts as agreeing only with None)")
    print(f"on the {labelled} labelled pairs (a problem's own completion, not debatable): " +
          ", ".join(f"{m} {right[m] / labelled:.1%}" for m in METHODS))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--group", type=int, default=16)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if not args.data.exists():
        sys.exit(f"data not found: {args.data} (pass --data path/to/math_real.jsonl)")
    if args.child:
        print(json.dumps(run_child(args.child, args.data, args.prompts, args.group, args.seed)))
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f} at start")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    results: dict[str, list[dict]] = {m: [] for m in METHODS}
    for run in range(args.runs):
        for method in METHODS:  # interleaved, so load drifts hit every method alike
            cmd = [sys.executable, __file__, "--child", method, "--seed", str(run), "--data", str(args.data),
                   "--prompts", str(args.prompts), "--group", str(args.group)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            results[method].append(json.loads(out.strip().splitlines()[-1]))
            print(f"run {run} {method}: {results[method][-1]['seconds']:.3f} s", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    summarize(results)


if __name__ == "__main__":
    main()
