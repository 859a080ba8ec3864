"""Code verifier: run the program in a completion against the reference test suite.

The program is the last fenced block of the right language (```python / ```py / ```cpp /
```c++ ...), taken from inside the last <answer>...</answer> when the completion has one,
with an unlabeled fence as fallback. The reference is a test-suite dict (or its JSON
string; schema in sandboxes/suite.py); a "language" key in it overrides the verifier's.

Scores: "fraction" gives passed/total, "binary" gives 1.0 only when every case passes (and
stops running at the first crash or timeout). No program: 0.0 (no_answer); a draft inside
thinking that never closes (pre-filled or not; core.read_completion) is no program. A run that ran
out of time: its value with status timeout. An unusable suite: None (invalid_reference).
A sandbox or infrastructure failure: None (error), never 0, so outages give no gradient.
"""

from __future__ import annotations

import json
import re
import textwrap
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from verifiers.core import (
    Sample,
    Score,
    Status,
    Verifier,
    committed_text,
    end_tokens_option,
    error_score,
    read_completion,
    think_prefilled_option,
)

MODES = ("fraction", "binary")
BACKENDS = ("local", "docker")
FENCE_TAGS = {
    "python": ("python", "py", "python3"),
    "cpp": ("cpp", "c++", "cc", "cxx"),
}

