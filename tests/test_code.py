"""verifiers.code: program extraction, scoring modes, the None policy for outages."""

from __future__ import annotations

import json
import shutil

import pytest

from verifiers import Sample, Status, get_verifier
from verifiers.code import CodeVerifier, extract_program

ADD = {
    "type": "stdio",
    "cases": [{"input": f"{i} {i + 1}\n", "output": f"{2 * i + 1}\n"} for i in range(4)],
}
RIGHT = "a, b = map(int, input().split())\nprint(a + b)"
WRONG_ON_ZERO = "a, b = map(int, input().split())\nprint(a + b if a else 0)"


def fence(code: str, tag: str = "python") -> str:
    return f"```{tag}\n{code}\n```"


# ---------------------------------------------------------------- extraction


def test_extracts_the_last_block_of_the_language():
    text = f"First try:\n{fence('print(1)')}\nBetter:\n{fence('print(2)', 'py')}\n{fence('x = 1', 'text')}"
    assert extract_program(text) == "print(2)\n"


def test_prefers_the_answer_block_and_ignores_thinking():
    text = f"<think>{fence('print(0)')}</think>{fence('print(1)')}<answer>{fence('print(2)')}</answer>"
    assert extract_program(text) == "print(2)\n"
    text = f"<think>{fence('print(0)')}</think>no code here"
    assert extract_program(text) is None


def test_code_after_an_unclosed_think_is_no_program():
    # the model never left its thinking: nothing it wrote there is its answer (as for math)
    assert extract_program(f"<think>let me try\n{fence('print(1)')}") is None
    # a pre-filled template has no opening tag, only the closing one
    assert extract_program(f"thinking</think>{fence('print(1)')}") == "print(1)\n"


def test_unlabeled_fence_is_the_fallback():
    assert extract_program(f"{fence('print(3)', '')}") == "print(3)\n"
    assert extract_program(f"{fence('print(3)', '')}\n{fence('print(4)')}") == "print(4)\n"


def test_cpp_tags():
    text = f"{fence('int main(){}', 'c++')}\n{fence('print(1)')}"
    assert extract_program(text, "cpp") == "int main(){}\n"
    assert extract_program(fence("int main(){}", "cpp"), "cpp") == "int main(){}\n"


def test_unclosed_or_empty_block_is_no_program():
    assert extract_program("```python\nprint(1)\n") is None
    assert extract_program("```python\n\n```") is None
    assert extract_program("just words") is None


def test_indented_fences_are_dedented():
    # A block inside a list item is indented as a whole; run as is, it is an IndentationError.
    listed = "1. The program:\n\n    ```python\n    def f():\n        return 1\n    print(f())\n    ```\n"
    assert extract_program(listed) == "def f():\n    return 1\nprint(f())\n"
    assert extract_program("\t```python\n\tx = 1\n\tprint(x)\n\t```") == "x = 1\nprint(x)\n"
    assert extract_program("```python\nx = 1\n  # note\n```") == "x = 1\n  # note\n"  # no common indent
    assert extract_program('```python\ns = """\n   \n"""\n```') == 's = """\n   \n"""\n'  # left as written


def test_an_empty_last_block_does_not_hide_the_program():
    text = f"{fence('print(1)')}\nThat is all.\n```python\n```"
    assert extract_program(text) == "print(1)\n"


# ---------------------------------------------------------------- scoring


@pytest.fixture(scope="module")
def verifier():
    with get_verifier("code", max_concurrency=2) as v:
        yield v


def test_fraction_and_binary(verifier):
    right, wrong = Sample(fence(RIGHT), reference=ADD), Sample(fence(WRONG_ON_ZERO), reference=ADD)
    scores = verifier.score_batch([right, wrong])
    assert [s.value for s in scores] == [1.0, 0.75]
    assert scores[1].info["first_failure"]["status"] == "wrong_answer"
    with CodeVerifier(mode="binary") as binary:
        assert [s.value for s in binary.score_batch([right, wrong])] == [1.0, 0.0]


def test_batch_keeps_order_and_mixes_outcomes(verifier):
    samples = [
        Sample(fence(RIGHT), reference=ADD),
        Sample("no code at all", reference=ADD),
        Sample(fence(RIGHT), reference={"type": "stdio"}),
        Sample(fence("import time\ntime.sleep(30)"), reference={**ADD, "time_limit_s": 0.5}),
        Sample(fence("def f(:"), reference=ADD),
        Sample(fence(WRONG_ON_ZERO), reference=json.dumps(ADD)),
    ]
    scores = verifier.score_batch(samples)
    assert [(s.value, s.status) for s in scores] == [
        (1.0, Status.OK),
        (0.0, Status.NO_ANSWER),
        (None, Status.INVALID_REFERENCE),
        (0.0, Status.TIMEOUT),
        (0.0, Status.OK),
        (0.75, Status.OK),
    ]
    assert scores[4].info["status"] == "compile_error" and "SyntaxError" in scores[4].info["compile_error"]
    assert "cases" in scores[2].info["error"]


