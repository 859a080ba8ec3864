"""examples/r1_shaped.yaml with cosine_length reusing the accuracy component ({component: accuracy}) beside
the same config wrapping its own math verifier (the math runs twice a row), side by side in one run.

    python benchmarks/bench_shaped.py [--rows 2000] [--repeats 2]

Each measurement is a fresh process (cold verdict cache, pools started before the clock) scoring the
rows in batches of 256 with `CompositeReward.score_batch`; CPU is user + system of that process and every
descendant (the math worker pool), read with psutil before it closes. Rows: bench_score's math rows
(plain numbers, fractions, a symbolic tenth that needs sympy). Prints a markdown table for RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_score import machine, make_math_row  # noqa: E402

MEASURE = r"""
import json, sys, time
import psutil
from verifiers import Sample, load_reward
from verifiers.rows import row_to_sample

samples = [row_to_sample(json.loads(line)) for line in open(sys.argv[2])]
me = psutil.Process()

def cpu():
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total

reward = load_reward(sys.argv[1])
reward.score_batch([Sample("<think>w</think><answer>7</answer>", reference="8", prompt="Solve it.")])
c0, t0 = cpu(), time.perf_counter()
values = []
for i in range(0, len(samples), 256):
    values += [s.value for s in reward.score_batch(samples[i:i + 256])]
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": cpu() - c0, "values": values}))
reward.close()
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        rows = Path(tmp) / "rows.jsonl"
        rows.write_text("".join(json.dumps(make_math_row(i, rng)) + "\n" for i in range(args.rows)))
        reuse = ROOT / "examples" / "r1_shaped.yaml"
        config = yaml.safe_load(reuse.read_text())
        accuracy = config["components"]["accuracy"]
        config["components"]["length"]["params"]["accuracy"] = {"verifier": accuracy["verifier"],
                                                                "params": accuracy.get("params", {})}
        twice = Path(tmp) / "twice.yaml"
        twice.write_text(yaml.safe_dump(config))
        runs: dict[str, list[dict]] = {"reuse": [], "twice": []}
        for _ in range(args.repeats):
            for name, path in (("twice", twice), ("reuse", reuse)):
                out = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(rows)], capture_output=True,
                                     text=True, cwd=ROOT)
                if out.returncode:
                    sys.exit(f"the {name} run failed:\n{out.stderr}")
                runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    same = all(a["values"] == b["values"] for a, b in zip(runs["twice"], runs["reuse"], strict=True))
    print(f"Machine: {machine()}\n")
    print(f"examples/r1_shaped.yaml on {args.rows} math rows, {args.repeats} alternating fresh runs each "
          f"(same rewards: {same}):\n")
    print("| cosine_length's accuracy | wall s (each run) | CPU s incl. math workers (each run) |\n|---|---|---|")
    for name, label in (("twice", "its own math verifier (math twice a row)"),
                        ("reuse", "`{component: accuracy}` (math once a row)")):
        walls = ", ".join(f"{r['wall']:.2f}" for r in runs[name])
        cpus = ", ".join(f"{r['cpu']:.2f}" for r in runs[name])
        print(f"| {label} | {walls} | {cpus} |")


if __name__ == "__main__":
    main()
