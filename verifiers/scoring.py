"""The engine behind `verifiers score`: stream a JSONL file through a reward, in order, in bounded memory.

    open_input(path) / open_output(path, append)   "-" is stdin/stdout, *.gz is gzip
    table_rows(path, skip)                          rows of a Parquet file or a Hugging Face `datasets` folder
    scan_input(path) -> (lines, sha256)            one pass over a file (the progress total, the fingerprint)
    Fingerprint                                    what --resume checks: input, config and options
    read_lines(stream, max_bytes, skip)            numbered raw lines; an over-long line is never read whole
    input_lines(path, max_bytes, skip)             numbered raw lines of any input: JSONL, .gz, stdin, tables
    parse_lines(lines, options)                    numbered raw lines -> rows and Samples, or each line's problem
    score_lines(reward, lines, options)            one chunk -> (output bytes, per-row stats)
    score_stream(...)                              chunks through 1 or N processes, in order, bounded
    resume_point(path, prefix, fields)             rows already in an output (a torn last line is dropped)
    Summary                                        the end-of-run figures, computed on the fly
    ColumnCheck                                    --field columns absent from rows, for a warning

Library code: nothing here prints; the CLI presents.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import sys
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from verifiers.core import Sample, Score, error_score, exit_with_process
from verifiers.rows import (
    MAX_LINE_BYTES,
    OUTPUT_COLUMNS,
    dump_row,
    encoding_problem,
    error_row,
    missing_sources,
    output_clash,
    parse_row,
    row_to_sample,
    scored_row,
)

STDIO = "-"


class ColumnClash(ValueError):
    """An input column would be overwritten by an output column."""

    def __init__(self, line: int, column: str) -> None:
        super().__init__(line, column)
        self.line, self.column = line, column

    def __str__(self) -> str:
        return (
            f"line {self.line}: the input has a column {self.column!r}, which an output column would overwrite; "
            "write the output columns under a prefix, e.g. --prefix score_ (to a new output file)"
        )


@dataclass(frozen=True)
class Options:
    """What decides an output row besides the reward config (part of the resume fingerprint)."""

    fields: dict[str, str] = field(default_factory=dict)
    task: str | None = None
    prefix: str = ""
    max_line_bytes: int = MAX_LINE_BYTES


# ---------------------------------------------------------------- files


class InputError(ValueError):
    """An input that cannot be read at all (not a row of it: those become error rows)."""


def is_gzip(path: str) -> bool:
    return path.endswith(".gz")


def open_input(path: str) -> BinaryIO:
    """stdin for "-", a .gz decompressed. InputError for a .gz that is not gzip, OSError when unreadable."""
    if path == STDIO:
        return sys.stdin.buffer
    if is_gzip(path):
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b":
                raise InputError(f"{path!r} is named .gz but is not gzip")
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def open_output(path: str, append: bool = False) -> BinaryIO:
    """OSError when the path cannot be written (a missing folder, no permission)."""
    if path == STDIO:
        return sys.stdout.buffer
    if is_gzip(path):
        return gzip.open(path, "ab" if append else "wb")  # type: ignore[return-value]
    return open(path, "ab" if append else "wb")  # noqa: SIM115


def is_table(path: str) -> bool:
    """A Parquet file or a Hugging Face `datasets` folder (save_to_disk), read with pyarrow."""
    return path != STDIO and (path.endswith(".parquet") or Path(path).is_dir())


def _table_files(path: str) -> list[Path]:
    if not Path(path).is_dir():
        return [Path(path)]
    files = sorted(Path(path).glob("*.arrow"))
    if not files:
        splits = sorted(p.name for p in Path(path).iterdir() if p.is_dir() and any(p.glob("*.arrow")))
        hint = f"; it holds the splits {', '.join(splits)}: give one, e.g. {Path(path) / splits[0]}" if splits else ""
        raise InputError(f"{path} is a folder without .arrow files (not a saved `datasets` split){hint}")
    return files


def _table_batches(path: str) -> Iterator[Any]:
    try:
        import pyarrow.ipc as ipc
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet or a `datasets` folder needs pyarrow: pip install pyarrow") from None
    try:
        for file in _table_files(path):
            if file.suffix == ".parquet":
                yield from pq.ParquetFile(file).iter_batches(batch_size=1024)
            else:  # datasets' save_to_disk writes Arrow IPC streams
                with ipc.open_stream(file) as reader:
                    yield from reader
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"cannot read {path}: {exc}") from None


def table_rows(path: str, skip: int = 0) -> Iterator[tuple[int, bytes]]:
    """(1-based row number, the row as a JSON line) for each row of a Parquet file or `datasets` folder
    after the first `skip`; values JSON cannot hold (bytes, dates) are written as their str()."""
    n = 0
    for batch in _table_batches(path):
        if n + batch.num_rows <= skip:
            n += batch.num_rows
            continue
        for row in batch.to_pylist():
            n += 1
            if n > skip:
                yield n, json.dumps(row, ensure_ascii=False, default=str).encode("utf-8", "backslashreplace")


def scan_input(path: str) -> tuple[int, str]:
    """(number of lines or table rows, sha256 of the file's bytes) in one pass of 1 MiB blocks.
    InputError when a .gz is not gzip or is truncated."""
    digest = hashlib.sha256()
    if is_table(path):
        rows = 0
        for file in _table_files(path):
            with open(file, "rb") as raw:
                while block := raw.read(1 << 20):
                    digest.update(block)
        for batch in _table_batches(path):
            rows += batch.num_rows
        return rows, digest.hexdigest()
    lines, last = 0, b"\n"
    with open(path, "rb") as raw:
        while block := raw.read(1 << 20):
            digest.update(block)
            if not is_gzip(path):
                lines += block.count(b"\n")
                last = block[-1:]
    if is_gzip(path):
        try:
            with open_input(path) as f:
                while block := f.read(1 << 20):
                    lines += block.count(b"\n")
                    last = block[-1:]
        except (OSError, EOFError) as exc:  # not gzip, or a truncated .gz: before any output is opened
            raise InputError(f"cannot read {path!r}: {exc}") from None
    return lines + (last != b"\n"), digest.hexdigest()


def read_lines(stream: BinaryIO, max_bytes: int = MAX_LINE_BYTES, skip: int = 0) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw bytes without the newline) for each line after the first `skip`.

    A line longer than `max_bytes` comes back cut to max_bytes + 1 bytes (so parse_row calls it too
    long) and the rest of it is skipped in 1 MiB steps, never held in memory.
    """
    lineno = 0
    while True:
        raw = stream.readline(max_bytes + 2)
        if not raw:
            return
        lineno += 1
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        elif len(raw) >= max_bytes + 2:
            while (more := stream.readline(1 << 20)) and not more.endswith(b"\n"):
                pass
        if lineno > skip:
            yield lineno, raw


def input_lines(path: str, max_bytes: int = MAX_LINE_BYTES, skip: int = 0) -> Iterator[tuple[int, bytes]]:
    """(1-based line or row number, raw JSON line) for each row of an input after the first `skip`: a JSONL
    file (.gz too), "-" for stdin, a Parquet file or a `datasets` folder. The reading path of `score`,
    `filter` and `eval`. InputError when the input as a whole cannot be read (missing, not gzip, a
    truncated .gz); a bad line is not an error here (parse_lines names it)."""
    if is_table(path):
        yield from table_rows(path, skip)
        return
    try:
        stream = open_input(path)
    except OSError as exc:
        raise InputError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        yield from read_lines(stream, max_bytes, skip)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; a truncated stream an EOFError
        raise InputError(f"cannot read {path!r}: {exc}") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@dataclass
class Line:
    """One input line as read: the parsed row (None when it is not JSON) and its Sample, or the problem
    that keeps it from being scored."""

    number: int
    raw: bytes
    row: Any = None
    sample: Sample | None = None
    problem: str | None = None


def parse_lines(lines: Iterable[tuple[int, bytes]], options: Options) -> list[Line]:
    """Numbered raw lines -> Lines, each with its row and Sample, or with the problem that makes it an
    error row: unparseable (empty, too long, not UTF-8, malformed JSON), text UTF-8 cannot hold, or not a
    usable sample (no completion, a field of the wrong type)."""
    out = []
    for number, raw in lines:
        try:
            row = parse_row(raw, options.max_line_bytes)
        except ValueError as exc:
            out.append(Line(number, raw, problem=str(exc)))
            continue
        problem = encoding_problem(row, raw)
        if problem is not None:
            out.append(Line(number, raw, row, problem=problem))
            continue
        try:
            sample = row_to_sample(row, options.fields, options.task)
        except (ValueError, RecursionError) as exc:
            out.append(Line(number, raw, row, problem=str(exc) or type(exc).__name__))
            continue
        out.append(Line(number, raw, row, sample))
    return out


def chunked(lines: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------- the fingerprint


@dataclass(frozen=True)
class Fingerprint:
    """What an output was made from; --resume refuses to continue an output made from anything else."""

    input_sha256: str
    config_sha256: str
    options: dict[str, Any]

    @classmethod
    def of(cls, input_sha256: str, config_path: str, options: Options) -> Fingerprint:
        config = hashlib.sha256(Path(config_path).read_bytes()).hexdigest()
        opts = asdict(options)
        opts.pop("max_line_bytes")  # a different cap does not change a row that fits both
        return cls(input_sha256, config, opts)

    @staticmethod
    def path_for(output: str) -> Path:
        return Path(output + ".run.json")

    def save(self, output: str) -> None:
        self.path_for(output).write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    def mismatch(self, output: str) -> str | None:
        """None when `output`'s stored fingerprint is this one, else what differs."""
        path = self.path_for(output)
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return f"{path} is missing or unreadable, so nothing says what {output} was made from"
        if not isinstance(stored, dict):
            return f"{path} is not a fingerprint"
        diffs = []
        if stored.get("input_sha256") != self.input_sha256:
            diffs.append("the input file's content")
        if stored.get("config_sha256") != self.config_sha256:
            diffs.append("the reward config")
        if stored.get("options") != self.options:
            diffs.append("the options (--field, --task, --prefix)")
        return f"{output} was made with a different {', '.join(diffs)}" if diffs else None


# ---------------------------------------------------------------- scoring


@dataclass
class RowStat:
    """What the summary needs of one output row."""

    reward: float | None
    status: str
    applied: dict[str, float | None] = field(default_factory=dict)  # the components routed to this row
    route: str | None = None
    input_error: bool = False
    outage: str | None = None  # an infrastructure failure (the code sandbox) behind this row
    isolation: str | None = None  # the code sandbox that ran it
    problem: str | None = None  # an input error's message ("line 7: ...")
    missing: tuple[str, ...] | None = None  # the --field FIELDs whose column the row lacks; None: not an object
    columns: tuple[str, ...] = ()  # the row's columns, kept only when `missing` is not empty

    @classmethod
    def of_score(cls, score: Score) -> RowStat:
        return _stat(score.value, str(score.status), score.components, score.info, False)


def _stat(reward: Any, status: str, components: Any, info: Any, input_error: bool) -> RowStat:
    info = info if isinstance(info, dict) else {}
    components = components if isinstance(components, dict) else {}
    details = info.get("components")
    applied = {n: components.get(n) for n in details} if isinstance(details, dict) else {}
    route = info.get("route")
    # what a code component reports about its sandbox, on the score or on a component's details
    found = [info, *(c for c in (details or {}).values() if isinstance(c, dict))] if isinstance(details, dict) else [info]
    outage = next((str(c["outage"]) for c in found if c.get("outage")), None)
    isolation = next((str(c["isolation"]) for c in found if c.get("isolation")), None)
    return RowStat(reward if isinstance(reward, (int, float)) and not isinstance(reward, bool) else None, status,
                   applied, route if isinstance(route, str) else None, input_error, outage, isolation)


def score_lines(reward: Any, lines: list[tuple[int, bytes]], options: Options) -> tuple[bytes, list[RowStat]]:
    """Score numbered raw lines: the output bytes (one row per line, in order) and each row's stats.

    A line that cannot be parsed or turned into a sample is an error row keeping the input's columns.
    Raises ColumnClash for an input column the output would overwrite (nothing of this chunk is kept).
    """
    parsed = parse_lines(lines, options)
    for line in parsed:
        clash = output_clash(line.row, options.prefix)
        if clash is not None:
            raise ColumnClash(line.number, clash)
    samples = [line.sample for line in parsed if line.sample is not None]
    scores: list[Score] = []
    if samples:
        try:
            scores = reward.score_batch(samples)
            if len(scores) != len(samples):
                raise RuntimeError(f"the reward returned {len(scores)} scores for {len(samples)} samples")
        except Exception as exc:  # a broken reward is an outage for these rows, never a lost run
            scores = [error_score(f"scoring failed: {type(exc).__name__}: {exc}")] * len(samples)
    it = iter(scores)
    out, stats = [], []
    for line in parsed:
        lineno, raw = line.number, line.raw
        if line.problem is not None:
            stat = RowStat(None, "error", input_error=True, problem=f"line {lineno}: {line.problem}")
            out_row = error_row(line.row, lineno, stat.problem, raw, options.prefix)
        else:
            score = next(it)
            stat = RowStat.of_score(score)
            out_row = scored_row(line.row, score, lineno, options.prefix)
        try:
            data = dump_row(out_row)
        except (ValueError, TypeError, RecursionError) as exc:  # e.g. a verifier's info that JSON cannot hold
            stat = RowStat(None, "error", input_error=True, problem=f"line {lineno}: output not writable as JSON: {exc}")
            data = dump_row(error_row(None, lineno, stat.problem, raw, options.prefix))
        stat.missing = missing_sources(line.row, options.fields)
        if stat.missing:
            stat.columns = tuple(map(str, line.row))
        out.append(data)
        stats.append(stat)
    return b"".join(out), stats


_worker_reward: Any = None
_worker_options = Options()


def _init_worker(config: str, options: Options, owner: int) -> None:
    global _worker_reward, _worker_options
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    exit_with_process(owner)  # a SIGKILLed CLI must not leave its workers behind
    from verifiers.composite import load_reward

    _worker_reward, _worker_options = load_reward(config), options


def _score_in_worker(lines: list[tuple[int, bytes]]) -> tuple[bytes, list[RowStat]]:
    return score_lines(_worker_reward, lines, _worker_options)


def score_stream(
    reward: Any, chunks: Iterable[list[tuple[int, bytes]]], options: Options, *, workers: int = 1, config: str = ""
) -> Iterator[tuple[bytes, list[RowStat]]]:
    """Score chunks in order. With workers > 1, `config` is loaded in each of that many processes and at
    most 2 * workers chunks are in flight, so memory stays bounded whatever the input's size."""
    if workers <= 1:
        for chunk in chunks:
            yield score_lines(reward, chunk, options)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("forkserver" if sys.platform == "linux" else "spawn")
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(config, options, os.getpid()))
    window: deque = deque()
    try:
        for chunk in chunks:
            window.append(pool.submit(_score_in_worker, chunk))
            if len(window) >= 2 * workers:
                yield _result(window.popleft())
        while window:
            yield _result(window.popleft())
    finally:
        for future in window:
            future.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


class WorkerDied(RuntimeError):
    """A scoring process ended without a result (killed, out of memory): the rows before it are written."""


def _result(future: Any) -> tuple[bytes, list[RowStat]]:
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise WorkerDied(f"a scoring worker process died ({exc})") from None


# ---------------------------------------------------------------- resuming


class ResumeError(ValueError):
    """An output that --resume cannot continue."""


def resume_point(output: str, prefix: str = "", fields: dict[str, str] | None = None) -> tuple[int, Summary]:
    """The rows already in `output` and their summary (`fields`: the --field map, checked against each
    row's input columns), streaming. A torn last line (a kill mid-write) is cut off the file. ResumeError
    when a row is not JSON or its line is not the next one."""
    summary = Summary()
    path = Path(output)
    if not path.exists():
        return 0, summary
    n, good_end = 0, 0
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # torn: written by a run that was killed mid-line
            try:
                row = json.loads(raw)
            except (ValueError, RecursionError):
                raise ResumeError(f"{output} line {n + 1} is not JSON; not an output of `verifiers score`") from None
            if not isinstance(row, dict) or row.get(prefix + "line") != n + 1:
                got = row.get(prefix + "line") if isinstance(row, dict) else None
                raise ResumeError(f"{output} row {n + 1} has line {got!r}; it does not continue this input")
            n += 1
            good_end += len(raw)
            summary.add(_stat_of_row(row, prefix, fields or {}))
    if good_end != path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(good_end)
    return n, summary


def _stat_of_row(row: dict, prefix: str, fields: dict[str, str]) -> RowStat:
    input_error = prefix + "error" in row and prefix + "info" not in row  # error rows carry no info
    stat = _stat(row.get(prefix + "reward"), str(row.get(prefix + "status")), row.get(prefix + "components"),
                 row.get(prefix + "info"), input_error)
    if input_error:
        stat.problem = str(row[prefix + "error"])
    if input_error and prefix + "raw" in row:
        return stat  # the line was not a JSON object: no columns to check
    outputs = {prefix + column for column in OUTPUT_COLUMNS}
    stat.missing = missing_sources({k: v for k, v in row.items() if k not in outputs}, fields)
    if stat.missing:
        stat.columns = tuple(str(k) for k in row if k not in outputs)
    return stat


# ---------------------------------------------------------------- the summary


@dataclass
class ComponentStats:
    applied: int = 0  # rows routed to it
    valued: int = 0  # of those, rows where it gave a value
    total: float = 0.0
    passed: int = 0  # value >= 1


MAX_PROBLEMS = 5  # input errors a summary keeps the message of (the rest are counted)
MAX_COLUMNS_SEEN = 20  # column names a ColumnCheck keeps to name in its warning


class ColumnCheck:
    """Counts, over the rows that are JSON objects, those lacking the column a `--field FIELD=SOURCE` names
    (their reward is silently null or wrong: a reference that is not there is no gold answer), and keeps
    the first MAX_COLUMNS_SEEN column names of those rows. Constant memory."""

    def __init__(self) -> None:
        self.rows = 0  # JSON-object rows checked
        self.missing: Counter[str] = Counter()  # FIELD -> rows lacking its column
        self.seen: dict[str, None] = {}  # column names of rows lacking one, in first-seen order
        self.more_seen = False

    def add(self, missing: tuple[str, ...] | None, columns: Iterable[str] = ()) -> None:
        """One row: the FIELDs whose column it lacks (None when it is not a JSON object: not counted)."""
        if missing is None:
            return
        self.rows += 1
        self.missing.update(missing)
        if missing:
            for name in columns:
                if name in self.seen:
                    continue
                if len(self.seen) >= MAX_COLUMNS_SEEN:
                    self.more_seen = True
                    break
                self.seen[name] = None

    def warnings(self, fields: dict[str, str]) -> list[str]:
        """One line per --field whose column some rows lack, e.g. "--field reference=gold: column 'gold'
        is missing in 120 of 120 rows; columns seen: answer, completion, prompt"."""
        seen = ", ".join(sorted(self.seen)) + (", ..." if self.more_seen else "") or "none"
        return [f"--field {name}={fields[name]}: column {fields[name]!r} is missing in {self.missing[name]} of "
                f"{self.rows} rows; columns seen: {seen}" for name in fields if self.missing[name]]


class Summary:
    """Running figures over every output row; constant memory whatever the row count."""

    def __init__(self) -> None:
        self.rows = 0
        self.input_errors = 0
        self.statuses: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.unrouted = 0  # scored rows with no route (every row, under a config without routes)
        self.rewards = 0
        self.reward_total = 0.0
        self.components: dict[str, ComponentStats] = {}
        self.outages = 0
        self.first_outage: str | None = None
        self.isolations: Counter[str] = Counter()
        self.problems: list[str] = []  # the first MAX_PROBLEMS input errors' messages
        self.columns = ColumnCheck()  # --field columns absent from rows

    def add(self, stat: RowStat) -> None:
        self.rows += 1
        self.input_errors += stat.input_error
        if stat.problem is not None and len(self.problems) < MAX_PROBLEMS:
            self.problems.append(stat.problem)
        self.statuses[stat.status] += 1
        self.columns.add(stat.missing, stat.columns)
        if stat.route is not None:
            self.routes[stat.route] += 1
        elif not stat.input_error:
            self.unrouted += 1
        if stat.reward is not None:
            self.rewards += 1
            self.reward_total += stat.reward
        if stat.outage:
            self.outages += 1
            self.first_outage = self.first_outage or stat.outage
        if stat.isolation:
            self.isolations[stat.isolation] += 1
        for name, value in stat.applied.items():
            c = self.components.setdefault(name, ComponentStats())
            c.applied += 1
            if isinstance(value, (int, float)):
                c.valued += 1
                c.total += value
                c.passed += value >= 1.0 - 1e-9

    def component_rows(self, names: Iterable[str]) -> list[tuple[str, ComponentStats]]:
        """Every configured component (in config order), with zeros where it applied to no row."""
        return [(name, self.components.get(name, ComponentStats())) for name in names]

    def warnings(self, components: Iterable[str], routes: Iterable[str]) -> list[str]:
        """Components that applied to no row and routes that no row took, when some rows took the default
        route or none: a reward silently missing (the usual cause is a gold answer under another name)."""
        if self.rows == 0:
            return ["the input holds no rows"]
        routes = list(routes)
        unused = self._unused(components, routes)
        if not unused or not self._misrouted(routes):
            return []
        out = list(unused)
        if self.routes.get("default"):
            out.append(f"{self.routes['default']} rows took the default route (a task with no route of its "
                       "own, or no task and no reference: a row without a task is routed by its reference, a "
                       "gold answer to math, a test suite to code); if the gold answer is under another name, "
                       "map it with --field reference=COLUMN, or set --task")
        return out

    def notes(self, components: Iterable[str], routes: Iterable[str]) -> list[str]:
        """Components and routes this input had no rows for, when every row took a route of its own (a math
        file under a math-and-code config): worth knowing, not a warning."""
        routes = list(routes)
        if self.rows == 0 or self._misrouted(routes):
            return []
        return self._unused(components, routes)

    def _unused(self, components: Iterable[str], routes: list[str]) -> list[str]:
        if self.rows == self.input_errors:
            return []
        out = [f"component {name!r} applied to no row" for name, c in self.component_rows(components) if c.applied == 0]
        return out + [f"route {r!r} matched no row" for r in routes if r != "default" and self.routes[r] == 0]

    def _misrouted(self, routes: list[str]) -> bool:
        """Some rows took the default route, or (under a config with routes) no route at all."""
        return bool(self.routes.get("default")) or bool(routes and self.unrouted)
