"""Test suites: the JSON schema, the job that enters a sandbox, and grading in the parent.

A suite is plain JSON (unknown keys are ignored):

    {"type": "stdio", "cases": [{"input": "1 2\\n", "output": "3\\n"}],
     "time_limit_s": 2, "memory_mb": 256, "float_tol": 1e-6}
    {"type": "call", "fn_name": "add", "cases": [{"args": [1, 2], "expected": 3}]}   # also_accept: [other values]
    {"type": "assert", "test": "assert add(1, 2) == 3", "entry_point": "add"}

Optional for every type: time_limit_s (per case, default 2), total_time_s (budget for all
cases, default time_limit_s * cases), memory_mb (default 256), float_tol (stdio and call
only), stop_on_failure (skip the cases after the first one that crashes or times out).

The flow is validate(tests) -> build_job(code, suite, language) -> [sandbox runs runner.py on
the job] -> grade(suite, raw_result). Expected outputs stay in the parent: build_job copies only
inputs (stdio), arguments (call) or the test code (assert) into the job.
"""

from __future__ import annotations

import ast
import json
import keyword
import math
from dataclasses import dataclass, field
from typing import Any

SUITE_TYPES = ("stdio", "call", "assert")
LANGUAGES = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "cpp": "cpp",
    "c++": "cpp",
    "cxx": "cpp",
}
# Upper bounds for a suite's limits: beyond them the OS calls fail (poll takes a timeout in
# int milliseconds, setrlimit a byte count), and no real test needs a week or a terabyte.
MAX_TIME_S = 7 * 24 * 3600.0
MAX_MEMORY_MB = 1 << 20
RUN_STATUSES = ("passed", "failed", "compile_error", "timeout", "memory", "error")
CASE_STATUSES = ("passed", "wrong_answer", "runtime_error", "timeout", "memory", "output_limit", "skipped")

# Limits a job carries besides the suite's own; backends may override them through build_job.
DEFAULT_LIMITS: dict[str, Any] = {
    "compile_time_limit_s": 20.0,
    # RLIMIT_NPROC (processes and threads). None: 32 when the runner is in a private user
    # namespace (the count is per namespace), else unset: a uid shared with other sandboxes
    # (docker without userns-remap) would make one run's fork bomb fail another's forks;
    # there the container's pids limit bounds it.
    "max_processes": None,
    "file_size_mb": 16,  # RLIMIT_FSIZE: largest file the program may write
    "open_files": 64,  # RLIMIT_NOFILE
    "output_limit_bytes": 8 << 20,  # per case stdout; beyond it the case is killed (output_limit)
    "stderr_limit_bytes": 64 << 10,  # per case stderr kept; the rest is discarded
    # stdout, stderr and call results kept over all cases: past it stdout is cut off
    # (output_limit). Bounds what the caller reads and decodes (JSON escapes a byte as 6 at most).
    "total_output_bytes": 64 << 20,
}


@dataclass(frozen=True)
class Suite:
    """A validated test suite. cases hold only what grading needs; build_job strips expectations."""

    type: str
    cases: tuple[dict[str, Any], ...]
    fn_name: str | None = None
    test: str | None = None
    entry_point: str | None = None
    time_limit_s: float = 2.0
    total_time_s: float = 2.0
    memory_mb: int = 256
    float_tol: float | None = None
    stop_on_failure: bool = False
    setup: str | None = None  # assert suites: code the test's process runs before the test

    @property
    def total_budget_s(self) -> float:  # the name the docker backend reads
        return self.total_time_s


@dataclass
class CaseResult:
    """One test case. status is one of CASE_STATUSES; reason says why it did not pass."""

    status: str
    time_s: float = 0.0
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    exit_code: int | None = None
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class RunResult:
    """All cases of one program. status is one of RUN_STATUSES; "error" means the sandbox failed."""

    status: str
    passed: int = 0
    total: int = 0
    cases: list[CaseResult] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0


def error_result(reason: str, total: int = 0, **info: Any) -> RunResult:
    """An infrastructure failure: the program's quality is unknown."""
    return RunResult("error", 0, total, [], {"error": reason, **info})


# ---------------------------------------------------------------- validation


