"""Right and subtly wrong solutions to problems written for these tests, on both backends."""

from __future__ import annotations

import shutil
import textwrap

import pytest

# ---------------------------------------------------------------- stdio: sum of each line

SUM_LINES = {
    "type": "stdio",
    "cases": [
        {"input": "3\n1 2\n3 4\n-5 5\n", "output": "3\n7\n0\n"},
        {"input": "1\n2000000000 2000000000\n", "output": "4000000000\n"},
        {"input": "2\n0 0\n7 -8\n", "output": "0\n-1\n"},
    ],
}
SUM_RIGHT = """
import sys
data = sys.stdin.read().split()
n = int(data[0])
print("\\n".join(str(int(data[1 + 2 * i]) + int(data[2 + 2 * i])) for i in range(n)))
"""
SUM_FIRST_LINE_ONLY = """
n = int(input())
a, b = map(int, input().split())
print(a + b)
"""
SUM_OVERFLOW_32 = """
n = int(input())
for _ in range(n):
    a, b = map(int, input().split())
    s = (a + b + 2**31) % 2**32 - 2**31
    print(s)
"""


def test_stdio_right_solution_passes(sandbox):
    result = sandbox.run(SUM_RIGHT, SUM_LINES)
    assert (result.status, result.passed, result.total) == ("passed", 3, 3)
    assert [c.status for c in result.cases] == ["passed"] * 3


def test_printing_only_the_first_line_fails(sandbox):
    result = sandbox.run(SUM_FIRST_LINE_ONLY, SUM_LINES)
    assert result.status == "failed"
    assert [c.status for c in result.cases] == ["wrong_answer", "passed", "wrong_answer"]


def test_subtly_wrong_overflow_fails_one_case(sandbox):
    result = sandbox.run(SUM_OVERFLOW_32, SUM_LINES)
    assert (result.status, result.passed) == ("failed", 2)
    assert result.cases[1].status == "wrong_answer"


def test_crash_is_a_runtime_error(sandbox):
    result = sandbox.run("print(1 // 0)", SUM_LINES)
    assert result.status == "failed"
    assert result.cases[0].status == "runtime_error" and "ZeroDivisionError" in result.cases[0].stderr


def test_syntax_error_is_a_compile_error(sandbox):
    result = sandbox.run("def f(:\n    pass", SUM_LINES)
    assert (result.status, result.passed, result.total) == ("compile_error", 0, 3)


# ---------------------------------------------------------------- floats

CIRCLE = {
    "type": "stdio",
    "cases": [{"input": "1\n", "output": "3.141593\n"}, {"input": "2.5\n", "output": "19.634954\n"}],
    "float_tol": 1e-5,
}


def test_float_answer_within_tolerance(sandbox):
    code = "import math\nr = float(input())\nprint(math.pi * r * r)"  # full precision, not 6 digits
    assert sandbox.run(code, CIRCLE).status == "passed"


def test_float_answer_outside_tolerance(sandbox):
    code = "r = float(input())\nprint(3.14 * r * r)"
    assert sandbox.run(code, CIRCLE).passed == 0


def test_integers_stay_exact_under_float_tolerance(sandbox):
    suite = {"type": "stdio", "cases": [{"input": "", "output": "1000000"}], "float_tol": 1e-3}
    assert sandbox.run("print(1000001)", suite).status == "failed"
    assert sandbox.run("print(1000000)", suite).status == "passed"


# ---------------------------------------------------------------- large outputs


def test_large_output(sandbox):
    n = 200_000
    suite = {
        "type": "stdio",
        "cases": [{"input": f"{n}\n", "output": "\n".join(str(i * i) for i in range(n)) + "\n"}],
    }
    right = "n = int(input())\nprint('\\n'.join(str(i * i) for i in range(n)))"
    wrong = "n = int(input())\nprint('\\n'.join(str(i * i) for i in range(n - 1)))"
    assert sandbox.run(right, suite).status == "passed"
    result = sandbox.run(wrong, suite)
    assert result.status == "failed" and "lines" in result.cases[0].reason


