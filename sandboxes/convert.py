"""Test suites from the code datasets people train on: converters to our suite schema.

    from sandboxes.convert import to_suite, detect
    to_suite(row_or_field)      # -> {"type": "stdio"|"call"|"assert", ...}; ValueError if unknown

A reference is detected by its keys (a whole dataset row, or the column holding the tests):

| format | keys | suite |
|---|---|---|
| ours | `type` | itself |
| verl | `reward_model.ground_truth` or `ground_truth` | converted from what it holds (APPS-style JSON for code) |
| open-r1 | `verification_info` or `test_cases` | stdio (`stdin_stdout` cases), call with `fn_name` |
| APPS / TACO / PRIME | `input_output` (a JSON string) or `inputs` + `outputs` | stdio, or call with `fn_name` |
| HumanEval | `test` + `entry_point` (+ `prompt`) | assert; the prompt (its helper functions) runs as the test's setup |
| MBPP | `test_list` (+ `test_setup_code`) | assert |
| LiveCodeBench | `public_test_cases` / `private_test_cases` (+ `metadata.func_name`) | stdio, or call on `class Solution` |
| CodeContests | `public_tests` / `private_tests` (`{"input": [...], "output": [...]}`) | stdio |

JSON strings are parsed where a dataset stores JSON in a string column. LiveCodeBench's private
tests (base64 of zlib of a pickled JSON string) are decoded by an unpickler that accepts only
plain strings and refuses every class, with a cap on the decompressed size.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from typing import Any

SUITE_TYPES = ("stdio", "call", "assert")
MAX_DECODED_BYTES = 256 << 20  # LiveCodeBench private tests, decompressed


def detect(reference: Any) -> str | None:
    """The name of the reference's format, or None when no converter knows it."""
    ref = _parsed(reference)
    if not isinstance(ref, dict):
        return None
    if ref.get("type") in SUITE_TYPES:
        return "suite"
    for name, keys in _FORMATS:
        if any(_has(ref, k) for k in keys):
            return name
    return None


def to_suite(reference: Any) -> dict[str, Any]:
    """Our suite dict for a dataset reference (a row, a column's value, or their JSON text).

    Raises ValueError naming the format and what is wrong, or that no format matched."""
    ref = _parsed(reference)
    kind = detect(ref)
    if kind is None:
        keys = sorted(ref)[:12] if isinstance(ref, dict) else type(ref).__name__
        raise ValueError(
            f"not a test suite and no known code dataset format (keys: {keys}); expected our schema "
            "('type'), or open-r1 verification_info, APPS/TACO input_output, HumanEval test+entry_point, "
            "MBPP test_list, LiveCodeBench public/private_test_cases, CodeContests public/private_tests, "
            "or verl reward_model.ground_truth"
        )
    if kind == "suite":
        return ref
    try:
        suite = _CONVERTERS[kind](ref)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"{kind} reference is malformed: {type(exc).__name__}: {exc}") from None
    language = ref.get("language") if isinstance(ref.get("language"), str) else None
    if language and "language" not in suite:
        suite["language"] = language
    return suite


# ---------------------------------------------------------------- formats


def _verl(ref: dict) -> dict:
    inner = ref["reward_model"]["ground_truth"] if _has(ref, "reward_model") else ref["ground_truth"]
    return to_suite(inner)


def _open_r1(ref: dict) -> dict:
    info = _parsed(ref["verification_info"]) if "verification_info" in ref else ref
    cases = _parsed(info["test_cases"])
    if isinstance(cases, dict):  # some exports hold APPS-style {"inputs", "outputs", "fn_name"}
        return _apps({**cases, "fn_name": cases.get("fn_name", info.get("fn_name"))})
    if not isinstance(cases, list) or not cases:
        raise ValueError("open-r1 test_cases must be a non-empty list")
    fn_names = {c.get("fn_name") for c in cases if isinstance(c, dict)} - {None}
    if fn_names:
        if len(fn_names) != 1:
            raise ValueError(f"open-r1 test_cases name several functions: {sorted(fn_names)}")
        return _apps({"inputs": [c["input"] for c in cases], "outputs": [c["output"] for c in cases],
                      "fn_name": fn_names.pop()})  # fmt: skip
    suite = {"type": "stdio", "cases": [{"input": _text(c["input"]), "output": _text(c["output"])} for c in cases]}
    if isinstance(info.get("language"), str):
        suite["language"] = info["language"]
    return suite


def _apps(ref: dict) -> dict:
    data = _parsed(ref["input_output"]) if "input_output" in ref else ref
    inputs, outputs = data["inputs"], data["outputs"]
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs) or not inputs:
        raise ValueError("APPS-style inputs and outputs must be non-empty lists of the same length")
    fn_name = data.get("fn_name") or ref.get("fn_name")
    if not fn_name:
        return {"type": "stdio", "cases": [{"input": _text(i), "output": _text(o)} for i, o in zip(inputs, outputs, strict=True)]}
    cases = []
    for args, out in zip(inputs, outputs, strict=True):
        case: dict[str, Any] = {"args": args if isinstance(args, list) else [args], "expected": out}
        # APPS/TACO wrap most return values in a one-element list and their checker accepts
        # either the list or its element: so do we.
        if isinstance(out, list) and len(out) == 1:
            case = {**case, "expected": out[0], "also_accept": [out]}
        cases.append(case)
    return {"type": "call", "fn_name": fn_name, "cases": cases}