def validate(tests: dict[str, Any] | str | Suite) -> Suite:
    """Check a suite (dict or JSON string) and return it normalised.

    Raises ValueError naming the bad key for a malformed suite.
    """
    if isinstance(tests, Suite):
        return tests
    if isinstance(tests, (str, bytes)):
        try:
            tests = json.loads(tests)
        except (ValueError, RecursionError) as exc:  # also bad UTF-8 and nesting too deep
            raise ValueError(f"test suite is not valid JSON: {exc}") from None
    if not isinstance(tests, dict):
        raise ValueError(f"test suite must be a dict, got {type(tests).__name__}")
    kind = tests.get("type")
    if kind not in SUITE_TYPES:
        raise ValueError(f"test suite key 'type' must be one of {SUITE_TYPES}, got {kind!r}")

    time_limit = _positive(tests, "time_limit_s", 2.0, MAX_TIME_S)
    memory_mb = int(_positive(tests, "memory_mb", 256, MAX_MEMORY_MB))
    float_tol = tests.get("float_tol")
    if float_tol is not None and (not _is_number(float_tol) or float_tol < 0):
        raise ValueError(f"test suite key 'float_tol' must be a number >= 0, got {float_tol!r}")

    fn_name = test = entry_point = setup = None
    if kind == "assert":
        test = tests.get("test")
        if not isinstance(test, str) or not test.strip():
            raise ValueError("assert suite key 'test' must be a non-empty string of Python code")
        _check_python(test, "test")
        setup = tests.get("setup")
        if setup is not None:
            if not isinstance(setup, str):
                raise ValueError("assert suite key 'setup' must be a string of Python code")
            _check_python(setup, "setup")
        entry_point = tests.get("entry_point")
        if entry_point is not None and not _is_name(entry_point):
            raise ValueError(f"assert suite key 'entry_point' must be an identifier, got {entry_point!r}")
        cases: tuple[dict[str, Any], ...] = ({},)
    else:
        raw_cases = tests.get("cases")
        if not isinstance(raw_cases, list) or not raw_cases:
            raise ValueError(f"{kind} suite key 'cases' must be a non-empty list")
        if kind == "call":
            fn_name = tests.get("fn_name")
            if not _is_name(fn_name):
                raise ValueError(f"call suite key 'fn_name' must be an identifier, got {fn_name!r}")
        cases = tuple(_case(kind, i, c) for i, c in enumerate(raw_cases))

    total = _positive(tests, "total_time_s", min(time_limit * len(cases), MAX_TIME_S), MAX_TIME_S)
    stop = tests.get("stop_on_failure", False)
    if not isinstance(stop, bool):
        raise ValueError(f"test suite key 'stop_on_failure' must be true or false, got {stop!r}")
    return Suite(kind, cases, fn_name, test, entry_point, time_limit, total, memory_mb, float_tol, stop, setup)


def _check_python(source: str, key: str) -> None:
    try:
        source.encode("utf-8")  # a lone surrogate: the runner could not compile it for anyone
        ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"assert suite key {key!r} is not valid Python: {exc}") from None


def _case(kind: str, i: int, case: Any) -> dict[str, Any]:
    if not isinstance(case, dict):
        raise ValueError(f"cases[{i}] must be a dict, got {type(case).__name__}")
    if kind == "stdio":
        inp, out = case.get("input", ""), case.get("output")
        if not isinstance(inp, str) or not _is_utf8(inp):
            raise ValueError(f"cases[{i}].input must be a string of valid Unicode")
        if not isinstance(out, str):
            raise ValueError(f"cases[{i}].output must be a string")
        return {"input": inp, "output": out}
    args, kwargs = case.get("args", []), case.get("kwargs", {})
    if not isinstance(args, list):
        raise ValueError(f"cases[{i}].args must be a list")
    if not isinstance(kwargs, dict):
        raise ValueError(f"cases[{i}].kwargs must be a dict")
    if "expected" not in case:
        raise ValueError(f"cases[{i}].expected is missing")
    also = case.get("also_accept", [])
    if not isinstance(also, list):
        raise ValueError(f"cases[{i}].also_accept must be a list of accepted values")
    try:
        json.dumps([args, kwargs, case["expected"], also])
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"cases[{i}] is not JSON-serialisable: {exc}") from None
    return {"args": args, "kwargs": kwargs, "expected": case["expected"], "also_accept": also}


def _positive(tests: dict[str, Any], key: str, default: float, maximum: float) -> float:
    value = tests.get(key, default)
    if not _is_number(value) or not 0 < value <= maximum:
        raise ValueError(f"test suite key {key!r} must be a number > 0 and <= {maximum:g}, got {value!r}")
    return float(value)


def _is_name(x: Any) -> bool:
    """A name a program can define: an identifier that is not a keyword ("class", "None")."""
    return isinstance(x, str) and x.isidentifier() and not keyword.iskeyword(x)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")  # JSON's "\ud800" escapes decode to lone surrogates
    except UnicodeEncodeError:
        return False
    return True


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def normalise_language(language: str) -> str:
    lang = LANGUAGES.get(str(language).lower())
    if lang is None:
        raise ValueError(f"unsupported language {language!r}; supported: {sorted(set(LANGUAGES.values()))}")
    return lang


