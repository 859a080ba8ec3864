"""Speed of the rule rewards against an earlier revision of the same code, side by side in one process.

    python benchmarks/bench_before_after.py --rev REV [--rounds 5]

Loads verifiers/language.py, verifiers/format.py and verifiers/math/extract.py as they were at REV
(`git show`) beside the current ones and times each on the same inputs, alternating rounds, in CPU
time; prints the best round of each and the ratio now / then. Inputs: bench_score.py's generated
chains of thought (language_ratio, check_format) and the completions of benchmarks/data/math_cases.jsonl
and, when present, the shared math_real.jsonl (extract_answers). A module missing at REV is skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_score  # noqa: E402

import verifiers.format as format_now  # noqa: E402
import verifiers.language as language_now  # noqa: E402
import verifiers.math.extract as extract_now  # noqa: E402


def load_at(rev: str, path: str, folder: Path) -> ModuleType | None:
    """The module at `path` as it was at `rev`, loaded under another name; None if it did not exist."""
    shown = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    file = folder / path.replace("/", "_")
    file.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location(f"then_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_rate(fn, items, rounds: int) -> list[float]:
    rates = []
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            fn(item)
        rates.append(len(items) / (time.process_time() - start))
    return rates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rev", required=True, help="the earlier revision (a commit)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    rng = random.Random(0)
    rows = [bench_score.make_row(i, rng) for i in range(2000)]
    chains = [(r["completion"].split("</think>")[0], "zh" if "请" in r["prompt"] else "en") for r in rows]
    completions = [r["completion"] for r in rows]
    math_texts = [json.loads(line)["completion"] for line in (ROOT / "benchmarks/data/math_cases.jsonl").open()]
    for real in (ROOT.parent / "shared" / "data" / "math_real.jsonl", Path("/work/shared/data/math_real.jsonl")):
        if real.is_file():
            math_texts += [json.loads(line)["completion"] for line in real.open()]
            break

    with tempfile.TemporaryDirectory() as tmp:
        then_language = load_at(args.rev, "verifiers/language.py", Path(tmp))
        if then_language is not None:
            then_language._model = language_now._load_model()  # one model for both
        pairs = [
            ("language_ratio", then_language, language_now, lambda m: lambda c: m.language_ratio(*c), chains),
            ("check_format", load_at(args.rev, "verifiers/format.py", Path(tmp)), format_now,
             lambda m: m.check_format, completions),
            ("extract_answers", load_at(args.rev, "verifiers/math/extract.py", Path(tmp)), extract_now,
             lambda m: m.extract_answers, math_texts),
        ]  # fmt: skip
        print(f"CPU time, best of {args.rounds} alternating rounds; then = {args.rev}\n")
        print("| function | inputs | then, calls/s | now, calls/s | now / then |")
        print("|---|---:|---:|---:|---:|")
        for name, then, now, call, items in pairs:
            if then is None or not hasattr(then, name):
                print(f"| {name} | {len(items)} | (missing at {args.rev}) | | |")
                continue
            then_rates, now_rates = [], []
            for _ in range(args.rounds):
                then_rates += best_rate(call(then), items, 1)
                now_rates += best_rate(call(now), items, 1)
            t, n = max(then_rates), max(now_rates)
            print(f"| {name} | {len(items)} | {t:,.0f} | {n:,.0f} | {n / t:.2f}x |")


if __name__ == "__main__":
    main()
