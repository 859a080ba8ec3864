"""Code sandboxes side by side: per-completion overhead and completions/s on a 10-case stdio suite,
and what one assert test costs before and after the test moved out of the solution's process.

Every contender runs the same program against the same suite through the same harness
(sandboxes/runner.py) and is graded the same way (sandboxes.suite.grade), in one run:

  bare runner   `python3 runner.py` on the host, no isolation: the floor, not a sandbox
  local         sandboxes.local.LocalSandbox (namespaces + rlimits)
  docker pool   sandboxes.docker.DockerSandbox (warm containers, one message to the container's agent)
  docker run    `docker run --rm` per completion, same image and limits: what users do today

Latency is one completion at a time; "outside the cases" is the part of it not spent running
the program's cases (interpreter and harness start, isolation, transport, grading): the
per-completion overhead. Throughput = completions / wall time with N threads submitting.
The contenders take turns, so load from other work on the machine hits them alike. Needs the sandbox image (`verifiers sandbox build`).

    .venv/bin/python benchmarks/bench_code.py [--completions 48] [--concurrency 1,2,4,8]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandboxes import suite as suites  # noqa: E402
from sandboxes.docker import SANDBOX_IMAGE  # noqa: E402

RUNNER = Path(suites.__file__).with_name("runner.py")
HOST_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable  # what the local backend runs
PROGRAM = "n = int(input())\nxs = list(map(int, input().split()))\nprint(sum(xs), max(xs))\n"


def make_suite() -> dict:
    cases = []
    for i in range(10):
        xs = [(i * 7919 + j * 104729) % 1000 for j in range(50 + 10 * i)]
        cases.append({"input": f"{len(xs)}\n{' '.join(map(str, xs))}\n", "output": f"{sum(xs)} {max(xs)}\n"})
    return {"type": "stdio", "cases": cases, "time_limit_s": 2}


# ---------------------------------------------------------------- contenders


class BareRunner:
    """runner.py as a plain host subprocess: what the harness alone costs."""

    name = "bare runner (no isolation)"

    def run(self, code: str, tests: dict) -> suites.RunResult:
        suite = suites.validate(tests)
        job = suites.build_job(code, suite, "python")
        out = subprocess.run(
            [HOST_PYTHON, "-I", str(RUNNER), "-"],
            input=suites.job_frames(job),
            capture_output=True,
            timeout=60,
        )
        return suites.grade(suite, json.loads(out.stdout))

    def close(self) -> None:
        pass


class DockerRunPerCompletion:
    """A fresh `docker run --rm` per completion with the pool's image and limits."""

    name = "docker run --rm per completion"

    def run(self, code: str, tests: dict) -> suites.RunResult:
        suite = suites.validate(tests)
        job = suites.build_job(code, suite, "python")
        payload = _tar({"runner.py": RUNNER.read_bytes(), "job.json": json.dumps(job).encode()})
        cmd = [
            "docker", "run", "--rm", "-i", "--network", "none", "--read-only",
            "--tmpfs", "/sandbox:rw,exec,nosuid,nodev,size=64m,uid=65534,gid=65534,mode=0700",
            "--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=16m,mode=1777",
            "--user", "65534:65534", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--log-driver", "none", "--pids-limit", "128", "--memory", "1g", "--memory-swap", "1g",
            "--cpus", "1", "-w", "/sandbox", SANDBOX_IMAGE,
            "sh", "-c", "tar -xf - && python3 runner.py job.json",
        ]  # fmt: skip
        out = subprocess.run(cmd, input=payload, capture_output=True, timeout=120)
        return suites.grade(suite, json.loads(out.stdout))

    def close(self) -> None:
        pass


class Backend:
    def __init__(self, name: str, sandbox) -> None:
        self.name, self.sandbox = name, sandbox

    def run(self, code: str, tests: dict) -> suites.RunResult:
        return self.sandbox.run(code, tests)

    def close(self) -> None:
        self.sandbox.close()


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# ---------------------------------------------------------------- measuring


