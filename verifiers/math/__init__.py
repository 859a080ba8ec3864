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

The policy (what counts as equal, where graders differ: rounding, percent, units, labels, several
answers) is stated once, in the README's math section.
"""

from verifiers.math.extract import extract_answer
from verifiers.math.verifier import MathVerifier, math_equal

__all__ = ["MathVerifier", "extract_answer", "math_equal"]
