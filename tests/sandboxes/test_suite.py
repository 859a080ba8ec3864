"""sandboxes.suite: schema validation, the job (no expectations inside), grading in the parent."""

from __future__ import annotations

import json

import pytest

from sandboxes import suite as S

STDIO = {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}, {"input": "2 2\n", "output": "4"}]}
CALL = {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": [1, 2]}]}
ASSERT = {"type": "assert", "test": "assert f(1) == 2", "entry_point": "f"}


# ---------------------------------------------------------------- validate


def test_validate_normalises_and_ignores_unknown_keys():
    suite = S.validate({**STDIO, "source": "codeforces", "time_limit_s": 1, "float_tol": 1e-6})
    assert suite.type == "stdio" and len(suite.cases) == 2
    assert suite.time_limit_s == 1.0 and suite.total_time_s == 2.0 and suite.float_tol == 1e-6
    assert S.validate(json.dumps(CALL)).fn_name == "f"
    assert S.validate(ASSERT).cases == ({},)


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"type": "script"}, "type"),
        ({"type": "stdio"}, "cases"),
        ({"type": "stdio", "cases": []}, "cases"),
        ({"type": "stdio", "cases": [{"input": "1"}]}, "output"),
        ({"type": "stdio", "cases": [{"input": 1, "output": "1"}]}, "input"),
        ({"type": "call", "cases": [{"args": [], "expected": 1}]}, "fn_name"),
        ({"type": "call", "fn_name": "f", "cases": [{"args": 1, "expected": 1}]}, "args"),
        ({"type": "call", "fn_name": "f", "cases": [{"args": []}]}, "expected"),
        ({"type": "assert"}, "test"),
        ({"type": "assert", "test": "assert (("}, "test"),
        ({"type": "assert", "test": "pass", "entry_point": "not a name"}, "entry_point"),
        ({**STDIO, "time_limit_s": 0}, "time_limit_s"),
        ({**STDIO, "memory_mb": "lots"}, "memory_mb"),
        ({**STDIO, "float_tol": -1}, "float_tol"),
        ({**STDIO, "stop_on_failure": "yes"}, "stop_on_failure"),
        # Beyond what the OS calls take (poll timeouts, rlimits): sandbox.run raised OverflowError.
        ({**STDIO, "time_limit_s": 1e9}, "time_limit_s"),
        ({**STDIO, "total_time_s": 1e308}, "total_time_s"),
        ({**STDIO, "memory_mb": 1e13}, "memory_mb"),
    ],
)
def test_validate_names_the_bad_key(bad, key):
    with pytest.raises(ValueError, match=key):
        S.validate(bad)


def test_default_total_time_stays_within_the_maximum():
    many = {"type": "stdio", "cases": [{"input": "", "output": ""}] * 100_000, "time_limit_s": 100}
    assert S.validate(many).total_time_s == S.MAX_TIME_S


def test_validate_rejects_non_json_and_non_dicts():
    with pytest.raises(ValueError, match="JSON"):
        S.validate("{not json")
    with pytest.raises(ValueError, match="dict"):
        S.validate([1, 2])


# ---------------------------------------------------------------- build_job


def test_job_carries_no_expected_output():
    secret = "EXPECTED-7d1f"
    stdio = S.validate({"type": "stdio", "cases": [{"input": "in", "output": secret}]})
    call = S.validate({"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": secret}]})
    for suite in (stdio, call):
        job = S.build_job("print(1)", suite, "python")
        assert secret not in json.dumps(job)
    assert S.build_job("x", call)["cases"] == [{"args": [1], "kwargs": {}}]


def test_job_languages_and_limits():
    suite = S.validate(STDIO)
    assert S.build_job("x", suite, "c++")["language"] == "cpp"
    assert S.build_job("x", suite, "py", max_processes=4)["max_processes"] == 4
    with pytest.raises(ValueError, match="language"):
        S.build_job("x", suite, "cobol")
    with pytest.raises(ValueError, match="stdio"):
        S.build_job("x", S.validate(CALL), "cpp")
    with pytest.raises(ValueError, match="limits"):
        S.build_job("x", suite, "python", max_cpus=3)
    assert S.build_job("x", S.validate({**STDIO, "stop_on_failure": True}))["stop_on_error"] is True


# ---------------------------------------------------------------- output comparison


