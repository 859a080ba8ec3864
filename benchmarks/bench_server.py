"""The reward server under 64 concurrent clients: requests/s, p50/p99 latency, errors; ours beside
OpenRLHF's reference server design, in one run.

    python benchmarks/bench_server.py [--clients 64] [--requests 8] [--group 16] [--config examples/r1_zero.yaml]

Each client sends `--requests` POSTs to /get_reward one after another, each one GRPO group (16
queries: a ChatML prompt + a real completion from shared/data/math_real.jsonl, half the
problem's own, half other problems' with an answer of the same kind; the problem's gold as the label), all 64 clients at once (httpx, asyncio, one connection each). Servers, each a fresh
subprocess on 127.0.0.1:
- ours: `verifiers serve` (scoring in threads off the event loop), and with `--workers 2` processes;
- anchor: OpenRLHF's reference server design (openrlhf/cli/serve_rm.py): a FastAPI `async def`
  endpoint that reads the JSON and calls the reward function inline, on the event loop, answered with
  JSONResponse. It is rebuilt here (`--anchor-server`) around the same reward function, so the two
  differ only in the server design. (OpenRLHF's own also binds 0.0.0.0 with no token and logs every
  result; this copy binds 127.0.0.1 and does not log.)
Prints a markdown table for benchmarks/RESULTS.md.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = next(
    (p for p in (ROOT.parent / "shared/data/math_real.jsonl", Path("/work/shared/data/math_real.jsonl")) if p.exists()),
    ROOT.parent / "shared/data/math_real.jsonl",
)
TEMPLATE = "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"


def anchor_server(config: str, port: int) -> None:
    """OpenRLHF's reference design around our reward function (see the module doc)."""
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    from verifiers.composite import load_reward
    from verifiers.integrations.lazy import warm_up
    from verifiers.integrations.openrlhf import score_queries

    reward = load_reward(config)
    warm_up(reward)  # as ours does at start-up
    app = FastAPI()

    @app.post("/get_reward")
    async def get_reward(request: Request):  # (no `from __future__ import annotations` here: FastAPI reads this)
        data = await request.json()
        result = score_queries(reward, data.get("query"), data.get("prompts"), data.get("labels"))  # inline
        return Response(json.dumps(result), media_type="application/json")  # NaN allowed, as ours

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def make_requests(data: Path, n: int, group: int, seed: int = 0) -> list[dict]:
    items = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    by_type: dict[str, list[dict]] = {}
    for item in items:
        by_type.setdefault(item["type"], []).append(item)
    out = []
    for _ in range(n):
        item = rng.choice(items)
        prompt = TEMPLATE.format(q=f"Problem {item['id']}: solve it.")
        completions = [(item if rng.random() < 0.5 else rng.choice(by_type[item["type"]]))["completion"]
                       for _ in range(group)]
        out.append({"query": [prompt + c + "<|im_end|>" for c in completions], "prompts": [prompt] * group,
                    "labels": [item["gold"]] * group})
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {' '.join(cmd)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not come up")


async def load(url: str, requests: list[dict], clients: int, per_client: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0

    async def client(c: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        for r in range(per_client):
            body = requests[(c * per_client + r) % len(requests)]
            t0 = time.perf_counter()
            try:
                resp = await http.post(url, json=body)
                ok = resp.status_code == 200 and len(json.loads(resp.text)["rewards"]) == len(body["query"])
            except (httpx.HTTPError, ValueError, KeyError):
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=600) as http:
        await http.post(url, json=requests[0])  # warm-up: first-call imports, worker start
        start_t = time.perf_counter()
        await asyncio.gather(*(client(c, http) for c in range(clients)))
        wall = time.perf_counter() - start_t
    latencies.sort()
    n = len(latencies)
    return {"requests": n, "wall": wall, "rps": n / wall, "p50": latencies[n // 2],
            "p99": latencies[min(n - 1, int(0.99 * n))], "errors": errors}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--requests", type=int, default=8, help="requests per client")
    p.add_argument("--group", type=int, default=16, help="queries per request")
    p.add_argument("--config", default=str(ROOT / "examples/r1_zero.yaml"))
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--anchor-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.anchor_server:
        anchor_server(args.config, args.anchor_server)
        return
    if not args.data.exists():
        sys.exit(f"data not found: {args.data} (pass --data path/to/math_real.jsonl)")
    requests = make_requests(args.data, 256, args.group)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f} at start")
    servers = {
        "ours (threads)": lambda port: [sys.executable, "-m", "verifiers", "serve", "--config", args.config,
                                        "--port", str(port)],
        "ours (--workers 2)": lambda port: [sys.executable, "-m", "verifiers", "serve", "--config", args.config,
                                            "--port", str(port), "--workers", "2"],
        "OpenRLHF design (inline)": lambda port: [sys.executable, __file__, "--anchor-server", str(port),
                                                  "--config", args.config],
    }
    rows = []
    for name, cmd in servers.items():
        port = free_port()
        proc = start(cmd(port), port)
        try:
            stats = asyncio.run(load(f"http://127.0.0.1:{port}/get_reward", requests, args.clients, args.requests))
        finally:
            proc.terminate()
            proc.wait(30)
        rows.append((name, stats))
        print(f"{name}: {stats['rps']:.1f} req/s, p50 {stats['p50']:.3f} s, p99 {stats['p99']:.3f} s, "
              f"{stats['errors']} errors", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print(f"{args.clients} concurrent clients x {args.requests} requests of {args.group} queries, "
          f"config {Path(args.config).name}\n")
    print("| server | requests | req/s | queries/s | p50 latency s | p99 latency s | errors |")
    print("|---|---|---|---|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s['requests']} | {s['rps']:.1f} | {s['rps'] * args.group:,.0f} | {s['p50']:.3f} | "
              f"{s['p99']:.3f} | {s['errors']} |")


if __name__ == "__main__":
    main()
