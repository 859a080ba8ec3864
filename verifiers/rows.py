"""JSON rows <-> Sample / Score: what `verifiers score` (and any other edge that reads rows) does with one row.

    parse_row(raw, max_bytes=...) -> Any          one JSONL line's bytes, ValueError naming the problem
    encoding_problem(row, raw) -> str | None      text in it that UTF-8 cannot hold (a lone surrogate)
    row_to_sample(row, fields, task=None) -> Sample   completion_ids (token ids) go to Sample.meta
    missing_sources(row, fields) -> tuple | None  the --field mappings whose column the row lacks
    scored_row(row, score, line, prefix="") -> dict   the input row plus the output columns
    error_row(row, line, error, raw=None, prefix="") -> dict
    dump_row(row) -> bytes                        one output line, always valid UTF-8 JSON (never NaN/Infinity)
    finite_json(value) -> Any                     the value with each NaN or infinity (nested too) as None

Output columns (with an optional prefix, e.g. "score_"): `line` (the 1-based input line), `reward`
(None when it could not be scored), `status`, `components` (each component's value), `info`; error rows
have `error` instead of `components`/`info`, and `raw` when the line could not be read as a JSON object.
Input columns are never overwritten: `output_clash` names an input column that an output column would
replace, and the caller refuses the row (the CLI stops with a usage error suggesting a prefix).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from verifiers.core import Sample, Score, split_completion

SAMPLE_FIELDS = ("completion", "prompt", "reference", "task", "id", "completion_ids")
OUTPUT_COLUMNS = ("line", "reward", "status", "components", "info", "error", "raw")
MAX_LINE_BYTES = 16 << 20  # a longer line is an error row, never read into memory whole
RAW_KEEP_CHARS = 10_000  # how much of an unreadable line an error row keeps

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()


def parse_field_map(pairs: list[str]) -> dict[str, str]:
    """`reference=answer` pairs -> {"reference": "answer"}; sources may be dotted paths. ValueError if malformed."""
    mapping = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or not theirs or ours not in SAMPLE_FIELDS:
            raise ValueError(f"{pair!r}: expected FIELD=SOURCE with FIELD one of {', '.join(SAMPLE_FIELDS)}")
        mapping[ours] = theirs
    return mapping


def lookup(row: Any, path: str) -> Any:
    """The value at a dotted path of a row, or MISSING. "*" is the whole row (code datasets keep their
    tests in several columns)."""
    if path == "*":
        return row
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def missing_sources(row: Any, fields: Mapping[str, str]) -> tuple[str, ...] | None:
    """The FIELDs of a `--field FIELD=SOURCE` map whose SOURCE is absent from `row` (in map order), or None
    when the row is not a JSON object (nothing to look in). "*" (the whole row) is never missing."""
    if not isinstance(row, dict):
        return None
    return tuple(name for name, path in fields.items() if lookup(row, path) is MISSING)


# A \uD800-\uDFFF escape: only then can a parsed row hold a lone surrogate (checked exactly afterwards).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_row(raw: bytes, max_bytes: int = MAX_LINE_BYTES) -> Any:
    """Parse one JSONL line. ValueError names the problem: empty, too long, not UTF-8, malformed JSON,
    or nested too deeply. (A parsed row can still hold text UTF-8 cannot: see `encoding_problem`.)"""
    if len(raw) > max_bytes:
        raise ValueError(f"line longer than {max_bytes:,} bytes (the cap, --max-line-bytes)")
    if not raw.strip():
        raise ValueError("empty line")
    if raw.strip() in (b"[", b"{"):  # the first line of an indented JSON document
        raise ValueError(f"a line holding only {raw.strip().decode()!r}: the input must be JSON Lines (one object per "
                         "line), not an indented JSON document")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 at byte {exc.start}") from None
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    return row


def encoding_problem(row: Any, raw: bytes) -> str | None:
    """Why a row parsed from `raw` holds text that cannot be encoded as UTF-8 (a lone surrogate escape
    such as "\\ud800"), or None. Cheap: the row is only checked when the line has such an escape."""
    if not _SURROGATE_ESCAPE.search(raw):
        return None
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "holds text that cannot be encoded as UTF-8 (a lone surrogate escape)"
    except (ValueError, RecursionError):
        return None
    return None


def row_to_sample(row: Any, fields: Mapping[str, str] | None = None, task: str | None = None) -> Sample:
    """Turn one parsed row into a Sample; ValueError names what is wrong. `task` overrides the row's."""
    fields = fields or {}
    if not isinstance(row, dict):
        hint = " (a JSON array: the input must be JSON Lines, one object per line)" if isinstance(row, list) else ""
        raise ValueError(f"row must be a JSON object, got {type(row).__name__}{hint}")
    got = {name: lookup(row, fields.get(name, name)) for name in SAMPLE_FIELDS}
    completion = got["completion"]
    if completion is MISSING:
        keys = ", ".join(map(str, list(row)[:10])) + (", ..." if len(row) > 10 else "")
        raise ValueError(f"missing field {fields.get('completion', 'completion')!r} (the row has: {keys or 'nothing'})")
    try:
        split_completion(completion)
    except TypeError as exc:
        raise ValueError(f"field {fields.get('completion', 'completion')!r}: {exc}") from None
    prompt = None if got["prompt"] is MISSING else got["prompt"]
    if prompt is not None and not isinstance(prompt, (str, list)):
        raise ValueError(f"field {fields.get('prompt', 'prompt')!r} must be a string or messages, got {type(prompt).__name__}")
    if task is None:
        task = None if got["task"] is MISSING else got["task"]
        if task is not None and not isinstance(task, str):
            raise ValueError(f"field {fields.get('task', 'task')!r} must be a string, got {type(task).__name__}")
    reference = None if got["reference"] is MISSING else got["reference"]
    meta = {}
    ids = got["completion_ids"]
    if ids is not MISSING and ids is not None:  # the completion's token ids, as TRL passes them: lengths in tokens
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ValueError(f"field {fields.get('completion_ids', 'completion_ids')!r} must be a list of integer "
                             f"token ids, got {_kind(ids)}")
        meta["completion_ids"] = ids
    return Sample(completion, prompt=prompt, reference=reference, task=task, meta=meta)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        bad = next(v for v in value if not isinstance(v, int) or isinstance(v, bool))
        return f"a list holding {type(bad).__name__} {bad!r:.40}"
    return type(value).__name__