def test_chat_messages_use_the_content_not_the_reasoning(verifier):
    messages = [
        {"role": "user", "content": "add"},
        {"role": "assistant", "content": fence(RIGHT), "reasoning_content": fence("print(0)")},
    ]
    score = verifier.score(Sample(messages, reference=ADD))
    assert (score.value, score.status) == (1.0, Status.OK)


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_reference_language_selects_cpp(verifier):
    cpp = "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}"
    completion = f"{fence('print(0)')}\n{fence(cpp, 'cpp')}"
    score = verifier.score(Sample(completion, reference={**ADD, "language": "cpp"}))
    assert (score.value, score.status) == (1.0, Status.OK)
    assert score.info["language"] == "cpp"


def test_bad_references_are_invalid_not_zero(verifier):
    for reference in (None, "not json", {"type": "call", "fn_name": "f", "cases": [{"args": []}]}):
        score = verifier.score(Sample(fence(RIGHT), reference=reference))
        assert (score.value, score.status) == (None, Status.INVALID_REFERENCE)
    cpp_call = {"type": "call", "fn_name": "f", "cases": [{"args": [], "expected": 1}], "language": "cpp"}
    score = verifier.score(Sample(fence("int f(){return 1;}", "cpp"), reference=cpp_call))
    assert (score.value, score.status) == (None, Status.INVALID_REFERENCE)


def test_unusable_references_are_invalid_reference(verifier):
    # None either way, but "error" would blame the sandbox, and a suite no program can pass
    # (a keyword as the function, a test that cannot compile) must not score 0.
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    call = {"type": "call", "fn_name": "f", "cases": [{"args": [], "expected": 1}]}
    for reference in (
        "[" * 100_000 + "]" * 100_000,
        {**call, "cases": [{"args": [], "expected": deep}]},
        {"type": "stdio", "cases": [{"input": "\ud800\n", "output": "1\n"}]},
        {**call, "fn_name": "class"},
        {"type": "assert", "test": "assert add(1, 2) == 3", "entry_point": "None"},
        {"type": "assert", "test": "assert add(1, 2) == 3  # \ud800", "entry_point": "add"},
    ):
        score = verifier.score(Sample(fence(RIGHT), reference=reference))
        assert (score.value, score.status) == (None, Status.INVALID_REFERENCE), score.info


def test_a_sandbox_that_cannot_run_here_is_one_clear_error_at_construction():
    from verifiers.code import SandboxUnavailable

    with pytest.raises(SandboxUnavailable, match="local sandbox cannot run here"):
        CodeVerifier(python="/nonexistent/python3")  # no isolation can start this


def test_an_outage_mid_run_is_none_and_programless_completions_are_not_zero():
    # A real outage: the sandbox's interpreter disappears after the verifier started.
    import tempfile
    from pathlib import Path

    top = Path(tempfile.mkdtemp(prefix="r1-outage-", dir="/var/tmp"))
    home = top / "bin"
    home.mkdir()
    python = home / "python3"
    shutil.copy2("/usr/bin/python3", python)
    for path in (top, home):
        path.chmod(0o755)
    with CodeVerifier(python=str(python), max_concurrency=2) as v:
        assert v.score(Sample(fence(RIGHT), reference=ADD)).value == 1.0
        python.unlink()
        scores = v.score_batch([Sample(fence(RIGHT), reference=ADD), Sample("no program", reference=ADD)])
    assert [(s.value, s.status) for s in scores] == [(None, Status.ERROR)] * 2
    assert all(s.info.get("outage") for s in scores)
    assert scores[0].info["isolation"] == "local/bwrap"
    shutil.rmtree(top)


def test_misuse_raises():
    with pytest.raises(ValueError, match="mode"):
        CodeVerifier(mode="partial")
    with pytest.raises(ValueError, match="backend"):
        CodeVerifier(backend="e2b")
    with pytest.raises(ValueError, match="language"):
        CodeVerifier(language="cobol")
    with pytest.raises(TypeError, match="code"):
        get_verifier("code", bogus_option=1)


def test_bad_completion_type_is_an_error_score(verifier):
    score = verifier.score(Sample(12345, reference=ADD))
    assert (score.value, score.status) == (None, Status.ERROR)


@pytest.mark.docker
def test_docker_backend_scores_the_same():
    from sandboxes.build import build_images
    from tests.sandboxes.conftest import docker_client_or_skip

    docker_client_or_skip()  # skips without a daemon, fails with CI=true
    for _ in build_images():
        pass
    samples = [Sample(fence(RIGHT), reference=ADD), Sample(fence(WRONG_ON_ZERO), reference=ADD)]
    with CodeVerifier(backend="docker", max_concurrency=2) as docker_verifier:
        assert [s.value for s in docker_verifier.score_batch(samples)] == [1.0, 0.75]


def test_pickles_for_other_processes():
    import pickle

    with CodeVerifier(mode="binary", max_concurrency=1) as original:
        copy = pickle.loads(pickle.dumps(original))
    with copy:
        assert copy.mode == "binary" and copy.max_concurrency == 1
        assert copy.score(Sample(fence(RIGHT), reference=ADD)).value == 1.0