# ---------------------------------------------------------------- the job


def build_job(
    code: str,
    suite: Suite,
    language: str = "python",
    *,
    stop_on_error: bool = False,
    run_as: tuple[int, int] | None = None,
    drop_caps: bool = False,
    private_mounts: dict[str, Any] | None = None,
    **limits: Any,
) -> dict[str, Any]:
    """The JSON-serialisable job runner.py executes. It holds no expected output.

    stop_on_error: skip the remaining cases after the first that crashes or times out
    (wrong answers are only known in the parent); the suite's stop_on_failure also turns it on. run_as: (uid, gid) the runner switches the
    program to when it runs as root. drop_caps: clear all capabilities of the program (for a
    runner that is root inside a user namespace). private_mounts: {"tmpfs": [dirs], "size_mb": n}
    for a runner that owns its mount namespace: / becomes read-only, the dirs fresh tmpfs, the
    first the work dir. limits: overrides of DEFAULT_LIMITS.
    """
    lang = normalise_language(language)
    if lang == "cpp" and suite.type != "stdio":
        raise ValueError(f"language 'cpp' supports only stdio suites, got {suite.type!r}")
    unknown = set(limits) - set(DEFAULT_LIMITS)
    if unknown:
        raise ValueError(f"unknown job limits {sorted(unknown)}; known: {sorted(DEFAULT_LIMITS)}")
    if suite.type == "stdio":
        cases = [{"input": c["input"]} for c in suite.cases]
    elif suite.type == "call":
        cases = [{"args": c["args"], "kwargs": c["kwargs"]} for c in suite.cases]
    else:
        cases = [{}]
    return {
        "version": 1,
        "language": lang,
        "type": suite.type,
        "code": code,
        "cases": cases,
        "fn_name": suite.fn_name,
        "test": suite.test,
        "entry_point": suite.entry_point,
        "setup": suite.setup,
        "time_limit_s": suite.time_limit_s,
        "total_time_s": suite.total_time_s,
        "memory_mb": suite.memory_mb,
        "stop_on_error": bool(stop_on_error) or suite.stop_on_failure,
        "run_as": list(run_as) if run_as else None,
        "drop_caps": bool(drop_caps),
        "private_mounts": private_mounts,
        **DEFAULT_LIMITS,
        **limits,
    }


def job_frames(job: dict[str, Any]) -> bytes:
    """The job as runner.py reads it from a pipe: the job without an assert suite's test and
    setup, then those (each a 4-byte big-endian length and JSON). The runner forks the
    solution's process between the two reads, so that process never holds the test."""
    public = {k: v for k, v in job.items() if k not in ("test", "setup")}
    secret = {"test": job.get("test"), "setup": job.get("setup")}
    out = b""
    for part in (public, secret):
        data = json.dumps(part).encode()
        out += len(data).to_bytes(4, "big") + data
    return out


def job_wall_limit(job: dict[str, Any], slack_s: float = 5.0) -> float:
    """The outer wall-clock guard a backend puts around one runner call."""
    compile_s = job["compile_time_limit_s"] if job["language"] == "cpp" else 0.0
    return job["total_time_s"] + compile_s + slack_s


# ---------------------------------------------------------------- grading


def grade(suite: Suite, raw: Any) -> RunResult:
    """Compare the runner's raw result with the suite's expectations.

    raw is the JSON object runner.py printed. Anything malformed is an infrastructure error
    (status "error"), never a failed program.
    """
    total = len(suite.cases)
    if not isinstance(raw, dict) or not isinstance(raw.get("cases"), list):
        return error_result("runner returned no result object", total)
    if raw.get("error"):
        return error_result(f"runner: {raw['error']}", total)
    info = {k: raw[k] for k in ("budget_exhausted", "escaped_processes") if k in raw}
    compiled = raw.get("compile") or {}
    if compiled and not compiled.get("ok", True):
        info["compile_stderr"] = compiled.get("stderr", "")
        return RunResult("compile_error", 0, total, [], info)
    if len(raw["cases"]) != total:
        return error_result(f"runner returned {len(raw['cases'])} cases for {total}", total)

    cases = [_grade_case(suite, exp, got) for exp, got in zip(suite.cases, raw["cases"], strict=True)]
    unsupported = next((g["unsupported"] for g in raw["cases"] if isinstance(g, dict) and g.get("unsupported")), None)
    if unsupported:  # a limit of the suite, not of the program: nobody could pass it here
        info["unsupported"] = str(unsupported)[:500]
    passed = sum(c.passed for c in cases)
    status = "passed" if passed == total else _run_status(cases)
    return RunResult(status, passed, total, cases, info)


