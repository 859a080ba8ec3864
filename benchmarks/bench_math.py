"""Math verifier vs math-verify, side by side in one run.

    .venv/bin/python benchmarks/bench_math.py [--quick]

1. Accuracy per category on benchmarks/data/math_cases.jsonl (gold, completion, label): ours through
   MathVerifier.score, math-verify through its documented API, verify(parse(gold), parse(completion)),
   called on the main thread with its default (signal.alarm) timeouts.
   Then the same on the shared real set ../shared/data/math_real.jsonl (labelled outside this project;
   read where it lives, or from $MATH_REAL_DATA, never copied here), by subset and format.
2. Throughput on an RL-style workload (GRPO groups of G=8 R1-format completions sharing one gold, answers
   repeating within a group) and on all-distinct pairs (the real set). Ours: score_batch with its worker
   pool (2 workers, result cache cleared first). math-verify: one process, as TRL's accuracy_reward runs
   it; a 2-process figure (multiprocessing.Pool, fork) is printed beside it.
3. Latency per sample (p50 / p99 / max) on the labelled set, one sample at a time.
4. Worst latency on an adversarial set (power towers, factorials, 1 MB strings, deep nesting, unbalanced
   braces, degenerate repetition); math-verify runs those on the main thread with its own timeouts.
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from math_verify import parse, verify  # noqa: E402

from verifiers import Sample  # noqa: E402
from verifiers.math import MathVerifier  # noqa: E402
from verifiers.math.compare import decide_cheap  # noqa: E402
from verifiers.math.extract import extract_answers, extract_gold  # noqa: E402
from verifiers.math.verifier import clear_cache  # noqa: E402

logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # it logs every timeout with the whole input
CASES = Path(__file__).parent / "data" / "math_cases.jsonl"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "math_real.jsonl"
TIMEOUT = 5.0


def mv_equal(gold: str, completion: str) -> bool:
    """math-verify as documented: parse both sides, then verify(gold, answer)."""
    gold_parsed = parse(f"${gold}$") or parse(gold)
    return bool(verify(gold_parsed, parse(completion)))


def mv_safe(gold: str, completion: str) -> bool:
    try:
        return mv_equal(gold, completion)
    except Exception:
        return False


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


# ---------------------------------------------------------------- RL-style workload


def rl_workload(n_prompts: int, group: int, seed: int = 0) -> list[tuple[str, str]]:
    """(gold, completion) pairs shaped like a GRPO batch on MATH-style problems."""
    rng = random.Random(seed)

    def gold_and_forms() -> tuple[str, list[str], list[str]]:
        kind = rng.random()
        if kind < 0.55:
            n = rng.randint(-50, 2000)
            return (
                str(n),
                [str(n), f"{n}.0" if rng.random() < 0.5 else f"x = {n}"],
                [str(n + rng.randint(1, 9))],
            )
        if kind < 0.70:
            a, b = rng.randint(1, 30), rng.randint(2, 40)
            return (
                f"\\frac{{{a}}}{{{b}}}",
                [f"\\frac{{{a}}}{{{b}}}", f"\\dfrac{{{a}}}{{{b}}}", f"{a}/{b}"],
                [f"\\frac{{{a + 1}}}{{{b}}}", f"\\frac{{{b}}}{{{a}}}"],
            )
        if kind < 0.80:
            a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
            return (
                f"{a}\\sqrt{{{b}}}",
                [f"{a}\\sqrt{{{b}}}", f"\\sqrt{{{a * a * b}}}"],
                [f"{a + 1}\\sqrt{{{b}}}", f"{a}\\sqrt{{{b + 1}}}"],
            )
        if kind < 0.85:
            a = rng.randint(2, 12)
            return (
                f"\\frac{{\\pi}}{{{a}}}",
                [f"\\frac{{\\pi}}{{{a}}}", f"\\pi/{a}"],
                [f"\\frac{{\\pi}}{{{a + 1}}}"],
            )
        if kind < 0.90:  # a surd written with a radical denominator: only sympy rationalises it
            a, b = rng.randint(1, 4), rng.choice([2, 3, 5, 7, 11])
            return (
                f"\\sqrt{{{b}}}-{a}",
                [f"\\sqrt{{{b}}}-{a}", f"\\frac{{{b - a * a}}}{{\\sqrt{{{b}}}+{a}}}"],
                [f"\\sqrt{{{b}}}+{a}", f"\\frac{{{b - a * a}}}{{\\sqrt{{{b}}}-{a}}}"],
            )
        if kind < 0.93:
            a, b = rng.randint(-9, 9), rng.randint(-9, 9)
            return f"({a}, {b})", [f"({a}, {b})", f"\\left({a},{b}\\right)"], [f"({b}, {a + 1})"]
        if kind < 0.96:
            d = round(rng.uniform(0, 100), 2)
            return str(d), [str(d)], [str(round(d + 0.5, 2))]
        a = rng.randint(2, 9)
        return f"x^2+{2 * a}x+{a * a}", [f"(x+{a})^2", f"x^2+{2 * a}x+{a * a}"], [f"(x-{a})^2"]

    think_words = "we consider the cases and compute the sum step by step so that the value is".split()
    pairs = []
    for _ in range(n_prompts):
        gold, right, wrong = gold_and_forms()
        for _ in range(group):
            thinking = " ".join(
                rng.choice(think_words + [str(rng.randint(0, 99))]) for _ in range(rng.randint(60, 300))
            )
            r = rng.random()
            if r < 0.05:
                completion = f"<think>\n{thinking}"  # ran out of tokens
            else:
                ans = rng.choice(right) if r < 0.6 else rng.choice(wrong)
                body = rng.choice([f"\\boxed{{{ans}}}", f"The answer is ${ans}$.", ans])
                completion = f"<think>\n{thinking}\n</think>\n<answer>{body}</answer>"
            pairs.append((gold, completion))
    return pairs


def adversarial() -> list[tuple[str, str, str]]:
    return [
        ("power", "1", "\\boxed{9999999999^{9999999999}}"),
        ("factorial", "1", "\\boxed{(10^{10})!}"),
        ("tower", "1", "\\boxed{2^{2^{2^{2^{2^{2}}}}}}"),
        ("tower 9^9^9", "1", "\\boxed{9^{9^{9}}}"),
        ("slow expansion", "(a^2+2ab+b^2+c+d)^{40}", "\\boxed{((a+b)^2+c+d)^{40}}"),
        ("1 MB of x", "1", "x" * 1_000_000),
        ("'1 1 1' x 20k", "1", "1 " * 20_000),
        ("deep nesting", "1", "\\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}"),
        ("unbalanced braces", "1", "\\boxed{\\frac{1}{" * 2000),
        ("nested fractions", "1", "$" + "\\frac{1}{" * 200 + "2" + "}" * 200 + "$"),
    ]


# ---------------------------------------------------------------- runs


def run_accuracy(rows: list[dict], verifier: MathVerifier) -> tuple[dict, dict, list[float], list[float]]:
    ours_ok: dict[str, list[bool]] = defaultdict(list)
    mv_ok: dict[str, list[bool]] = defaultdict(list)
    ours_lat, mv_lat = [], []
    for row in rows:
        clear_cache()  # no warm result cache: each pair is decided afresh
        start = time.perf_counter()
        s = verifier.score(Sample(row["completion"], reference=row["gold"]))
        ours_lat.append(time.perf_counter() - start)
        note = row.get("note", "")
        split = f"split: {note if note.startswith(('holdout', 'round2')) else 'dev'}"
        for key in (row["category"], split):
            ours_ok[key].append((s.value == 1.0) == row["label"])
        start = time.perf_counter()
        got = mv_safe(row["gold"], _visible(row["completion"]))
        mv_lat.append(time.perf_counter() - start)
        for key in (row["category"], split):
            mv_ok[key].append(got == row["label"])
    return ours_ok, mv_ok, ours_lat, mv_lat


def real_rows() -> list[dict]:
    path = Path(os.environ.get("MATH_REAL_DATA", REAL))
    if not path.is_file():
        path = Path("/work/shared/data/math_real.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_real(rows: list[dict], verifier: MathVerifier) -> None:
    """Accuracy on the real set, ours vs math-verify, by subset; and each one's false 'equal' count."""
    clear_cache()
    ours = [
        s.value == 1.0
        for s in verifier.score_batch([Sample(r["completion"], reference=r["gold"]) for r in rows])
    ]
    mv = [mv_safe(r["gold"], _as_text(r["completion"])) for r in rows]
    subsets: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        subsets["all"].append(i)
        if not r["debatable"]:
            subsets["non-debatable"].append(i)
            subsets[
                f"non-debatable, {'full completions' if r['kind'] == 'completion' else 'bare test answers'}"
            ].append(i)
            subsets[f"non-debatable, format {r['format']}"].append(i)
    print("| math_real.jsonl subset | n | ours | math-verify |\n|---|---:|---:|---:|")
    for name, idx in subsets.items():
        o = sum(ours[i] == rows[i]["expected"] for i in idx)
        m = sum(mv[i] == rows[i]["expected"] for i in idx)
        print(f"| {name} | {len(idx)} | {o} ({o / len(idx):.1%}) | {m} ({m / len(idx):.1%}) |")
    plain_neg = [i for i in subsets["non-debatable"] if not rows[i]["expected"]]
    print(
        f"| false 'equal' on non-debatable unequal items | {len(plain_neg)} | {sum(ours[i] for i in plain_neg)} "
        f"| {sum(mv[i] for i in plain_neg)} |\n"
    )