_FENCE = re.compile(r"^[ \t]*```[ \t]*([^\s`]*)[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)


def extract_program(text: str, language: str = "python") -> str | None:
    """The program a completion gives: the last ```<language> block (inside the last
    <answer> when there is one), else the last unlabeled block; None when there is none.
    Code in the thinking never counts: after an unclosed <think> there is no program, as for math."""
    text = committed_text(text)
    if text is None:
        return None
    answers = _ANSWER.findall(text)
    region = answers[-1] if answers else text
    tags = FENCE_TAGS.get(language, (language,))
    labeled, unlabeled = None, None
    for tag, body in _FENCE.findall(region):
        if not body.strip():
            continue  # an empty block (a stray "```python ```" after the code) is not the program
        # A fence indented as a whole (inside a list item) indents its code too; only then
        # dedent (dedent also blanks whitespace-only lines, which may sit inside a string).
        first_line = next(line for line in body.splitlines() if line.strip())
        if first_line[:1] in (" ", "\t"):
            body = textwrap.dedent(body)
        if tag.lower() in tags:
            labeled = body
        elif not tag:
            unlabeled = body
    return labeled if labeled is not None else unlabeled


_SUITE_KEYS = ("type", "cases", "test")  # our schema's keys: a JSON object with one is meant as a suite


def is_test_suite(reference: Any) -> bool:
    """True when a reference is a code test suite rather than a gold answer: a dict, or a string
    holding a JSON object in our schema (a "type", "cases" or "test" key) or in a code dataset's
    format that `sandboxes.convert` reads (APPS/TACO/PRIME `{"inputs", "outputs"}` or
    `input_output`, open-r1 `test_cases`, MBPP `test_list`, CodeContests, LiveCodeBench, verl).
    The one rule for routing a row without a task, and for the math verifier refusing such a gold."""
    if isinstance(reference, dict):
        return True
    if not isinstance(reference, str) or reference.lstrip()[:1] != "{":
        return False
    try:
        parsed = json.loads(reference)
    except (ValueError, RecursionError):  # "{1, 2}": a set, a math answer
        return False
    if not isinstance(parsed, dict):
        return False
    from sandboxes.convert import detect

    return any(key in parsed for key in _SUITE_KEYS) or detect(parsed) is not None


class SandboxUnavailable(ValueError):
    """The configured sandbox cannot run on this machine (a ValueError, so a reward config
    naming it fails to load with the reason, like any other unusable setting)."""


class CodeVerifier(Verifier):
    """Runs the completion's program against the reference test suite in a sandbox."""

    name = "code"

    def __init__(
        self,
        backend: str = "local",
        mode: str = "fraction",
        language: str = "python",
        max_concurrency: int | None = None,
        think_prefilled: str | bool = "auto",
        end_tokens: Sequence[str] | None = None,
        **backend_options: Any,
    ) -> None:
        from sandboxes import get_sandbox
        from sandboxes.suite import normalise_language

        if backend not in BACKENDS:
            raise ValueError(f"code verifier: backend must be one of {BACKENDS}, got {backend!r}")
        if mode not in MODES:
            raise ValueError(f"code verifier: mode must be one of {MODES}, got {mode!r}")
        self.think_prefilled = think_prefilled_option(think_prefilled, "code verifier")
        self.end_tokens = end_tokens_option(end_tokens, "code verifier")
        self._params = dict(backend=backend, mode=mode, language=language, max_concurrency=max_concurrency)
        self._params.update(think_prefilled=self.think_prefilled, end_tokens=list(self.end_tokens))
        self._params.update(backend_options)
        self.backend, self.mode = backend, mode
        self.language = normalise_language(language)
        self._lock = threading.Lock()
        try:
            self._sandbox: Any = get_sandbox(backend, max_concurrency=max_concurrency, **backend_options)
        except RuntimeError as exc:
            # No sandbox on this machine: one clear error now (the CLI exits with it), rather
            # than a run of rows that are all errors.
            raise SandboxUnavailable(f"code verifier: the {backend} sandbox cannot run here: {exc}") from None
        self.max_concurrency = getattr(self._sandbox, "max_concurrency", None) or max_concurrency or 1
        isolation = getattr(self._sandbox, "isolation", None)
        self.isolation = f"{backend}/{isolation}" if isolation else backend

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        prepared = [self._safe_prepare(s) for s in samples]
        runs = [i for i, p in enumerate(prepared) if not isinstance(p, Score)]
        scores: list[Any] = list(prepared)
        if runs:
            workers = min(len(runs), self.max_concurrency)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="code-verifier") as pool:
                for i, score in zip(runs, pool.map(lambda i: self._run(*prepared[i]), runs), strict=True):
                    scores[i] = score
        outage = next((s.info["outage"] for s in scores if s.info.get("outage")), None)
        if outage:
            # During an outage a completion without a program is not scored either: a 0 next
            # to the others' None would be the only gradient the batch gives.
            for i, score in enumerate(scores):
                if score.status is Status.NO_ANSWER:
                    scores[i] = self._outage_score(f"not scored during a sandbox outage ({outage})")
        return scores

    def close(self) -> None:
        with self._lock:
            if self._sandbox is not None:
                self._sandbox.close()

    def __getstate__(self) -> dict[str, Any]:
        # A copy in another process (Ray, spawn) builds its own sandbox from the same parameters.
        return dict(self._params)

    def __setstate__(self, params: dict[str, Any]) -> None:
        self.__init__(**params)

    # ------------------------------------------------------------ internals

    def _safe_prepare(self, sample: Sample) -> Score | tuple[str, Any, str]:
        try:
            return self._prepare(sample)
        except Exception as exc:  # a bug on one odd sample must not lose the batch
            return error_score(f"{type(exc).__name__}: {exc}")

    def _prepare(self, sample: Sample) -> Score | tuple[str, Any, str]:
        """Either the final Score (no program, bad reference) or (program, suite, language)."""
        from sandboxes.convert import to_suite
        from sandboxes.suite import normalise_language, validate

        try:
            reading = read_completion(
                sample.completion, sample.prompt, think_prefilled=self.think_prefilled, end_tokens=self.end_tokens
            )
        except TypeError as exc:
            return error_score(str(exc))
        reference = sample.reference
        try:
            if isinstance(reference, (str, bytes)):
                reference = json.loads(reference)
            if not (isinstance(reference, dict) and "type" in reference):
                reference = to_suite(reference)  # a code dataset's own format
            language = self.language
            if isinstance(reference, dict) and "language" in reference:
                language = normalise_language(reference["language"])
            suite = validate(reference)
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
            return error_score(f"unusable test suite: {exc}", Status.INVALID_REFERENCE)
        program = extract_program(reading.text, language)
        if program is None:
            return Score(0.0, Status.NO_ANSWER, info={"error": f"no {language} code block in the completion"})
        return program, suite, language

    def _outage_score(self, reason: str) -> Score:
        score = error_score(reason)
        score.info.update(outage=reason, isolation=self.isolation)
        return score

    def _run(self, program: str, suite: Any, language: str) -> Score:
        try:
            result = self._sandbox.run(program, suite, language, stop_on_error=self.mode == "binary")
        except ValueError as exc:  # e.g. a C++ program against a call suite
            return error_score(f"unusable test suite: {exc}", Status.INVALID_REFERENCE)
        except Exception as exc:  # the sandbox broke: infrastructure, not the policy's fault
            return self._outage_score(f"sandbox failure: {type(exc).__name__}: {exc}")
        info: dict[str, Any] = {
            "status": result.status,
            "passed": result.passed,
            "total": result.total,
            "language": language,
            "backend": self.backend,
            "isolation": self.isolation,
        }
        if result.info.get("isolation_note"):
            info["isolation_note"] = result.info["isolation_note"]
        if result.status == "error":
            return self._outage_score(str(result.info.get("error", "sandbox error")))
        if result.info.get("unsupported"):  # the suite needs what assert suites cannot carry
            reason = f"unusable test suite: {result.info['unsupported']}"
            return error_score(reason, Status.INVALID_REFERENCE)
        if result.status == "compile_error":
            info["compile_error"] = str(result.info.get("compile_stderr", ""))[-2000:]
        failed = next((c for c in result.cases if c.status != "passed"), None)
        if failed is not None:
            info["first_failure"] = {
                "status": failed.status,
                "reason": failed.reason,
                "stderr": failed.stderr[-500:],
            }
        if self.mode == "binary":
            value = 1.0 if result.status == "passed" else 0.0
        else:
            value = result.passed / result.total if result.total else 0.0
        status = Status.TIMEOUT if result.status == "timeout" else Status.OK
        return Score(value, status, components={"pass_rate": result.fraction}, info=info)