@pytest.mark.parametrize(
    "code",
    [
        # Fast output: collect in a StringIO, write it to the real stdout at the end.
        "import io, sys\nsys.stdout = io.StringIO()\nprint(3)\nsys.__stdout__.write(sys.stdout.getvalue())",
        "import io, sys\nout = sys.stdout\nsys.stdout = io.StringIO()\nout.write('3\\n')",
        # Closing stdout after the answer: python exits 0.
        "import sys\nprint(3)\nsys.stdout.close()",
    ],
)
def test_output_reaches_the_judge_as_under_python(sandbox, code):
    suite = {"type": "stdio", "cases": [{"input": "", "output": "3\n"}]}
    result = sandbox.run(code, suite)
    assert result.status == "passed", result.cases[0]


def test_case_sensitive_and_trailing_whitespace(sandbox):
    suite = {"type": "stdio", "cases": [{"input": "", "output": "YES\n"}]}
    assert sandbox.run("print('YES   ')\nprint()\nprint()", suite).status == "passed"
    assert sandbox.run("print('yes')", suite).status == "failed"


# ---------------------------------------------------------------- call suites

TWO_SUM = {
    "type": "call",
    "fn_name": "twoSum",
    "cases": [
        {"args": [[2, 7, 11, 15], 9], "expected": [0, 1]},
        {"args": [[3, 2, 4], 6], "expected": [1, 2]},
        {"args": [[3, 3], 6], "expected": [0, 1]},
    ],
}
TWO_SUM_RIGHT = """
class Solution:
    def twoSum(self, nums, target):
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return [seen[target - x], i]
            seen[x] = i
"""
TWO_SUM_REUSES_ELEMENT = """
def twoSum(nums, target):
    for i, x in enumerate(nums):
        for j, y in enumerate(nums):
            if x + y == target:
                return [i, j]
"""


def test_call_leetcode_class_solution(sandbox):
    result = sandbox.run(TWO_SUM_RIGHT, TWO_SUM)
    assert (result.status, result.passed) == ("passed", 3)


def test_call_subtly_wrong(sandbox):
    result = sandbox.run(TWO_SUM_REUSES_ELEMENT, TWO_SUM)  # 3 + 3 == 6: returns [0, 0]
    assert (result.status, result.passed) == ("failed", 1)
    assert [c.status for c in result.cases] == ["passed", "wrong_answer", "wrong_answer"]


def test_call_tuple_is_a_list_but_bool_is_not_an_int(sandbox):
    suite = {"type": "call", "fn_name": "f", "cases": [{"args": [2], "expected": [2, 4]}]}
    assert sandbox.run("def f(x):\n    return (x, 2 * x)", suite).status == "passed"
    flag = {"type": "call", "fn_name": "even", "cases": [{"args": [2], "expected": True}]}
    assert sandbox.run("def even(x):\n    return 1", flag).status == "failed"
    assert sandbox.run("def even(x):\n    return x % 2 == 0", flag).status == "passed"


def test_call_kwargs_and_float_tolerance(sandbox):
    suite = {
        "type": "call",
        "fn_name": "mean",
        "cases": [{"args": [[1, 2, 2]], "kwargs": {"scale": 2}, "expected": 3.3333333}],
        "float_tol": 1e-6,
    }
    assert (
        sandbox.run("def mean(xs, scale=1):\n    return scale * sum(xs) / len(xs)", suite).status == "passed"
    )


def test_call_missing_function_fails(sandbox):
    result = sandbox.run("def other():\n    return 1", TWO_SUM)
    assert result.status == "failed" and "not defined" in result.cases[0].reason


# ---------------------------------------------------------------- assert suites

IS_PRIME_TEST = textwrap.dedent(
    """
    def check(candidate):
        assert candidate(2) is True
        assert candidate(1) is False
        assert candidate(97) == True
        assert candidate(91) == False
        assert [candidate(n) for n in range(10)] == [False, False, True, True, False, True, False, True, False, False]
    """
)
IS_PRIME = {"type": "assert", "test": IS_PRIME_TEST, "entry_point": "is_prime"}


def test_assert_humaneval_style(sandbox):
    right = "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))"
    assert sandbox.run(right, IS_PRIME).status == "passed"