def _mv_chunk(pairs: list[tuple[str, str]]) -> int:
    return sum(mv_safe(g, c) for g, c in pairs)


def run_throughput(pairs: list[tuple[str, str]], workers: int) -> dict[str, float]:
    out = {}
    clear_cache()
    with MathVerifier(timeout=TIMEOUT, workers=workers) as v:
        v.warm_up()
        clear_cache()
        start = time.perf_counter()
        for i in range(0, len(pairs), 64):
            v.score_batch([Sample(c, reference=g) for g, c in pairs[i : i + 64]])
        out["ours"] = len(pairs) / (time.perf_counter() - start)
    start = time.perf_counter()
    _mv_chunk(pairs)
    out["mv_1proc"] = len(pairs) / (time.perf_counter() - start)
    chunks = [pairs[i::workers] for i in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_mv_chunk, [[("2", "\\boxed{2}")]] * workers)  # warm
        start = time.perf_counter()
        pool.map(_mv_chunk, chunks)
        out["mv_2proc"] = len(pairs) / (time.perf_counter() - start)
    return out


def run_adversarial(verifier: MathVerifier) -> list[tuple[str, float, float, str, bool]]:
    rows = []
    for name, gold, completion in adversarial():
        clear_cache()
        start = time.perf_counter()
        s = verifier.score(Sample(completion, reference=gold))
        ours = time.perf_counter() - start
        start = time.perf_counter()
        got = mv_safe(gold, completion)
        mv = time.perf_counter() - start
        rows.append((name, ours, mv, f"{s.value} {s.status}", got))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller RL workload, skip the adversarial set")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?"
    )
    print(
        f"machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}; timeout {TIMEOUT} s\n"
    )

    with MathVerifier(timeout=TIMEOUT, workers=args.workers) as verifier:
        verifier.warm_up()
        ours_ok, mv_ok, ours_lat, mv_lat = run_accuracy(rows, verifier)
        print("| category | cases | ours | math-verify |\n|---|---:|---:|---:|")
        categories = [c for c in ours_ok if not c.startswith("split:")]
        for cat in categories + sorted(c for c in ours_ok if c.startswith("split:")):
            n = len(ours_ok[cat])
            print(f"| {cat} | {n} | {sum(ours_ok[cat]) / n:.0%} | {sum(mv_ok[cat]) / n:.0%} |")
        total = sum(len(ours_ok[c]) for c in categories)
        o_all = sum(sum(ours_ok[c]) for c in categories) / total
        m_all = sum(sum(mv_ok[c]) for c in categories) / total
        print(f"| **all** | {total} | **{o_all:.1%}** | **{m_all:.1%}** |\n")
        real = real_rows()
        run_real(real, verifier)

        print("| latency per sample (labelled set, one at a time) | p50 | p99 | max |\n|---|---:|---:|---:|")
        for name, lat in (("ours", ours_lat), ("math-verify", mv_lat)):
            p50, p99 = percentile(lat, 0.5) * 1e3, percentile(lat, 0.99) * 1e3
            print(f"| {name} | {p50:.2f} ms | {p99:.1f} ms | {max(lat) * 1e3:.1f} ms |")
        print()

        if not args.quick:
            adv = run_adversarial(verifier)
            print("| adversarial input | ours | ours result | math-verify | math-verify result |")
            print("|---|---:|---|---:|---|")
            for name, ours, mv, res, got in adv:
                print(f"| {name} | {ours:.2f} s | {res} | {mv:.2f} s | {got} |")
            print(
                f"| **worst** | **{max(r[1] for r in adv):.2f} s** | | **{max(r[2] for r in adv):.2f} s** | |\n"
            )

    workloads = [
        (
            f"RL-style, groups of 8 ({'256' if args.quick else '1024'} R1 completions)",
            rl_workload(32 if args.quick else 128, 8),
        ),
        (
            f"real set (math_real.jsonl), every pair distinct ({len(real)})",
            [(r["gold"], _as_text(r["completion"])) for r in real],
        ),
        (
            f"labelled set, every pair distinct ({len(rows)})",
            [(r["gold"], _as_text(r["completion"])) for r in rows],
        ),
    ]
    print(
        "| workload | needs sympy | ours, score_batch, 2 workers | math-verify, 1 process | ratio |", end=""
    )
    print(f" math-verify, {args.workers} processes |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, pairs in workloads:
        tp = run_throughput(pairs, args.workers)
        share = sympy_share(pairs)
        print(
            f"| {name} | {share:.0%} | {tp['ours']:.0f}/s | {tp['mv_1proc']:.0f}/s | "
            f"**{tp['ours'] / tp['mv_1proc']:.1f}x** | {tp['mv_2proc']:.0f}/s |"
        )


def sympy_share(pairs: list[tuple[str, str]]) -> float:
    """The fraction of pairs the calling process cannot decide alone (they go to the sympy workers)."""
    need = 0
    for gold, completion in pairs:
        answers = extract_answers(completion)
        need += answers is not None and decide_cheap(extract_gold(gold) or "", ", ".join(answers)) is None
    return need / len(pairs)


def _as_text(completion) -> str:
    return completion if isinstance(completion, str) else _visible(completion)


def _visible(completion) -> str:
    """What math-verify gets from a chat completion in TRL: the message content, without reasoning."""
    from verifiers.core import split_completion

    return split_completion(completion)[1]


if __name__ == "__main__":
    main()
