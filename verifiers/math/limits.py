"""The limits of the math verifier, each defined once, and the caps every input passes before any parser."""

from __future__ import annotations

import math
import re

MAX_ANSWER_CHARS = 1000  # an extracted answer longer than this is rejected, not parsed
MAX_DEPTH = 12  # brace / bracket nesting
MAX_RESULT_DIGITS = 10_000  # a literal power a^b may have at most this many digits
MAX_FACTORIAL = 5000

MAX_NUMBER_DIGITS = 1000  # digits in one literal (Python refuses int() of > 4300 digits anyway)
MAX_RADICAND = 10**8  # square-free part by trial division stays under a millisecond
MAX_POLY_TERMS = 400  # expanding (a+b+c)^20 and the like is sympy's job (under its timeout)
MAX_POLY_POWER = 12  # degree cap: answers are low-degree; bigger expansions go to sympy
WORKER_MEMORY_BYTES = 2 << 30  # address-space limit per worker: a runaway expansion fails, not the host
STARTUP_SECONDS = 60.0  # a new worker imports sympy; that time is not charged to any sample
WORKER_WAIT_SECONDS = 300.0  # the longest a sample waits for a free worker before it is an outage (None)
VERDICT_CACHE_SIZE = 8192  # decided (gold, answer) pairs kept in the calling process
PARSE_CACHE_SIZE = 4096  # parsed atoms kept in each worker


def check_caps(s: str) -> str | None:
    """Why s must not reach a parser (too long, too deep, a huge power or factorial), or None."""
    if len(s) > MAX_ANSWER_CHARS:
        return f"answer longer than {MAX_ANSWER_CHARS} characters"
    depth = worst = 0
    for c in s:
        if c in "{([":
            depth += 1
            worst = max(worst, depth)
        elif c in "})]":
            depth -= 1
            if depth < 0:
                return "unbalanced brackets"
    if s.count("{") != s.count("}"):
        return "unbalanced braces"
    if worst > MAX_DEPTH:
        return f"nesting deeper than {MAX_DEPTH}"
    if re.search(r"\d\.\d+\.\d", s):
        return "a malformed number (two decimal points)"
    if any(len(d) > MAX_NUMBER_DIGITS for d in re.findall(r"\d+", s)):
        return f"a number longer than {MAX_NUMBER_DIGITS} digits"
    problem = _huge_power(s)
    if problem:
        return problem
    for m in re.finditer(r"(?<!\d)(\d+)\s*!|([)}\]])\s*!", s):
        if m.group(1) is not None and int(m.group(1)[:12]) > MAX_FACTORIAL:
            return f"a factorial of more than {MAX_FACTORIAL}"
        if m.group(2) is not None and re.search(r"\^|\d{5}", s[max(0, m.start() - 60) : m.start()]):
            return "a factorial of a large expression"
    return None


# (?<!...) makes a match start only where a number starts: linear on long digit runs, not quadratic.
_POWER_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*\^\s*(?:\{\s*(\d+)\s*\}|(\d))")


def _huge_power(s: str) -> str | None:
    """Evaluate literal powers innermost first, in log space: a result over MAX_RESULT_DIGITS digits,
    or over a million inside another exponent (a tower such as 9^{9^{9}}), is rejected."""
    for _ in range(100):
        m = _POWER_RE.search(s)
        if m is None:
            return None
        base, exp = float(m.group(1)), int((m.group(2) or m.group(3))[:12])
        digits = exp * math.log10(base) if base > 0 else 0.0
        if digits > MAX_RESULT_DIGITS:
            return f"a power with more than {MAX_RESULT_DIGITS} digits"
        if digits > 6 and _inside_exponent(s, m.start()):
            return "a power tower"
        value = str(int(base**exp)) if digits <= 6 and base.is_integer() else "1"
        s = s[: m.start()] + value + s[m.end() :]
    return "too many powers"


def _inside_exponent(s: str, at: int) -> bool:
    depth = 0
    for i in range(at - 1, -1, -1):
        if s[i] == "}":
            depth += 1
        elif s[i] == "{":
            if depth == 0 and s[:i].rstrip().endswith("^"):
                return True
            depth = max(0, depth - 1)
    return False