@pytest.mark.parametrize(
    "expected, actual",
    [
        ("3\n", "3"),
        ("1 2\n3\n", "1 2   \n3\n\n\n"),  # trailing spaces and blank lines
        ("a b", "a  b"),  # tokens, not spacing
        ("x\r\ny", "x\ny"),
    ],
)
def test_outputs_that_match(expected, actual):
    assert S.outputs_match(expected, actual) == (True, "")


@pytest.mark.parametrize(
    "expected, actual",
    [
        ("1000000", "1000001"),
        ("YES", "yes"),  # case-sensitive
        ("1\n2\n3", "1"),  # printing only the first line
        ("1\n2", "1\n2\n3"),
        ("1 2", "1 2 3"),
        ("\n1", "1"),  # leading blank lines count
        ("2 1", "1 2"),  # never set-based
    ],
)
def test_outputs_that_do_not_match(expected, actual):
    ok, reason = S.outputs_match(expected, actual)
    assert not ok and reason


def test_float_tolerance_only_for_float_tokens():
    assert S.outputs_match("0.333333", "0.3333334", 1e-6)[0]
    assert S.outputs_match("1.5e3", "1500.0000001", 1e-6)[0]
    assert not S.outputs_match("0.333333", "0.3334", 1e-6)[0]
    assert not S.outputs_match("0.333333", "0.3333334")[0]  # no tolerance unless asked
    assert not S.outputs_match("1000000", "1000000.0000001", 1e-6)[0]  # integers stay exact
    assert not S.outputs_match("1.0", "nan", 1e-6)[0]


def test_values_equal_is_strict():
    assert S.values_equal([1, {"a": 2}], [1, {"a": 2}])
    assert not S.values_equal(True, 1) and not S.values_equal(1, True)
    assert not S.values_equal([1, 2], [2, 1])
    assert not S.values_equal({"a": 1}, {"a": 1, "b": 2})
    assert not S.values_equal("1", 1)
    assert S.values_equal(2, 2.0)
    assert S.values_equal(0.1 + 0.2, 0.3, 1e-9) and not S.values_equal(0.1 + 0.2, 0.3)


# ---------------------------------------------------------------- grade


def _case(**kw):
    return {"status": "ok", "time_s": 0.01, "stdout": "", "stderr": "", "truncated": False, **kw}


def test_grade_stdio():
    suite = S.validate(STDIO)
    raw = {"compile": {"ok": True}, "cases": [_case(stdout="3\n"), _case(stdout="5\n")]}
    result = S.grade(suite, raw)
    assert (result.status, result.passed, result.total) == ("failed", 1, 2)
    assert [c.status for c in result.cases] == ["passed", "wrong_answer"]
    assert "expected '4'" in result.cases[1].reason


def test_grade_call_needs_done_and_strict_json():
    suite = S.validate({"type": "call", "fn_name": "f", "cases": [{"args": [], "expected": True}] * 3})
    raw = {
        "cases": [
            _case(done=True, result="true"),
            _case(done=True, result="1"),  # True != 1
            _case(done=False),  # exited before returning
        ]
    }
    result = S.grade(suite, raw)
    assert [c.status for c in result.cases] == ["passed", "wrong_answer", "wrong_answer"]


def test_grade_statuses():
    suite = S.validate(STDIO)
    assert S.grade(suite, {"compile": {"ok": False, "stderr": "boom"}, "cases": []}).status == "compile_error"
    timeout = S.grade(suite, {"cases": [_case(stdout="3"), _case(status="timeout")]})
    assert (timeout.status, timeout.passed) == ("timeout", 1)
    memory = S.grade(suite, {"cases": [_case(status="memory"), _case(stdout="4")]})
    assert memory.status == "memory"
    budget = S.grade(
        suite, {"cases": [_case(stdout="3"), _case(status="skipped", reason="total time budget exhausted")]}
    )
    assert budget.status == "timeout"
    crash = S.grade(suite, {"cases": [_case(status="runtime_error"), _case(status="weird")]})
    assert crash.status == "failed" and crash.cases[1].status == "runtime_error"


@pytest.mark.parametrize(
    "raw", [None, "text", {}, {"cases": "x"}, {"error": "boom", "cases": []}, {"cases": [{}]}]
)
def test_malformed_runner_output_is_an_error_not_a_failure(raw):
    result = S.grade(S.validate(STDIO), raw)
    assert result.status == "error" and result.info["error"]
