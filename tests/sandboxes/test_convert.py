"""sandboxes.convert: the code datasets' own test formats become suites that run."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path

import pytest

from sandboxes import get_sandbox, validate
from sandboxes.convert import detect, to_suite, zlib_decompress

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "data" / "code_datasets"
ROWS = {p.stem: json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.jsonl"))}
FORMATS = {
    "open_r1": "open-r1",
    "apps": "apps",
    "taco": "apps",
    "humaneval": "humaneval",
    "mbpp": "mbpp",
    "livecodebench": "livecodebench",
    "codecontests": "codecontests",
    "verl": "verl",
}


def program(row: dict) -> str:
    return row["completion"].split("```python\n")[1].split("```")[0]


@pytest.fixture(scope="module")
def sandbox():
    with get_sandbox("local", max_concurrency=2) as sb:
        yield sb


def test_every_format_has_an_example_row():
    assert sorted(ROWS) == sorted(FORMATS)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_example_rows_convert_and_their_solutions_pass(sandbox, name):
    row = ROWS[name]
    assert detect(row) == FORMATS[name]
    suite = validate(to_suite(row))
    assert sandbox.run(program(row), suite).status == "passed"
    # the same row as the JSON text a parquet/JSONL column would hold
    assert validate(to_suite(json.dumps(row))) == suite


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_wrong_solution_fails_each_converted_suite(sandbox, name):
    wrong = {
        "taco": "def count_vowels(s):\n    return 1\n",
        "humaneval": "def decode(s):\n    return s\n",
        "mbpp": "def similar_elements(a, b):\n    return tuple(a)\n",
        "livecodebench": "class Solution:\n    def twoSum(self, nums, target):\n        return [0, 0]\n",
    }.get(name, "print(42)")
    assert sandbox.run(wrong, to_suite(ROWS[name])).status == "failed"


def test_columns_alone_convert_too():
    apps = ROWS["apps"]
    assert to_suite(apps["input_output"])["type"] == "stdio"  # --field reference=input_output
    verl = ROWS["verl"]
    assert to_suite(verl["reward_model"]["ground_truth"]) == to_suite(verl)
    assert to_suite(ROWS["open_r1"]["verification_info"])["cases"][0] == {"input": "1 2\n", "output": "3\n"}


def test_apps_call_cases_accept_the_unwrapped_or_wrapped_value(sandbox):
    suite = to_suite({"input_output": json.dumps({"fn_name": "f", "inputs": [[1]], "outputs": [[2]]})})
    assert suite["cases"][0] == {"args": [1], "expected": 2, "also_accept": [[2]]}
    assert sandbox.run("def f(x):\n    return 2 * x\n", suite).status == "passed"
    assert sandbox.run("def f(x):\n    return [2 * x]\n", suite).status == "passed"
    assert sandbox.run("def f(x):\n    return 3\n", suite).status == "failed"


def test_humaneval_prompt_helpers_belong_to_the_test(sandbox):
    # The prompt's `shift` runs in the test's process: a solution redefining it cannot fake the test.
    row = ROWS["humaneval"]
    cheat = "def shift(c, k):\n    return c\n\ndef decode(s):\n    return s\n"
    assert sandbox.run(cheat, to_suite(row)).status == "failed"


def test_mbpp_setup_code_runs_before_the_tests(sandbox):
    row = {"test_list": ["assert f(3) == LIMIT + 3"], "test_setup_code": "LIMIT = 10"}
    assert to_suite(row)["setup"] == "LIMIT = 10"
    assert sandbox.run("def f(x):\n    return x + 10\n", to_suite(row)).status == "passed"


def test_livecodebench_private_tests_refuse_anything_but_a_string():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    payload = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(ValueError, match="refusing to unpickle"):
        to_suite({"private_test_cases": payload, "public_test_cases": "[]"})
    bomb = zlib.compress(b"\0" * (1 << 22))
    with pytest.raises(ValueError, match="decompresses past"):
        zlib_decompress(bomb, limit=1 << 20)


@pytest.mark.parametrize(
    "reference, match",
    [
        ({"foo": 1}, "no known code dataset format"),
        ({"input_output": json.dumps({"inputs": ["1"], "outputs": []})}, "same length"),
        ({"test_list": []}, "test_list"),
        ({"public_test_cases": "[]", "private_test_cases": ""}, "no test cases"),
        ({"public_test_cases": json.dumps([{"input": "1", "output": "1", "testtype": "functional"}])}, "func_name"),
        ({"verification_info": {"test_cases": []}}, "non-empty"),
        ({"public_tests": {"input": [], "output": []}}, "no public or private"),
    ],
)
def test_malformed_references_name_the_problem(reference, match):
    with pytest.raises(ValueError, match=match):
        validate(to_suite(reference))


def test_the_code_verifier_converts_dataset_rows():
    from verifiers import Sample, Status, get_verifier

    with get_verifier("code", max_concurrency=2) as v:
        scores = v.score_batch([Sample(row["completion"], reference=row) for row in ROWS.values()])
        assert [s.value for s in scores] == [1.0] * len(ROWS)
        bad = v.score(Sample(ROWS["apps"]["completion"], reference={"foo": 1}))
    assert (bad.value, bad.status) == (None, Status.INVALID_REFERENCE)
    assert "no known code dataset format" in bad.info["error"]