def one_completion(contender, tests: dict) -> tuple[float, float, bool]:
    """Seconds for one completion, seconds of it outside the cases, and whether it passed."""
    start = time.perf_counter()
    result = contender.run(PROGRAM, tests)
    elapsed = time.perf_counter() - start
    return elapsed, elapsed - sum(c.time_s for c in result.cases), result.status == "passed"


def batch(contender, tests: dict, n: int, threads: int) -> tuple[float, int]:
    """Wall seconds for n completions submitted by `threads` callers, and how many did not pass."""
    with ThreadPoolExecutor(threads) as ex:
        start = time.perf_counter()
        results = list(ex.map(lambda _: contender.run(PROGRAM, tests), range(n)))
        wall = time.perf_counter() - start
    return wall, sum(r.status != "passed" for r in results)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ---------------------------------------------------------------- assert suites: before and after the split

ASSERT_PROGRAM = "def add(a, b):\n    return a + b\n"
ASSERT_SUITE = {
    "type": "assert",
    "entry_point": "add",
    "test": "def check(candidate):\n" + "".join(f"    assert candidate({i}, {i + 1}) == {2 * i + 1}\n" for i in range(20)),
}
# The last runner that ran the test in the solution's interpreter (in-process, a nonce and a
# strict ==): the "before" of the split, taken from git history so both run side by side.
BEFORE_SPLIT = "6d1e881"


def before_split_sandbox(max_concurrency: int):
    """The local backend with the in-process assert harness of BEFORE_SPLIT, or None without git."""
    from sandboxes import local

    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE_SPLIT}:sandboxes/runner.py"],
            cwd=RUNNER.parent, capture_output=True, check=True, timeout=30,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None

    class BeforeSplit(local.LocalSandbox):
        old_code: bytes | None = None

        def _payload(self, job):  # that runner read the whole job as one JSON text
            if self.old_code is None:
                self.old_code = local._compile_runner(self.python, source)
            return self.old_code + json.dumps(job).encode()

    return BeforeSplit(max_concurrency=max_concurrency)