def output_clash(row: Any, prefix: str = "") -> str | None:
    """The first input column an output column (with `prefix`) would overwrite, or None."""
    if not isinstance(row, dict):
        return None
    for column in OUTPUT_COLUMNS:
        if prefix + column in row:
            return prefix + column
    return None


def scored_row(row: dict, score: Score, line: int, prefix: str = "") -> dict:
    """The input row plus its line and score. The caller has checked `output_clash`."""
    return {
        **row,
        prefix + "line": line,
        prefix + "reward": score.value,
        prefix + "status": str(score.status),
        prefix + "components": dict(score.components),
        prefix + "info": score.info,
    }


def error_row(row: Any, line: int, error: str, raw: bytes | None = None, prefix: str = "") -> dict:
    """An input row that could not be scored: its columns (when it was a JSON object) plus the error.
    The caller has checked `output_clash`. A line that is not a JSON object keeps its text (up to
    RAW_KEEP_CHARS) in `raw`.
    """
    out = dict(row) if isinstance(row, dict) else {}
    out.update({prefix + "line": line, prefix + "reward": None, prefix + "status": "error", prefix + "error": error})
    if not isinstance(row, dict) and raw is not None:
        out[prefix + "raw"] = raw[: RAW_KEEP_CHARS * 4].decode("utf-8", "replace")[:RAW_KEEP_CHARS]
    return out


def finite_json(value: Any) -> Any:
    """The value with every non-finite float in it (in dicts and lists, at any depth) as None: JSON has
    no NaN or Infinity, and a reader that is strict about it fails on the whole file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def dump_row(row: dict) -> bytes:
    """One output line: UTF-8 JSON and a newline. Text that UTF-8 cannot hold (a lone surrogate) is written
    as its JSON escape, so the line stays valid and nothing is lost. A NaN or infinity anywhere in the row
    (an input column, a verifier's info) is written as null: never a NaN token, which is not JSON."""
    try:
        text = json.dumps(row, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:  # a non-finite float somewhere: only then is the row walked
        text = json.dumps(finite_json(row), ensure_ascii=False, default=str, allow_nan=False)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace") + b"\n"
