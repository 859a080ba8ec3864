"""The reward server under 64 concurrent clients: requests/s, p50/p99 latency, errors; ours beside
OpenRLHF's reference server design, in one run.

    python benchmarks/bench_server.py [--clients 64] [--requests 8] [--group 16] [--slow-clients 4]

Each client sends `--requests` POSTs to /get_reward one after another, each one GRPO group (16
queries: a ChatML prompt + a real completion from shared/data/math_real.jsonl, half the problem's
own, half other problems' with an answer of the same kind; the problem's gold as the label), all
clients at once (httpx, asyncio). Two scenarios:
- uniform: only those math requests (config examples/r1_zero.yaml);
- with slow requests: `--slow-clients` more clients send code requests whose test run takes 2 s
  (one sleeping program in four; config examples/r1.yaml, routed by the label), as code RL does;
  latency is over the math requests, the ones a slow neighbour can hold up.
Servers, each a fresh subprocess on 127.0.0.1:
- ours: `verifiers serve` (scoring lanes in threads off the event loop), and with `--workers 2` processes;
- anchor: OpenRLHF's reference server design (openrlhf/cli/serve_rm.py): a FastAPI `async def`
  endpoint that reads the JSON and calls the reward function inline, on the event loop. It is rebuilt
  here (`--anchor-server`) around the same reward function, so the two differ only in the server
  design. (OpenRLHF's own also binds 0.0.0.0 with no token and logs every result; this copy binds
  127.0.0.1 and does not log.)
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


SLOW_PROGRAM = "```python\nimport time\ntime.sleep(2)\nprint(3)\n```"
FAST_PROGRAM = "```python\nprint(3)\n```"
SUITE = json.dumps({"type": "stdio", "cases": [{"input": "", "output": "3\n"}], "time_limit_s": 5})


def make_slow_requests(n: int) -> list[dict]:
    """Code requests whose test run takes 2 s (one program in four sleeps): the kind of request that
    holds a server up."""
    prompt = TEMPLATE.format(q="Print 3.")
    programs = [SLOW_PROGRAM, FAST_PROGRAM, FAST_PROGRAM, FAST_PROGRAM]
    return [{"query": [prompt + p + "<|im_end|>" for p in programs], "prompts": [prompt] * 4, "labels": [SUITE] * 4}
            for _ in range(n)]


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


async def load(url: str, requests: list[dict], clients: int, per_client: int,
               slow: list[dict] | None = None, slow_clients: int = 0) -> dict:
    """`clients` clients send `per_client` requests each, one after another, all clients at once;
    `slow_clients` more send the `slow` requests alongside. Latency figures are over the normal requests."""
    import httpx

    latencies: list[float] = []
    errors = 0
    reasons: list[str] = []

    async def client(c: int, http: httpx.AsyncClient, pool: list[dict], record: bool) -> None:
        nonlocal errors
        for r in range(per_client):
            body = pool[(c * per_client + r) % len(pool)]
            t0 = time.perf_counter()
            try:
                resp = await http.post(url, json=body)
                ok = resp.status_code == 200 and len(json.loads(resp.text)["rewards"]) == len(body["query"])
                if not ok:
                    reasons.append(f"HTTP {resp.status_code}: {resp.text[:300]}")
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                ok = False
                reasons.append(f"{type(exc).__name__}: {exc}")
            if record:
                latencies.append(time.perf_counter() - t0)
            errors += not ok

    limits = httpx.Limits(max_connections=clients + slow_clients, max_keepalive_connections=clients + slow_clients)
    async with httpx.AsyncClient(limits=limits, timeout=600) as http:
        await http.post(url, json=requests[0])  # warm-up: first-call imports
        if slow:
            await http.post(url, json={**slow[0], "query": slow[0]["query"][1:], "prompts": slow[0]["prompts"][1:],
                                       "labels": slow[0]["labels"][1:]})
        start_t = time.perf_counter()
        tasks = [client(c, http, requests, True) for c in range(clients)]
        tasks += [client(c, http, slow, False) for c in range(slow_clients)]
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start_t
    latencies.sort()
    n = len(latencies)
    return {"requests": n, "wall": wall, "rps": n / wall, "p50": latencies[n // 2],
            "p99": latencies[min(n - 1, int(0.99 * n))], "errors": errors, "reasons": reasons[:5]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--requests", type=int, default=8, help="requests per client")
    p.add_argument("--group", type=int, default=16, help="queries per request")
    p.add_argument("--config", default=str(ROOT / "examples/r1_zero.yaml"))
    p.add_argument("--slow-config", default=str(ROOT / "examples/r1.yaml"), help="config with a code component")
    p.add_argument("--slow-clients", type=int, default=4, help="clients sending slow code requests")
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
        "ours (threads)": lambda port, cfg: [sys.executable, "-m", "verifiers", "serve", "--config", cfg,
                                             "--port", str(port)],
        "ours (--workers 2)": lambda port, cfg: [sys.executable, "-m", "verifiers", "serve", "--config", cfg,
                                                 "--port", str(port), "--workers", "2"],
        "OpenRLHF design (inline)": lambda port, cfg: [sys.executable, __file__, "--anchor-server", str(port),
                                                       "--config", cfg],
    }
    scenarios = [
        ("uniform", args.config, None, 0),
        ("with slow requests", args.slow_config, make_slow_requests(64), args.slow_clients),
    ]
    results = []
    for scenario, config, slow, slow_clients in scenarios:
        for name, cmd in servers.items():
            port = free_port()
            proc = start(cmd(port, config), port)
            try:
                stats = asyncio.run(load(f"http://127.0.0.1:{port}/get_reward", requests, args.clients,
                                         args.requests, slow, slow_clients))
            finally:
                proc.terminate()
                proc.wait(30)
            results.append((scenario, name, stats))
            print(f"{scenario}, {name}: {stats['rps']:.1f} req/s, p50 {stats['p50']:.3f} s, p99 {stats['p99']:.3f} s, "
                  f"{stats['errors']} errors", flush=True)
            for reason in stats["reasons"]:
                print(f"  error: {reason}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print(f"{args.clients} concurrent clients x {args.requests} requests of {args.group} math queries; "
          f"'with slow requests': {args.slow_clients} more clients send code requests whose tests take 2 s "
          f"(config {Path(args.slow_config).name}; latency over the math requests only)\n")
    print("| scenario | server | math requests | req/s | queries/s | p50 latency s | p99 latency s | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario, name, s in results:
        print(f"| {scenario} | {name} | {s['requests']} | {s['rps']:.1f} | {s['rps'] * args.group:,.0f} | "
              f"{s['p50']:.3f} | {s['p99']:.3f} | {s['errors']} |")


if __name__ == "__main__":
    main()