def assert_costs(runs: int) -> None:
    """Median latency of one 20-assert HumanEval-style test: local before/after the split, docker pool."""
    from sandboxes.docker import DockerSandbox
    from sandboxes.local import LocalSandbox

    contenders = [("local, test in the solution's process (before)", before_split_sandbox(1))]
    contenders += [("local, test in its own process (after)", LocalSandbox(max_concurrency=1))]
    contenders += [("docker warm pool (after; fresh interpreter for the solution)", DockerSandbox(max_concurrency=1))]
    contenders = [(name, sb) for name, sb in contenders if sb is not None]
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    bad = dict.fromkeys(times, 0)
    try:
        for _, sb in contenders:
            sb.run(ASSERT_PROGRAM, ASSERT_SUITE)  # warm-up
        for _ in range(runs):  # interleaved, so background load hits all alike
            for name, sb in contenders:
                start = time.perf_counter()
                result = sb.run(ASSERT_PROGRAM, ASSERT_SUITE)
                times[name].append(time.perf_counter() - start)
                bad[name] += result.status != "passed"
    finally:
        for _, sb in contenders:
            sb.close()
    print(f"\nAssert suite (20 asserts, HumanEval-style check), {runs} interleaved runs each:\n")
    print("| harness | latency (median) | not passed |")
    print("|---|---|---|")
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name in times:
        print(f"| {name} | {medians[name] * 1000:.1f} ms | {bad[name]} |")
    names = list(medians)
    if len(names) >= 2 and "before" in names[0]:
        print(f"\nsplit cost on the local backend: {(medians[names[1]] - medians[names[0]]) * 1000:+.1f} ms per test")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--completions", type=int, default=64, help="completions per contender and thread count")
    ap.add_argument("--rounds", type=int, default=4, help="turns the contenders take per thread count")
    ap.add_argument("--latency-runs", type=int, default=15, help="sequential completions for the latency")
    ap.add_argument("--concurrency", default="1,2,4,8", help="comma-separated caller thread counts")
    ap.add_argument("--skip", default="", help="comma-separated contenders to leave out: bare,local,pool,run")
    ap.add_argument("--assert-runs", type=int, default=30, help="runs per harness for the assert-suite costs (0: skip)")
    args = ap.parse_args()
    if args.assert_runs:
        assert_costs(args.assert_runs)
    levels = [int(x) for x in args.concurrency.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    tests = make_suite()
    assert suites.grade(suites.validate(tests), {"cases": []}).status == "error"  # sanity: grade is strict

    from sandboxes.docker import DockerSandbox
    from sandboxes.local import LocalSandbox

    pool_size = max(levels)
    contenders = []
    if "bare" not in skip:
        contenders.append(("bare", BareRunner()))
    if "local" not in skip:
        contenders.append(("local", Backend("local (namespaces)", LocalSandbox(max_concurrency=pool_size))))
    if "pool" not in skip:
        contenders.append(("pool", Backend("docker warm pool", DockerSandbox(max_concurrency=pool_size))))
    if "run" not in skip:
        contenders.append(("run", DockerRunPerCompletion()))

    # Contenders take turns (one completion, or one batch, each) so that background load on a
    # shared machine falls on all of them alike.
    times = {key: [] for key, _ in contenders}
    outside = {key: [] for key, _ in contenders}
    bad = dict.fromkeys(times, 0)
    done = {key: [0] * len(levels) for key in times}
    wall = {key: [0.0] * len(levels) for key in times}
    per_round = max(1, args.completions // args.rounds)
    try:
        for _, c in contenders:
            c.run(PROGRAM, tests)  # warm-up
        for _ in range(args.latency_runs):
            for key, c in contenders:
                elapsed, out, ok = one_completion(c, tests)
                times[key].append(elapsed)
                outside[key].append(out)
                bad[key] += not ok
        for i, threads in enumerate(levels):
            for _ in range(args.rounds):
                for key, c in contenders:
                    seconds, failed = batch(c, tests, per_round, threads)
                    done[key][i] += per_round
                    wall[key][i] += seconds
                    bad[key] += failed
            print(f"  measured {threads} threads", file=sys.stderr, flush=True)
    finally:
        for _, c in contenders:
            c.close()
    rows = []
    for key, c in contenders:
        rates = [n / w for n, w in zip(done[key], wall[key], strict=True)]
        rows.append(
            (key, c.name, statistics.median(times[key]), statistics.median(outside[key]), rates, bad[key])
        )
    floor = statistics.median(times["bare"]) if "bare" in times else None

    print(f"\nMachine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
          f"{per_round * args.rounds} completions per rate in {args.rounds} interleaved rounds, 10-case stdio suite, "
          f"pool size {pool_size}\n")  # fmt: skip
    rate_cols = " | ".join(f"completions/s @{t}" for t in levels)
    print(f"| contender | latency (median) | outside the cases | vs bare runner | {rate_cols} | not passed |")
    print("|---|---|---|---|" + "---|" * len(levels) + "---|")
    for _key, name, med, out, rates, bad in rows:
        over = f"{(med - floor) * 1000:+.0f} ms" if floor is not None else "n/a"
        cells = " | ".join(f"{r:.1f}" for r in rates)
        print(f"| {name} | {med * 1000:.0f} ms | {out * 1000:.0f} ms | {over} | {cells} | {bad} |")
    by = {key: rates for key, _, _, _, rates, _ in rows}
    if "pool" in by and "run" in by:
        best = max(range(len(levels)), key=lambda i: by["run"][i])
        print(
            f"\nwarm pool / docker run throughput: {max(by['pool']) / max(by['run']):.1f}x (best vs best); "
            f"at {levels[best]} threads: {by['pool'][best] / by['run'][best]:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