def test_assert_subtly_wrong(sandbox):
    wrong = "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5)))"  # 91 = 7*13 ok, 9 not
    result = sandbox.run(wrong, IS_PRIME)
    assert result.status == "failed" and "AssertionError" in result.cases[0].stderr


def test_assert_plain_statements(sandbox):
    suite = {"type": "assert", "test": "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"}
    assert sandbox.run("def add(a, b):\n    return a + b", suite).status == "passed"
    assert sandbox.run("def add(a, b):\n    return abs(a) + b", suite).status == "failed"


def test_assert_output_does_not_matter_but_truthy_ints_compare_by_value(sandbox):
    suite = {"type": "assert", "test": "assert f() == 2.0\nassert f() != 3"}
    assert sandbox.run("print('noise')\ndef f():\n    return 2", suite).status == "passed"


# ---------------------------------------------------------------- budgets and binary mode


def test_total_budget_stops_the_run(sandbox):
    suite = {
        "type": "stdio",
        "cases": [{"input": "", "output": "ok"}] * 4,
        "time_limit_s": 2,
        "total_time_s": 1.5,
    }
    result = sandbox.run("import time\ntime.sleep(0.6)\nprint('ok')", suite)
    assert result.status == "timeout"
    assert result.passed == 2
    assert [c.status for c in result.cases][2:] in (["timeout", "skipped"], ["skipped", "skipped"])


def test_stop_on_error_skips_the_rest(sandbox):
    suite = {"type": "stdio", "cases": [{"input": str(i), "output": str(i)} for i in range(4)]}
    code = "x = int(input())\nassert x != 1\nprint(x)"
    result = sandbox.run(code, suite, stop_on_error=True)
    assert [c.status for c in result.cases] == ["passed", "runtime_error", "skipped", "skipped"]
    full = sandbox.run(code, suite)
    assert full.passed == 3


# ---------------------------------------------------------------- C++

CPP_SUM = """
#include <cstdio>
int main() {
    int n; std::scanf("%d", &n);
    for (int i = 0; i < n; i++) { long long a, b; std::scanf("%lld %lld", &a, &b); std::printf("%lld\\n", a + b); }
}
"""


@pytest.fixture
def cpp_sandbox(sandbox):
    """The sandbox, when it can compile C++ (the local backend uses the host's g++)."""
    if type(sandbox).__name__ == "LocalSandbox" and shutil.which("g++") is None:
        pytest.skip("g++ is not installed on this host (apt-get install g++)")
    return sandbox


def test_cpp_right_and_wrong(cpp_sandbox):
    sandbox = cpp_sandbox
    assert sandbox.run(CPP_SUM, SUM_LINES, language="cpp").status == "passed"
    wrong = (
        CPP_SUM.replace("long long a, b", "int a, b")
        .replace("%lld %lld", "%d %d")
        .replace("%lld\\n", "%d\\n")
    )
    result = sandbox.run(wrong, SUM_LINES, language="c++")
    assert (result.status, result.passed) == ("failed", 2)  # 4e9 overflows int


def test_cpp_compile_error(cpp_sandbox):
    sandbox = cpp_sandbox
    result = sandbox.run("int main() { return undefined_name; }", SUM_LINES, language="cpp")
    assert result.status == "compile_error"
    assert "undefined_name" in result.info["compile_stderr"]


def test_cpp_timeout_and_crash(cpp_sandbox):
    sandbox = cpp_sandbox
    suite = {"type": "stdio", "cases": [{"input": "", "output": "1"}], "time_limit_s": 1}
    assert sandbox.run("int main() { for (;;) {} }", suite, language="cpp").status == "timeout"
    crash = sandbox.run("int main() { int *p = 0; return *p; }", suite, language="cpp")
    assert crash.status == "failed" and crash.cases[0].status == "runtime_error"


def test_bad_suite_raises(sandbox):
    with pytest.raises(ValueError, match="cases"):
        sandbox.run("print(1)", {"type": "stdio", "cases": []})
    with pytest.raises(ValueError, match="language"):
        sandbox.run("print(1)", SUM_LINES, language="cobol")
