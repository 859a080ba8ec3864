"""The `verifiers` command line: score, filter and evaluate JSONL completions, serve rewards over HTTP, list verifiers, build sandboxes.

Exit codes: 0 every row scored; 1 some rows had input errors (each still has an output row); 2 usage
or config error, or `serve` on a port in use (nothing more is written; an output begun stays resumable); 3 an outage (a code sandbox
failed during the run: those rows are errors with reward null; or a --workers process died: rerun with
--resume); 4 the output could not be written (a
full disk): free space and rerun with --resume; 130 interrupted (Ctrl-C): rerun with --resume.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from verifiers.rows import MAX_LINE_BYTES, dump_row
from verifiers.rows import MISSING as _MISSING
from verifiers.rows import (
    SAMPLE_FIELDS as SAMPLE_FIELDS,  # re-exported: the server reads rows as the CLI does
)
from verifiers.rows import lookup as _lookup
from verifiers.rows import parse_field_map as _parse_field_map
from verifiers.scoring import MAX_PROBLEMS

EXIT_OK, EXIT_INPUT_ERRORS, EXIT_USAGE, EXIT_OUTAGE, EXIT_WRITE_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class UsageError(Exception):
    """Bad arguments or config: exit 2."""


class WriteFailed(Exception):
    """The output could not be written: exit 4."""


def parse_field_map(pairs: list[str]) -> dict[str, str]:
    """`--field reference=answer` pairs -> {"reference": "answer"}; sources may be dotted paths."""
    try:
        return _parse_field_map(pairs)
    except ValueError as exc:
        raise UsageError(f"--field {exc}") from None


# ---------------------------------------------------------------- score


def _refuse_overwriting(src: str | Path, dst: str | Path) -> None:
    """UsageError when writing `dst` would overwrite the input `src` (the same path or the same file)."""
    same = Path(src).resolve() == Path(dst).resolve()
    try:
        same = same or os.path.samefile(src, dst)
    except OSError:  # the output does not exist yet
        pass
    if same:
        raise UsageError(f"the output {str(dst)!r} is the input file; write to another file")


def _check_writable(dst: str | Path) -> None:
    """UsageError, one line, for an output in a missing folder or that is a folder."""
    parent = Path(dst).parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {str(dst)!r}: folder {str(parent)!r} does not exist")
    if Path(dst).is_dir():
        raise UsageError(f"cannot write {str(dst)!r}: it is a folder")


def _row_fields(args: argparse.Namespace) -> dict[str, str]:
    """The --field map of `score` and `filter`, which --task may not contradict."""
    fields = parse_field_map(args.field)
    if args.task is not None and "task" in fields:
        raise UsageError("--task sets every row's task; it cannot be combined with --field task=...")
    return fields


def _check_input_output(src: str, dst: str) -> None:
    """UsageError for a missing input, or an output that would overwrite it or cannot be written;
    "-" is stdin / stdout."""
    if src != "-" and not Path(src).is_file() and not Path(src).is_dir():
        raise UsageError(f"input file {src!r} not found")
    if dst == "-":
        return
    if src != "-":
        _refuse_overwriting(src, dst)
    _check_writable(dst)


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse what would lose data before anything is opened for writing."""
    src, dst = args.input, args.output
    if args.workers < 1 or args.batch_size < 1 or args.max_line_bytes < 1:
        raise UsageError("--workers, --batch-size and --max-line-bytes must be at least 1")
    if dst == "-" and args.resume:
        raise UsageError("--resume needs an output file, not stdout")
    _check_input_output(src, dst)
    if dst == "-":
        return
    if args.resume:
        if src == "-":
            raise UsageError("--resume needs an input file, not stdin (nothing could check the rows match)")
        if dst.endswith(".gz"):
            raise UsageError("--resume needs a plain .jsonl output (a gzip stream cannot be cut at a torn row)")


def _resume_command(argv: list[str]) -> str:
    words = list(argv)
    if "--resume" not in words:
        words.append("--resume")
    return "verifiers " + shlex.join(words)