def _humaneval(ref: dict) -> dict:
    suite = {"type": "assert", "test": ref["test"], "entry_point": ref["entry_point"]}
    prompt = ref.get("prompt")
    if isinstance(prompt, str) and _compiles(prompt):
        suite["setup"] = prompt  # the helpers it defines are the test's, not the solution's
    return suite


def _mbpp(ref: dict) -> dict:
    tests = _parsed(ref["test_list"])
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
        raise ValueError("MBPP test_list must be a non-empty list of assert statements")
    suite = {"type": "assert", "test": "\n".join(tests) + "\n"}
    setup = ref.get("test_setup_code")
    if isinstance(setup, str) and setup.strip():
        suite["setup"] = setup
    return suite


def _livecodebench(ref: dict) -> dict:
    cases = []
    for key in ("public_test_cases", "private_test_cases"):
        if ref.get(key):
            cases += _lcb_cases(ref[key])
    if not cases:
        raise ValueError("LiveCodeBench row has no test cases")
    meta = _parsed(ref.get("metadata") or {})
    kinds = {c.get("testtype", "stdin") for c in cases}
    if kinds == {"stdin"}:
        return {"type": "stdio", "cases": [{"input": c["input"], "output": c["output"]} for c in cases]}
    if kinds != {"functional"}:
        raise ValueError(f"LiveCodeBench row mixes test types {sorted(kinds)}")
    fn_name = meta.get("func_name") if isinstance(meta, dict) else None
    if not fn_name:
        raise ValueError("LiveCodeBench functional tests need metadata.func_name")
    calls = []
    for c in cases:
        args = [json.loads(line) for line in c["input"].split("\n") if line.strip()]
        calls.append({"args": args, "expected": json.loads(c["output"])})
    return {"type": "call", "fn_name": fn_name, "cases": calls}


def _lcb_cases(value: Any) -> list[dict]:
    if isinstance(value, list):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = json.loads(_unpickle_str(zlib_decompress(base64.b64decode(value))))
    if not isinstance(parsed, list):
        raise ValueError("LiveCodeBench test cases must be a list")
    return parsed


def _codecontests(ref: dict) -> dict:
    cases = []
    for key in ("public_tests", "private_tests"):
        tests = _parsed(ref.get(key) or {})
        for i, o in zip(tests.get("input", []), tests.get("output", []), strict=True):
            cases.append({"input": i, "output": o})
    if not cases:
        raise ValueError("CodeContests row has no public or private tests")
    suite: dict[str, Any] = {"type": "stdio", "cases": cases}
    limit = ref.get("time_limit")
    if isinstance(limit, dict) and (limit.get("seconds") or limit.get("nanos")):
        suite["time_limit_s"] = float(limit.get("seconds") or 0) + float(limit.get("nanos") or 0) / 1e9
    return suite


_FORMATS = (
    ("verl", ("reward_model.ground_truth", "ground_truth")),
    ("open-r1", ("verification_info", "test_cases")),
    ("apps", ("input_output",)),
    ("humaneval", ("entry_point",)),
    ("mbpp", ("test_list",)),
    ("livecodebench", ("public_test_cases", "private_test_cases")),
    ("codecontests", ("public_tests", "private_tests")),
    ("apps", ("inputs",)),
)
_CONVERTERS = {
    "verl": _verl,
    "open-r1": _open_r1,
    "apps": _apps,
    "humaneval": _humaneval,
    "mbpp": _mbpp,
    "livecodebench": _livecodebench,
    "codecontests": _codecontests,
}


# ---------------------------------------------------------------- helpers


def _has(ref: dict, dotted: str) -> bool:
    value: Any = ref
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return value is not None


def _parsed(value: Any) -> Any:
    """A JSON string column parsed; anything else as it is."""
    if isinstance(value, (str, bytes)):
        text = value.strip()
        if text[:1] in ("{", "[") if isinstance(text, str) else text[:1] in (b"{", b"["):
            try:
                return json.loads(text)
            except (ValueError, RecursionError):
                return value
    return value


def _text(value: Any) -> str:
    if isinstance(value, list):  # some exports store lines
        return "\n".join(str(v) for v in value) + "\n"
    if not isinstance(value, str):
        raise TypeError(f"test input/output must be text, got {type(value).__name__}")
    return value


def _compiles(source: str) -> bool:
    try:
        compile(source, "prompt", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def zlib_decompress(data: bytes, limit: int = MAX_DECODED_BYTES) -> bytes:
    """zlib.decompress with a cap on the output (a bomb is refused, not expanded)."""
    d = zlib.decompressobj()
    out = d.decompress(data, limit)
    if d.unconsumed_tail or not d.eof:
        raise ValueError(f"compressed test data is incomplete or decompresses past {limit} bytes")
    return out


class _StringsOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise ValueError(f"refusing to unpickle {module}.{name}: only plain strings are accepted")


def _unpickle_str(data: bytes) -> str:
    value = _StringsOnly(io.BytesIO(data)).load()
    if not isinstance(value, str):
        raise ValueError(f"expected a pickled string, got {type(value).__name__}")
    return value
