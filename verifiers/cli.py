"""The `verifiers` command line: score, filter and evaluate JSONL completions, list verifiers, build sandboxes.

Exit codes: 0 every row scored; 1 some rows had input errors (each still has an
output row); 2 usage or config error (nothing scored); 3 an outage (a code sandbox failed
during the run: those rows are errors with reward null).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifiers.core import Sample, split_completion

SAMPLE_FIELDS = ("completion", "prompt", "reference", "task", "id")
EXIT_OK, EXIT_INPUT_ERRORS, EXIT_USAGE, EXIT_OUTAGE = 0, 1, 2, 3


class UsageError(Exception):
    """Bad arguments or config: exit 2."""


# ---------------------------------------------------------------- rows


def parse_field_map(pairs: list[str]) -> dict[str, str]:
    """`--field reference=answer` pairs -> {"reference": "answer"}; sources may be dotted paths."""
    mapping = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or not theirs or ours not in SAMPLE_FIELDS:
            raise UsageError(f"--field {pair!r}: expected FIELD=SOURCE with FIELD one of {', '.join(SAMPLE_FIELDS)}")
        mapping[ours] = theirs
    return mapping


def _lookup(row: dict, path: str) -> Any:
    if path == "*":  # the whole row (code datasets keep their tests in several columns)
        return row
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


_MISSING = object()


def row_to_sample(row: Any, fields: dict[str, str]) -> Sample:
    """Turn one parsed JSONL row into a Sample; ValueError names what is wrong."""
    if not isinstance(row, dict):
        raise ValueError(f"row must be a JSON object, got {type(row).__name__}")
    got = {name: _lookup(row, fields.get(name, name)) for name in SAMPLE_FIELDS}
    completion = got["completion"]
    if completion is _MISSING:
        raise ValueError(f"missing field {fields.get('completion', 'completion')!r}")
    try:
        split_completion(completion)
    except TypeError as exc:
        raise ValueError(f"field {fields.get('completion', 'completion')!r}: {exc}") from None
    prompt = None if got["prompt"] is _MISSING else got["prompt"]
    if prompt is not None and not isinstance(prompt, (str, list)):
        raise ValueError(f"field 'prompt' must be a string or messages, got {type(prompt).__name__}")
    task = None if got["task"] is _MISSING else got["task"]
    if task is not None and not isinstance(task, str):
        raise ValueError(f"field 'task' must be a string, got {type(task).__name__}")
    reference = None if got["reference"] is _MISSING else got["reference"]
    return Sample(completion, prompt=prompt, reference=reference, task=task)


@dataclass
class RowStat:
    reward: float | None
    status: str
    components: dict[str, float | None] = field(default_factory=dict)
    input_error: bool = False
    outage: str | None = None  # an infrastructure failure (the code sandbox) behind this row
    isolation: str | None = None  # the code sandbox that ran it


def _sandbox_signals(info: dict) -> tuple[str | None, str | None]:
    """(outage, isolation) that a code component put in a score's info (or its components')."""
    found = [info, *(c for c in (info.get("components") or {}).values() if isinstance(c, dict))]
    outage = next((str(c["outage"]) for c in found if c.get("outage")), None)
    isolation = next((str(c["isolation"]) for c in found if c.get("isolation")), None)
    return outage, isolation


def _dump(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, default=str) + "\n"


def score_lines(reward: Any, lines: list[tuple[int, str]], fields: dict[str, str]) -> tuple[str, list[RowStat]]:
    """Score numbered raw JSONL lines; returns the output text (one row per line, in order) and stats."""
    rows: list[dict | None] = []
    samples: list[Sample] = []
    errors: dict[int, str] = {}
    for k, (lineno, raw) in enumerate(lines):
        row = None
        try:
            if not raw.strip():
                raise ValueError("empty line")
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"malformed JSON: {exc}") from None
            samples.append(row_to_sample(row, fields))
        except ValueError as exc:
            errors[k] = f"line {lineno}: {exc}"
        rows.append(row if isinstance(row, dict) else None)
    scores = iter(reward.score_batch(samples)) if samples else iter(())

    out, stats = [], []
    for k, (lineno, raw) in enumerate(lines):
        if k in errors:
            row = {"line": lineno}
            row_id = _MISSING if rows[k] is None else _lookup(rows[k], fields.get("id", "id"))
            if row_id is not _MISSING:
                row["id"] = row_id
            row.update(reward=None, status="error", error=errors[k])
            if rows[k] is None:
                row["raw"] = raw[:200]
            stats.append(RowStat(None, "error", input_error=True))
        else:
            score = next(scores)
            row = {**rows[k], "line": lineno, **score.to_dict()}
            stats.append(RowStat(score.value, str(score.status), dict(score.components), False,
                                 *_sandbox_signals(score.info)))
        out.append(_dump(row))
    return "".join(out), stats


# ---------------------------------------------------------------- worker processes

_worker_reward = None
_worker_fields: dict[str, str] = {}


def _init_worker(config: str, fields: dict[str, str]) -> None:
    global _worker_reward, _worker_fields
    from verifiers.composite import load_reward

    _worker_reward, _worker_fields = load_reward(config), fields


def _score_in_worker(lines: list[tuple[int, str]]) -> tuple[str, list[RowStat]]:
    return score_lines(_worker_reward, lines, _worker_fields)


def _chunks(path: Path, skip: int, size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    with path.open(encoding="utf-8", errors="replace", newline="\n") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno <= skip:
                continue
            chunk.append((lineno, raw.rstrip("\n")))
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _count_lines(path: Path) -> int:
    n, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def resume_point(output: Path) -> tuple[int, list[RowStat]]:
    """Rows already in `output`: drop a torn last line (a kill mid-write), check they are in order."""
    if not output.exists():
        return 0, []
    data = output.read_bytes()
    cut = data.rfind(b"\n") + 1
    if cut != len(data):
        with output.open("r+b") as f:
            f.truncate(cut)
    stats = []
    for n, raw in enumerate(data[:cut].splitlines(), 1):
        try:
            row = json.loads(raw)
        except json.JSONDecodeError:
            raise UsageError(f"--resume: {output} line {n} is not JSON; not an output of `verifiers score`") from None
        if not isinstance(row, dict) or row.get("line") != n:
            raise UsageError(f"--resume: {output} row {n} has line {row.get('line')!r}; it does not continue this input")
        stats.append(RowStat(row.get("reward"), str(row.get("status")), row.get("components") or {}, "error" in row))
    return len(stats), stats


# ---------------------------------------------------------------- commands


def cmd_score(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from verifiers.composite import ConfigError, load_reward

    err = Console(stderr=True)
    fields = parse_field_map(args.field)
    src, dst = Path(args.input), Path(args.output)
    if not src.is_file():
        raise UsageError(f"input file {str(src)!r} not found")
    if args.workers < 1 or args.batch_size < 1:
        raise UsageError("--workers and --batch-size must be at least 1")
    try:
        reward = load_reward(args.config)  # validates the config before any row is read
    except ConfigError as exc:
        raise UsageError(f"config {args.config}: {exc}") from None

    done, stats = resume_point(dst) if args.resume else (0, [])
    total = _count_lines(src)
    if done > total:
        raise UsageError(f"--resume: {dst} has {done} rows but {src} has only {total} lines")
    chunks = _chunks(src, done, args.batch_size)
    pool = None
    if args.workers > 1:
        import multiprocessing as mp

        reward.close()  # the workers build their own
        ctx = mp.get_context("forkserver" if sys.platform == "linux" else "spawn")
        pool = ctx.Pool(args.workers, initializer=_init_worker, initargs=(args.config, fields))
        results = pool.imap(_score_in_worker, chunks)
    else:
        results = (score_lines(reward, chunk, fields) for chunk in chunks)

    start = time.perf_counter()
    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeRemainingColumn())
    try:
        with dst.open("a" if args.resume else "w", encoding="utf-8") as out, \
                Progress(*columns, console=err, disable=args.quiet, transient=False) as bar:
            task = bar.add_task("score", total=total, completed=done, rate="")
            scored = 0
            for text, chunk_stats in results:
                out.write(text)
                out.flush()  # rows survive a kill -9 of this process
                stats.extend(chunk_stats)
                scored += len(chunk_stats)
                rate = scored / max(time.perf_counter() - start, 1e-9)
                bar.update(task, advance=len(chunk_stats), rate=f"{rate:,.0f} rows/s")
    finally:
        if pool is not None:
            pool.terminate()
        reward.close()
    elapsed = time.perf_counter() - start
    if not args.quiet:
        print_summary(stats, elapsed, scored, resumed=done)
    outages = [s.outage for s in stats if s.outage]
    if outages:
        from rich.markup import escape

        err.print(f"[bold red]error:[/] the code sandbox failed for {len(outages)} rows (reward null): "
                  f"{escape(outages[0])}", highlight=False)
        return EXIT_OUTAGE
    return EXIT_INPUT_ERRORS if any(s.input_error for s in stats) else EXIT_OK


def print_summary(stats: list[RowStat], elapsed: float, scored: int, resumed: int = 0) -> None:
    """The end-of-run table: rows, mean reward, per-component mean and pass rate, statuses."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    rewards = [s.reward for s in stats if s.reward is not None]
    comp_values: dict[str, list[float]] = defaultdict(list)
    for s in stats:
        for name, value in s.components.items():
            if value is not None:
                comp_values[name].append(value)
    table = Table(title="reward summary", show_header=True)
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_column("mean", justify="right")
    table.add_column("pass rate", justify="right")
    mean = f"{sum(rewards) / len(rewards):.4f}" if rewards else "-"
    table.add_row("reward", str(len(rewards)), mean, "")  # rows with a value; statuses below count all
    for name, values in comp_values.items():
        passed = sum(v >= 1.0 - 1e-9 for v in values) / len(values)
        table.add_row(f"  {name}", str(len(values)), f"{sum(values) / len(values):.4f}", f"{passed:.1%}")
    console.print(table)
    statuses = Counter(s.status for s in stats)
    status_table = Table(title=f"status of {len(stats)} rows", show_header=True)
    status_table.add_column("status")
    status_table.add_column("rows", justify="right")
    for status, n in statuses.most_common():
        status_table.add_row(status, str(n))
    input_errors = sum(s.input_error for s in stats)
    if input_errors:
        status_table.add_row("(of which input errors)", str(input_errors))
    console.print(status_table)
    note = f" ({resumed} rows resumed from the output)" if resumed else ""
    console.print(f"scored {scored} rows in {elapsed:.2f} s ({scored / max(elapsed, 1e-9):,.0f} rows/s){note}")
    isolations = Counter(s.isolation for s in stats if s.isolation)
    if isolations:
        console.print("code sandbox: " + ", ".join(f"{name} ({n} rows)" for name, n in isolations.items()))