def _run_status(cases: list[CaseResult]) -> str:
    first = next(c for c in cases if not c.passed)
    if first.status in ("timeout", "memory"):
        return first.status
    if first.status == "skipped" and "budget" in first.reason:
        return "timeout"
    return "failed"


def _grade_case(suite: Suite, expected: dict[str, Any], got: dict[str, Any]) -> CaseResult:
    if not isinstance(got, dict):
        return CaseResult("runtime_error", reason="malformed case result")
    case = CaseResult(
        status=str(got.get("status", "runtime_error")),
        time_s=float(got.get("time_s") or 0.0),
        stdout=str(got.get("stdout") or ""),
        stderr=str(got.get("stderr") or ""),
        truncated=bool(got.get("truncated")),
        exit_code=got.get("exit_code"),
        reason=str(got.get("reason") or ""),
    )
    if case.status != "ok":
        if case.status not in CASE_STATUSES:
            case.status = "runtime_error"
        return case
    if suite.type == "stdio":
        ok, why = outputs_match(expected["output"], case.stdout, suite.float_tol)
    elif suite.type == "call":
        ok, why = _call_result_matches([expected["expected"], *expected["also_accept"]], got, suite.float_tol)
    else:
        ok, why = bool(got.get("done")), "the test did not reach its end (sentinel missing)"
        if got.get("unsupported"):
            why = f"unsupported suite: {got['unsupported']}"
    case.status, case.reason = ("passed", "") if ok else ("wrong_answer", why)
    return case


def _call_result_matches(accepted: list[Any], got: dict[str, Any], float_tol: float | None) -> tuple[bool, str]:
    if not got.get("done"):
        return False, "the function did not return (exited early)"
    if got.get("result_error"):
        return False, str(got["result_error"])
    try:
        value = json.loads(got.get("result") or "")
    except (TypeError, ValueError):
        return False, "the return value could not be decoded"
    if any(values_equal(expected, value, float_tol) for expected in accepted):
        return True, ""
    return False, f"returned {_short(got.get('result'))}"


def values_equal(expected: Any, actual: Any, float_tol: float | None = None) -> bool:
    """Strict JSON-value equality: bool is not a number (True != 1), lists keep order,
    dicts compare key by key; int and float compare by value, floats within float_tol when set."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        if float_tol is not None and (isinstance(expected, float) or isinstance(actual, float)):
            return _close(float(expected), float(actual), float_tol)
        return expected == actual
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(
            values_equal(e, a, float_tol) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, dict):
        return expected.keys() == actual.keys() and all(
            values_equal(expected[k], actual[k], float_tol) for k in expected
        )
    return expected == actual


def outputs_match(expected: str, actual: str, float_tol: float | None = None) -> tuple[bool, str]:
    """Compare program output with the expected output, line by line and token by token.

    Trailing whitespace of each line and trailing blank lines are ignored; line counts must be
    equal; tokens compare exactly and case-sensitively. With float_tol, an expected token with a
    '.' or an exponent matches a number within float_tol (absolute, or relative for large values);
    integer tokens stay exact. Returns (match, reason).
    """
    exp_lines, act_lines = _lines(expected), _lines(actual)
    if len(exp_lines) != len(act_lines):
        return False, f"expected {len(exp_lines)} lines, got {len(act_lines)}"
    for n, (e_line, a_line) in enumerate(zip(exp_lines, act_lines, strict=True), 1):
        e_tokens, a_tokens = e_line.split(), a_line.split()
        if len(e_tokens) != len(a_tokens):
            return False, f"line {n}: expected {len(e_tokens)} tokens, got {len(a_tokens)}"
        for e, a in zip(e_tokens, a_tokens, strict=True):
            if e != a and not (float_tol is not None and _floats_close(e, a, float_tol)):
                return False, f"line {n}: expected {_short(e)}, got {_short(a)}"
    return True, ""


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _floats_close(expected: str, actual: str, tol: float) -> bool:
    if not any(ch in expected for ch in ".eE"):
        return False  # integers stay exact
    try:
        e, a = float(expected), float(actual)
    except ValueError:
        return False
    return math.isfinite(e) and math.isfinite(a) and _close(e, a, tol)


def _close(e: float, a: float, tol: float) -> bool:
    return abs(e - a) <= tol * max(1.0, abs(e))


def _short(text: Any, limit: int = 60) -> str:
    text = repr(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
