import asyncio
import threading

import pytest

import verifiers
from verifiers import Sample, Score, Status, Verifier, available, get_verifier, register
from verifiers.core import completion_text, prompt_text, split_completion


class Length(Verifier):
    """Scores 1.0 for completions longer than n characters."""

    def __init__(self, n: int = 3):
        self.n = n
        self.closed = False

    def score(self, sample):
        if sample.completion == "boom":
            raise RuntimeError("verifier bug")
        return Score(float(len(sample.completion) > self.n))

    def close(self):
        self.closed = True


def test_register_get_and_list():
    register("length", Length)
    v = get_verifier("length", n=1)
    assert isinstance(v, Length) and v.n == 1
    assert "length" in available() and available()["length"].startswith("Scores 1.0")
    assert "format" in available()


def test_unknown_verifier_and_bad_params_name_the_problem():
    with pytest.raises(ValueError, match="unknown verifier 'nope'"):
        get_verifier("nope")
    register("length", Length)
    with pytest.raises(TypeError, match="'length'.*bad parameters.*wrong"):
        get_verifier("length", wrong=1)


def test_batch_keeps_order_and_isolates_a_failing_sample():
    v = Length(n=3)
    scores = v.score_batch([Sample("abcdef"), Sample("boom"), Sample("ab")])
    assert [s.value for s in scores] == [1.0, None, 0.0]
    assert scores[1].status is Status.ERROR and "verifier bug" in scores[1].info["error"]


def test_async_and_context_manager():
    with Length() as v:
        scores = asyncio.run(v.ascore_batch([Sample("abcdef"), Sample("a")]))
        assert [s.value for s in scores] == [1.0, 0.0]
    assert v.closed


def test_safe_from_threads():
    v = Length()
    results = []
    threads = [threading.Thread(target=lambda: results.append(v.score_batch([Sample("abcde")] * 50))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(s.value == 1.0 for r in results for s in r)


def test_plugins_are_discovered_through_entry_points(tmp_path, monkeypatch):
    # A real installed distribution, found by importlib.metadata, as a plugin package would be.
    pkg = tmp_path / "my_plugin.py"
    pkg.write_text(
        "from verifiers import Verifier, Score\n"
        "class Always(Verifier):\n    '''Always one.'''\n    def score(self, s):\n        return Score(1.0)\n"
    )
    dist = tmp_path / "my_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[verifiers.plugins]\nalways = my_plugin:Always\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(verifiers.core, "_plugins_loaded", False)
    assert available()["always"] == "Always one."
    assert get_verifier("always").score(Sample("x")).value == 1.0


def test_completion_helpers():
    assert split_completion("hi") == (None, "hi")
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning_content": "r"}]
    assert split_completion(msgs) == ("r", "a")
    assert completion_text(msgs) == "<think>r</think>a"
    assert prompt_text([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]) == "u"
    multimodal = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what is this?"}]}]
    assert prompt_text(multimodal) == "what is this?"
    assert prompt_text({"role": "user", "content": "one message"}) == "one message"
    with pytest.raises(TypeError):
        prompt_text(42)
    with pytest.raises(TypeError):
        split_completion(42)
    with pytest.raises(TypeError):
        split_completion([{"role": "assistant", "content": 3}])


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, verifiers; print(any(m in sys.modules for m in ('sympy', 'torch', 'docker', 'fasttext', 'yaml')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