def cmd_filter(args: argparse.Namespace) -> int:
    """Rejection sampling: score IN with the config, write the rows that pass (see verifiers.rejection)."""
    from rich.console import Console
    from rich.table import Table

    from verifiers.composite import ConfigError, load_reward
    from verifiers.evaluate import group_key
    from verifiers.rejection import BestOfGroup, Criteria, output_row, parse_minimums

    fields = parse_field_map(args.field)
    src = Path(args.input)
    if not src.is_file():
        raise UsageError(f"input file {str(src)!r} not found")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    try:
        criteria = Criteria(args.min_reward, parse_minimums(args.min))
    except ValueError as exc:
        raise UsageError(f"--min/--min-reward: {exc}") from None
    try:
        reward = load_reward(args.config)
    except ConfigError as exc:
        raise UsageError(f"config {args.config}: {exc}") from None
    unknown = set(criteria.min_components) - set(reward.components)
    if unknown:
        reward.close()
        raise UsageError(f"--min: unknown component(s) {sorted(unknown)}; the config has {', '.join(reward.components)}")

    counts: Counter[str] = Counter()
    best = BestOfGroup()
    group_path = args.group_by or fields.get("prompt", "prompt")
    try:
        with Path(args.output).open("w", encoding="utf-8") as out:
            for chunk in _chunks(src, 0, args.batch_size):
                rows, samples = [], []
                for lineno, raw in chunk:
                    try:
                        row = json.loads(raw)
                        samples.append(row_to_sample(row, fields))
                        rows.append((lineno, row))
                    except (ValueError, RecursionError):  # malformed or too deeply nested JSON, an unusable row
                        counts["input error"] += 1
                for (lineno, row), score in zip(rows, reward.score_batch(samples) if samples else [], strict=True):
                    reason = criteria.rejects(score)
                    counts[reason or "passed"] += 1
                    if reason is not None:
                        continue
                    if args.best_of_group:
                        key = _lookup(row, group_path)
                        best.offer(("line", lineno) if key is _MISSING else group_key(key), score.value,
                                   output_row(row, score))
                    else:
                        out.write(_dump(output_row(row, score)))
            for row in best.items():
                out.write(_dump(row))
    finally:
        reward.close()

    table = Table(title=f"filter: {src}", show_header=True)
    table.add_column("rows")
    table.add_column("count", justify="right")
    for what, n in counts.most_common():
        table.add_row(what, str(n))
    if args.best_of_group:
        table.add_row("written (best of each group)", str(len(best)))
    Console(stderr=True).print(table)
    return EXIT_INPUT_ERRORS if counts["input error"] else EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """pass@k and maj@k per prompt group of a scored JSONL (see verifiers.evaluate)."""
    from rich.console import Console
    from rich.table import Table

    from verifiers.evaluate import EvalError, evaluate_rows

    src = Path(args.input)
    if not src.is_file():
        raise UsageError(f"input file {str(src)!r} not found")
    try:
        ks = [int(k) for k in args.k.split(",") if k.strip()]
    except ValueError:
        raise UsageError(f"--k {args.k!r}: expected comma-separated integers, e.g. 1,4,16") from None
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    rows, unreadable = [], 0
    with src.open(encoding="utf-8", errors="replace") as f:
        for raw in f:
            try:
                row = json.loads(raw)
            except (json.JSONDecodeError, RecursionError):
                row = None
            if isinstance(row, dict):
                rows.append(row)
            elif raw.strip():
                unreadable += 1
    try:
        report = evaluate_rows(rows, ks, metrics=[m for m in args.metric.split(",") if m], threshold=args.threshold,
                               group_by=args.group_by, timeout=args.timeout)
    except EvalError as exc:
        raise UsageError(str(exc)) from None
    report["skipped"]["unreadable line"] = unreadable
    dst = Path(args.output) if args.output else src.with_name(src.name.removesuffix(".jsonl") + ".eval.json")
    dst.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    table = Table(title=f"{report['groups']} prompt groups, {report['rows']} rows, metric {args.metric} >= "
                        f"{args.threshold:g}", show_header=True)
    for col in ("k", "groups", "pass@k", "maj@k"):
        table.add_column(col, justify="right")
    for k in report["k"]:
        p, m = report["pass@k"][str(k)], report["maj@k"][str(k)]
        table.add_row(str(k), str(report["groups_per_k"][str(k)]), "-" if p is None else f"{p:.4f}",
                      "-" if m is None else f"{m:.4f}")
    console = Console()
    console.print(table)
    skipped = ", ".join(f"{n} {why}" for why, n in report["skipped"].items() if n)
    if skipped:
        console.print(f"rows left out: {skipped}")
    console.print(f"report: {dst}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """The HTTP reward server (see verifiers.server)."""
    from rich.console import Console

    from verifiers.composite import ConfigError
    from verifiers.integrations.openrlhf import on_none_policy

    err = Console(stderr=True)
    token = args.token or os.environ.get("VERIFIERS_TOKEN") or None
    if args.workers < 1 or args.max_batch < 1 or args.max_body_mb <= 0:
        raise UsageError("--workers, --max-batch and --max-body-mb must be positive")
    try:
        on_none = on_none_policy(args.on_none)
    except ValueError as exc:
        raise UsageError(f"--on-none: {exc}") from None
    try:
        from verifiers.server import serve
    except ImportError as exc:
        raise UsageError(f"the server needs the 'server' extra (pip install 'r1-verifiers[server]'): {exc}") from None
    if args.host not in ("127.0.0.1", "localhost", "::1") and token is None:
        err.print(f"[bold yellow]warning:[/] serving on {args.host} with no --token: anyone who can reach it can use it")
    err.print(f"serving {args.config} on http://{args.host}:{args.port} "
              f"({'bearer token required' if token else 'no token'}; {args.workers} worker(s)); Ctrl-C stops",
              highlight=False)
    try:
        serve(args.config, host=args.host, port=args.port, token=token, workers=args.workers,
              max_body_bytes=int(args.max_body_mb * (1 << 20)), max_batch=args.max_batch, on_none=on_none)
    except ConfigError as exc:
        raise UsageError(f"config {args.config}: {exc}") from None
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from verifiers.core import available

    table = Table(title="verifiers", show_header=True)
    table.add_column("name")
    table.add_column("checks")
    for name, doc in available().items():
        table.add_row(name, doc)
    Console().print(table)
    return EXIT_OK


def cmd_sandbox_build(args: argparse.Namespace) -> int:
    try:
        from sandboxes.build import build_images
    except ImportError as exc:
        raise UsageError(f"the sandbox image builder is not available: {exc}") from None
    from rich.console import Console

    Console(stderr=True).print("building the sandbox images (this can take minutes the first time)")
    try:
        for line in build_images(force=args.force):
            Console().print(line, markup=False, highlight=False)
    except RuntimeError as exc:  # no daemon, no debootstrap, not root, a failed build
        raise UsageError(f"sandbox build failed: {exc}") from None
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="verifiers", description="Verifiers and rewards for R1-style RL.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("score", help="score a JSONL file of completions with a reward config")
    s.add_argument("input", help="JSONL: one object per line with completion, prompt, reference, task, id")
    s.add_argument("--config", required=True, help="reward YAML (see examples/r1.yaml)")
    s.add_argument("--output", "-o", required=True, help="output JSONL: one row per input line, in order")
    s.add_argument("--workers", type=int, default=1, help="scoring processes (default 1)")
    s.add_argument("--batch-size", type=int, default=256, help="rows per scoring batch (default 256)")
    s.add_argument("--resume", action="store_true", help="continue an interrupted run, appending to --output")
    s.add_argument("--field", action="append", default=[], metavar="FIELD=SOURCE",
                   help="read FIELD from another key, e.g. reference=answer or reference=reward_model.ground_truth")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    s.set_defaults(func=cmd_score)

    sv = sub.add_parser("serve", help="HTTP reward server: /get_reward (OpenRLHF), /score, /health")
    sv.add_argument("--config", required=True, help="reward YAML")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' (or set VERIFIERS_TOKEN)")
    sv.add_argument("--workers", type=int, default=1, help="scoring processes (default 1: threads in the server)")
    sv.add_argument("--max-batch", type=int, default=8192, help="most samples per request (default 8192)")
    sv.add_argument("--max-body-mb", type=float, default=32, help="largest request body in MiB (default 32)")
    sv.add_argument("--on-none", default="nan", help="what a None reward is in /get_reward: nan, raise or a number")
    sv.set_defaults(func=cmd_serve)

    f = sub.add_parser("filter", help="rejection sampling: keep the rows whose reward passes (SFT data)")
    f.add_argument("input", help="JSONL rows as `score` reads them")
    f.add_argument("--config", required=True, help="reward YAML")
    f.add_argument("--output", "-o", required=True, help="output JSONL: the kept rows plus reward and components")
    f.add_argument("--min-reward", type=float, required=True, help="keep rows with reward >= X (None never passes)")
    f.add_argument("--min", action="append", default=[], metavar="COMPONENT=X",
                   help="also require a component's value >= X, e.g. --min accuracy=1 --min language=0.95")
    f.add_argument("--best-of-group", action="store_true", help="keep only the best passing row per prompt")
    f.add_argument("--group-by", default=None, help="the group key field for --best-of-group (default: the prompt)")
    f.add_argument("--field", action="append", default=[], metavar="FIELD=SOURCE", help="as for `score`")
    f.add_argument("--batch-size", type=int, default=256, help="rows per scoring batch (default 256)")
    f.set_defaults(func=cmd_filter)

    e = sub.add_parser("eval", help="pass@k and maj@k per prompt group of a scored JSONL")
    e.add_argument("input", help="scored JSONL (the output of `score`)")
    e.add_argument("--k", default="1,4,16", help="comma-separated k values (default 1,4,16)")
    e.add_argument("--metric", default="accuracy",
                   help="what makes a row correct: a component name or 'reward'; a comma list takes the first "
                        "with a value, e.g. accuracy,code_tests (default accuracy)")
    e.add_argument("--threshold", type=float, default=1.0, help="correct when the metric is >= this (default 1)")
    e.add_argument("--group-by", default="prompt", help="the field that groups rows (default prompt)")
    e.add_argument("--output", "-o", default=None, help="JSON report (default: INPUT with .eval.json)")
    e.add_argument("--timeout", type=float, default=5.0, help="seconds per answer comparison (default 5)")
    e.set_defaults(func=cmd_eval)

    ls = sub.add_parser("list", help="list the registered verifiers")
    ls.set_defaults(func=cmd_list)

    sb = sub.add_parser("sandbox", help="code sandbox tools")
    sb_sub = sb.add_subparsers(dest="sandbox_command", required=True)
    build = sb_sub.add_parser("build", help="build the Docker sandbox image (and its base image, locally)")
    build.add_argument("--force", action="store_true", help="rebuild even when the images exist")
    build.set_defaults(func=cmd_sandbox_build)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
