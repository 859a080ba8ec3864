"""Math answer verification: extract the final answer from a completion and decide if it equals the gold.

    extract_answer(completion) -> str | None     the answer a completion commits to (R1-aware)
    math_equal(gold, pred, *, timeout=5.0) -> bool
    MathVerifier(timeout=5.0, workers=None)      registered as "math"

Modules: extract.py (the answer a completion commits to), normalize.py (canonical text), limits.py (every
limit and the input caps), exact.py (exact numbers, surds, polynomials), compare.py (structure and the cheap
decision), cache.py (the LRU), symbolic.py (the sympy side, imported only in workers), workers.py (the
worker processes), verifier.py (MathVerifier, math_equal).

How a pair is decided, cheapest first:
1. Both strings are normalised (boxes, $, \\text{}, \\left, units, degrees, thousands separators, plain-text
   math such as `sqrt(2)` or `pi/2` rewritten to LaTeX) and split into a structure: sets, lists, tuples,
   intervals, unions, matrices, equations and inequalities, with expressions ("atoms") at the leaves.
2. Atoms are compared in this process when that is exact and cheap: identical text, numbers (integers,
   decimals, fractions, percentages) compared as `fractions.Fraction`, products of rationals, square roots
   and powers of pi in a canonical form, words compared case-insensitively.
3. Anything else goes to a pool of worker processes that parse atoms with latex2sympy2_extended and compare
   with sympy (symbolic.py). `timeout` is each pair's own worker time, counted from when a warm
   worker takes it; past it the worker is killed and replaced (its restart is not charged to anyone).
   Waiting for a free worker is not charged either; no worker within limits.WORKER_WAIT_SECONDS is an
   outage (status error). A gold whose parse alone runs past the limit is invalid_reference.

Gold and prediction are not symmetric. The gold sets the precision: gold "0.33" accepts 1/3 (1/3 rounds to
0.33), but gold "1/3" accepts a decimal only when it has at least 3 significant digits and is 1/3 rounded
or truncated to its own places ("0.333", not "0.33"). Two exact values (integers, fractions, terminating
decimals, surds) must be exactly equal: gold "0.5" equals "1/2", and 1/2^99 never equals 1/2^98. A gold
equation "x = 5" accepts the value "5"; a prediction "x = 5" is judged by its last side, and one without
variables ("2 + 3 = 5") by every side, so "2 + 2 = 5" is not 5. Several answers offered together ("B or C",
"\\boxed{3} and \\boxed{5}", "$3$ or $5$") are a hedge and never equal one gold.
"""

from verifiers.math.extract import extract_answer
from verifiers.math.verifier import MathVerifier, math_equal

__all__ = ["MathVerifier", "extract_answer", "math_equal"]