def cmd_score(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from verifiers.composite import ConfigError, load_reward
    from verifiers.scoring import (
        ColumnClash,
        Fingerprint,
        InputError,
        Options,
        ResumeError,
        Summary,
        WorkerDied,
        chunked,
        input_lines,
        open_output,
        resume_point,
        scan_input,
        score_stream,
    )

    err = Console(stderr=True)
    fields = _row_fields(args)
    _check_paths(args)
    options = Options(fields, args.task, args.prefix, args.max_line_bytes)
    try:
        reward = load_reward(args.config)  # validates the config before any row is read
    except ConfigError as exc:
        raise UsageError(f"config {args.config}: {exc}") from None
    components, routes = list(reward.components), list(reward.routes)

    total: int | None = None
    fingerprint = None
    done, summary = 0, Summary()
    try:
        if args.input != "-":
            try:
                total, digest = scan_input(args.input)
            except InputError as exc:
                raise UsageError(str(exc)) from None
            fingerprint = Fingerprint.of(digest, args.config, options)
        if args.resume and Path(args.output).exists():
            assert fingerprint is not None
            problem = fingerprint.mismatch(args.output)
            if problem:
                raise UsageError(f"--resume: {problem}; score into a new output file")
            try:
                done, summary = resume_point(args.output, args.prefix, fields)
            except ResumeError as exc:
                raise UsageError(f"--resume: {exc}") from None
            if total is not None and done > total:
                raise UsageError(f"--resume: {args.output} has {done} rows but {args.input} has only {total} lines")
        try:
            out = open_output(args.output, append=args.resume)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output!r}: {exc.strerror or exc}") from None
        if fingerprint is not None and Path(args.output).is_file():
            try:
                fingerprint.save(args.output)
            except OSError as exc:
                out.close()
                reward.close()
                err.print(f"[bold red]error:[/] cannot write {_escape(str(Fingerprint.path_for(args.output)))}: "
                          f"{_escape(exc.strerror or str(exc))}", highlight=False, soft_wrap=True)
                return EXIT_WRITE_FAILED
    except BaseException:
        reward.close()
        raise

    if args.workers > 1:
        reward.close()  # the workers build their own
    scored, start = 0, time.perf_counter()
    summary_console = err if args.output == "-" else Console()
    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeRemainingColumn())
    lines = input_lines(args.input, args.max_line_bytes, skip=done)
    try:
        results = score_stream(reward, chunked(lines, args.batch_size), options, workers=args.workers,
                               config=args.config)
        with Progress(*columns, console=err, disable=args.quiet, transient=False) as bar:
            task = bar.add_task("score", total=total, completed=done, rate="")
            for data, chunk_stats in results:
                try:
                    out.write(data)
                    out.flush()  # rows survive a kill -9 of this process
                except OSError as exc:
                    raise WriteFailed(f"cannot write {args.output!r}: {exc.strerror or exc}") from None
                for stat in chunk_stats:
                    summary.add(stat)
                scored += len(chunk_stats)
                rate = scored / max(time.perf_counter() - start, 1e-9)
                bar.update(task, advance=len(chunk_stats), rate=f"{rate:,.0f} rows/s")
    except ColumnClash as exc:
        raise UsageError(str(exc)) from None
    except WorkerDied as exc:
        err.print(f"[bold red]error:[/] {_escape(str(exc))}; {done + scored} rows are in the output; "
                  f"continue with: {_escape(_resume_command(args.argv))}", highlight=False, soft_wrap=True)
        return EXIT_OUTAGE
    except WriteFailed as exc:
        err.print(f"[bold red]error:[/] {_escape(str(exc))}", highlight=False, soft_wrap=True)
        if args.output != "-":
            err.print(f"{done + scored} rows are in the output; free space, then: {_escape(_resume_command(args.argv))}",
                      highlight=False, soft_wrap=True)
        return EXIT_WRITE_FAILED
    except KeyboardInterrupt:
        if args.output != "-":
            err.print(f"interrupted: {done + scored} rows are in {_escape(args.output)}; continue with:\n  "
                      f"{_escape(_resume_command(args.argv))}", highlight=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    except InputError as exc:
        raise UsageError(str(exc)) from None
    finally:
        lines.close()
        if out is not sys.stdout.buffer:
            try:
                out.close()
            except OSError:
                pass  # a full disk at the final flush: already reported or about to be
        reward.close()
    elapsed = time.perf_counter() - start
    if not args.quiet:
        print_summary(summary, components, routes, elapsed, scored, resumed=done, console=summary_console)
    _print_warnings(err, summary.columns.warnings(fields))
    if summary.outages:
        err.print(f"[bold red]error:[/] a code sandbox or model backend failed for {summary.outages} rows (reward null): "
                  f"{_escape(summary.first_outage or '')}", highlight=False, soft_wrap=True)
        return EXIT_OUTAGE
    return EXIT_INPUT_ERRORS if summary.input_errors else EXIT_OK


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_summary(summary: Any, components: list[str], routes: list[str], elapsed: float, scored: int,
                  resumed: int = 0, console: Any = None) -> None:
    """The end-of-run table: rows, mean reward, every component's applied count, mean and pass rate,
    statuses, and warnings for a component that applied to no row or a route no row took."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="reward summary", show_header=True)
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_column("mean", justify="right")
    table.add_column("pass rate", justify="right")
    mean = f"{summary.reward_total / summary.rewards:.4f}" if summary.rewards else "-"
    table.add_row("reward", str(summary.rewards), mean, "")  # rows with a value; statuses below count all
    for name, c in summary.component_rows(components):
        mean = f"{c.total / c.valued:.4f}" if c.valued else "-"
        rate = f"{c.passed / c.valued:.1%}" if c.valued else "-"
        table.add_row(f"  {name}", f"{c.applied} applied", mean, rate)
    console.print(table)
    status_table = Table(title=f"status of {summary.rows} rows", show_header=True)
    status_table.add_column("status")
    status_table.add_column("rows", justify="right")
    for status, n in summary.statuses.most_common():
        status_table.add_row(status, str(n))
    if summary.input_errors:
        status_table.add_row("(of which input errors)", str(summary.input_errors))
    console.print(status_table)
    _print_problems(console, summary.problems, summary.input_errors)
    if summary.routes:
        console.print("rows by route: " + ", ".join(f"{r} {n}" for r, n in summary.routes.most_common()))
    for note in summary.notes(components, routes):
        console.print(f"note: {_escape(note)} (this input has no rows for it)", highlight=False, soft_wrap=True)
    _print_warnings(console, summary.warnings(components, routes))
    note = f" ({resumed} rows resumed from the output)" if resumed else ""
    console.print(f"scored {scored} rows in {elapsed:.2f} s ({scored / max(elapsed, 1e-9):,.0f} rows/s){note}")
    if summary.isolations:
        console.print("code sandbox: " + ", ".join(f"{name} ({n} rows)" for name, n in summary.isolations.items()),
                      highlight=False, soft_wrap=True)


def cmd_filter(args: argparse.Namespace) -> int:
    """Rejection sampling: score IN with the config, write the rows that pass (see verifiers.rejection)."""
    from rich.console import Console
    from rich.table import Table

    from verifiers.composite import ConfigError, load_reward
    from verifiers.evaluate import group_key
    from verifiers.rejection import BestOfGroup, Criteria, output_row, parse_minimums
    from verifiers.rows import missing_sources
    from verifiers.scoring import (
        ColumnCheck,
        InputError,
        Options,
        chunked,
        input_lines,
        open_output,
        parse_lines,
    )

    fields = _row_fields(args)
    if args.batch_size < 1 or args.max_line_bytes < 1:
        raise UsageError("--batch-size and --max-line-bytes must be at least 1")
    _check_input_output(args.input, args.output)  # before the output is opened (and truncated)
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
    problems: list[str] = []  # the first few input errors, shown with their line numbers
    best = BestOfGroup()
    columns = ColumnCheck()
    group_path = args.group_by or fields.get("prompt", "prompt")
    options = Options(fields, args.task, max_line_bytes=args.max_line_bytes)
    lines = input_lines(args.input, args.max_line_bytes)
    try:
        try:
            out = open_output(args.output)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output!r}: {exc.strerror or exc}") from None
        try:
            for chunk in chunked(lines, args.batch_size):
                parsed = parse_lines(chunk, options)
                for line in parsed:
                    missing = missing_sources(line.row, fields)
                    columns.add(missing, map(str, line.row) if missing else ())
                    if line.problem is not None:
                        counts["input error"] += 1
                        if len(problems) < MAX_PROBLEMS:
                            problems.append(f"line {line.number}: {line.problem}")
                good = [line for line in parsed if line.sample is not None]
                scores = reward.score_batch([line.sample for line in good]) if good else []
                for line, score in zip(good, scores, strict=True):
                    reason = criteria.rejects(score)
                    counts[reason or "passed"] += 1
                    if reason is not None:
                        continue
                    try:
                        kept = output_row(line.row, score, args.prefix)
                    except ValueError as exc:
                        raise UsageError(f"line {line.number}: {exc}") from None
                    if args.best_of_group:
                        key = _lookup(line.row, group_path)
                        best.offer(("line", line.number) if key is _MISSING else group_key(key), score.value, kept)
                    else:
                        out.write(dump_row(kept))
            for row in best.items():
                out.write(dump_row(row))
        finally:
            if out is not sys.stdout.buffer:
                out.close()
            else:
                out.flush()
    except KeyboardInterrupt:
        if args.output != "-":
            Console(stderr=True).print(f"interrupted: {_escape(args.output)} is incomplete: it holds only the rows "
                                       "kept so far; run the command again to filter the whole input",
                                       highlight=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    except InputError as exc:
        # an input that breaks off midway (a truncated .gz): what was written so far must not pass for the whole
        partial = "" if args.output == "-" or counts.total() == 0 else (
            f"; {args.output} is incomplete: it holds only the rows kept before that")
        raise UsageError(f"{exc}{partial}") from None
    finally:
        lines.close()
        reward.close()

    table = Table(title=f"filter: {args.input}", show_header=True)
    table.add_column("rows")
    table.add_column("count", justify="right")
    for what, n in counts.most_common():
        table.add_row(what, str(n))
    if args.best_of_group:
        table.add_row("written (best of each group)", str(len(best)))
    err = Console(stderr=True)
    err.print(table)
    _print_problems(err, problems, counts["input error"])
    _print_warnings(err, columns.warnings(fields))
    if not counts:
        err.print("[bold yellow]warning:[/] the input holds no rows", highlight=False)
    return EXIT_INPUT_ERRORS if counts["input error"] else EXIT_OK


def _print_warnings(console: Any, warnings: list[str]) -> None:
    """Each warning on its own line, marked as one (the summary's, and a --field column rows lack)."""
    for warning in warnings:
        console.print(f"[bold yellow]warning:[/] {_escape(warning)}", highlight=False, soft_wrap=True)


def _print_problems(console: Any, problems: list[str], total: int) -> None:
    """The first input errors, each with its line number, and how many more there were."""
    for problem in problems:
        console.print(f"[bold yellow]input error:[/] {_escape(problem)}", highlight=False, soft_wrap=True)
    if total > len(problems):
        console.print(f"... and {total - len(problems)} more input errors", highlight=False)


def cmd_eval(args: argparse.Namespace) -> int:
    """pass@k and maj@k per prompt group of a scored JSONL (see verifiers.evaluate)."""
    from rich.console import Console
    from rich.table import Table

    from verifiers.evaluate import EvalError, evaluate_rows
    from verifiers.rows import missing_sources, parse_row
    from verifiers.scoring import ColumnCheck, InputError, input_lines

    src = args.input
    if args.output:
        dst = args.output
    elif src == "-":
        raise UsageError("reading stdin, eval needs --output for its report")
    else:
        name = Path(src).name
        for suffix in (".gz", ".jsonl", ".parquet"):
            name = name.removesuffix(suffix)
        dst = str(Path(src).with_name(name + ".eval.json"))
    _check_input_output(src, dst)  # before any work: the report must never replace the scored rows
    if dst == "-":
        raise UsageError("--output: eval writes a JSON report to a file, not stdout")
    if args.max_line_bytes < 1:
        raise UsageError("--max-line-bytes must be at least 1")
    try:
        ks = [int(k) for k in args.k.split(",") if k.strip()]
    except ValueError:
        raise UsageError(f"--k {args.k!r}: expected comma-separated integers, e.g. 1,4,16") from None
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if not math.isfinite(args.threshold):  # NaN: every row would silently count as wrong
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    fields = parse_field_map(args.field)
    rows: list[dict] = []
    problems: list[str] = []
    unreadable = 0
    try:
        for number, raw in input_lines(src, args.max_line_bytes):
            if not raw.strip():
                continue  # a blank line holds no row
            try:
                row = parse_row(raw, args.max_line_bytes)
            except ValueError as exc:
                problem = str(exc)
            else:
                if isinstance(row, dict):
                    rows.append(row)
                    continue
                problem = f"row must be a JSON object, got {type(row).__name__}"
            unreadable += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(f"line {number}: {problem}")
    except InputError as exc:
        raise UsageError(str(exc)) from None
    if not rows:
        raise UsageError(f"{src!r} holds no JSON rows ({unreadable} unreadable lines"
                         + (f"; {problems[0]})" if problems else ")"))
    try:
        report = evaluate_rows(rows, ks, metrics=[m for m in args.metric.split(",") if m], threshold=args.threshold,
                               group_by=args.group_by or fields.get("prompt", "prompt"),
                               completion_field=fields.get("completion", "completion"), prefix=args.prefix,
                               timeout=args.timeout)
    except EvalError as exc:
        raise UsageError(str(exc)) from None
    report["skipped"]["unreadable line"] = unreadable
    Path(dst).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

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
    err = Console(stderr=True)
    _print_problems(err, problems, unreadable)
    used = {name: path for name, path in fields.items()  # eval reads only these two of the --field map
            if name == "completion" or (name == "prompt" and not args.group_by)}
    columns = ColumnCheck()
    for row in rows:
        missing = missing_sources(row, used)
        columns.add(missing, row if missing else ())
    _print_warnings(err, columns.warnings(used))
    return EXIT_INPUT_ERRORS if unreadable else EXIT_OK


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
    except ValueError:
        raise UsageError(f"--on-none must be nan, raise or a number, got {args.on_none!r}") from None
    try:
        from verifiers.server import CannotListen, serve
    except ImportError as exc:
        raise UsageError(f"the server needs the 'server' extra (pip install 'r1-verifiers[server]'): {exc}") from None
    if args.host not in ("127.0.0.1", "localhost", "::1") and token is None:
        err.print(f"[bold yellow]warning:[/] serving on {args.host} with no --token: anyone who can reach it can use it")

    def listening() -> None:
        err.print(f"serving {args.config} on http://{args.host}:{args.port} "
                  f"({'bearer token required' if token else 'no token'}; {args.workers} worker(s)); Ctrl-C stops",
                  highlight=False)

    try:
        serve(args.config, host=args.host, port=args.port, token=token, workers=args.workers,
              max_body_bytes=int(args.max_body_mb * (1 << 20)), max_batch=args.max_batch, on_none=on_none,
              on_listening=listening)
    except ConfigError as exc:
        raise UsageError(f"config {args.config}: {exc}") from None
    except CannotListen as exc:  # a port in use: the caller's choice, not an outage
        raise UsageError(str(exc)) from None
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
    from verifiers import __version__

    p = argparse.ArgumentParser(prog="verifiers", description="Verifiers and rewards for R1-style RL.")
    p.add_argument("--version", action="version", version=f"verifiers (r1-verifiers) {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("score", help="score a JSONL file of completions with a reward config")
    s.add_argument("input", help="JSONL (or .jsonl.gz; - for stdin; a .parquet file or a saved `datasets` folder "
                                 "with pyarrow): one object per line with completion, prompt, reference, task")
    s.add_argument("--config", required=True, help="reward YAML (see examples/r1.yaml)")
    s.add_argument("--output", "-o", required=True,
                   help="output JSONL (.gz to compress, - for stdout): one row per input line, in order")
    s.add_argument("--workers", type=int, default=1,
                   help="scoring processes (default 1; see the README before raising it)")
    s.add_argument("--batch-size", type=int, default=256, help="rows per scoring batch (default 256)")
    s.add_argument("--resume", action="store_true",
                   help="continue an interrupted run, appending to --output (same input, config and options)")
    s.add_argument("--field", action="append", default=[], metavar="FIELD=SOURCE",
                   help="read FIELD from another key, e.g. reference=answer or reference=reward_model.ground_truth")
    s.add_argument("--task", default=None, help="the task (route) of every row, e.g. math")
    s.add_argument("--prefix", default="",
                   help="put the output columns under a prefix (e.g. score_) when the input has columns "
                        "named line, reward, status, components, info, error or raw")
    s.add_argument("--max-line-bytes", type=int, default=MAX_LINE_BYTES,
                   help=f"a longer input line is an error row (default {MAX_LINE_BYTES:,})")
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
    f.add_argument("input", help="rows as `score` reads them: JSONL, .jsonl.gz, - for stdin, Parquet or a `datasets` folder")
    f.add_argument("--config", required=True, help="reward YAML")
    f.add_argument("--output", "-o", required=True,
                   help="output JSONL (.gz to compress, - for stdout): the kept rows plus reward and components")
    f.add_argument("--min-reward", type=float, required=True, help="keep rows with reward >= X (None never passes)")
    f.add_argument("--min", action="append", default=[], metavar="COMPONENT=X",
                   help="also require a component's value >= X, e.g. --min accuracy=1 --min language=0.95")
    f.add_argument("--best-of-group", action="store_true", help="keep only the best passing row per prompt")
    f.add_argument("--group-by", default=None, help="the group key field for --best-of-group (default: the prompt)")
    f.add_argument("--field", action="append", default=[], metavar="FIELD=SOURCE", help="as for `score`")
    f.add_argument("--task", default=None, help="the route for every row (default: the row's task, else by reference)")
    f.add_argument("--batch-size", type=int, default=256, help="rows per scoring batch (default 256)")
    f.add_argument("--prefix", default="",
                   help="name the output columns <prefix>reward and <prefix>components (e.g. score_) when the "
                        "input has columns of those names")
    f.add_argument("--max-line-bytes", type=int, default=MAX_LINE_BYTES,
                   help=f"a longer input line is an input error (default {MAX_LINE_BYTES:,})")
    f.set_defaults(func=cmd_filter)

    e = sub.add_parser("eval", help="pass@k and maj@k per prompt group of a scored JSONL")
    e.add_argument("input", help="scored rows (the output of `score`): JSONL, .jsonl.gz, - for stdin, Parquet")
    e.add_argument("--k", default="1,4,16", help="comma-separated k values (default 1,4,16)")
    e.add_argument("--metric", default="accuracy",
                   help="what makes a row correct: a component name or 'reward'; a comma list takes the first "
                        "with a value, e.g. accuracy,code_tests (default accuracy)")
    e.add_argument("--threshold", type=float, default=1.0, help="correct when the metric is >= this (default 1)")
    e.add_argument("--group-by", default=None, help="the field that groups rows (default: the prompt)")
    e.add_argument("--field", action="append", default=[], metavar="FIELD=SOURCE",
                   help="as given to `score`: where the rows keep their completion and prompt, "
                        "e.g. --field completion=response")
    e.add_argument("--prefix", default="", help="the output-column prefix given to `score` (e.g. score_)")
    e.add_argument("--output", "-o", default=None, help="JSON report (default: INPUT with .eval.json)")
    e.add_argument("--timeout", type=float, default=5.0, help="seconds per answer comparison (default 5)")
    e.add_argument("--max-line-bytes", type=int, default=MAX_LINE_BYTES,
                   help=f"a longer line is unreadable (default {MAX_LINE_BYTES:,})")
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
    args.argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
