import asyncio
import threading

import pytest

import verifiers
from verifiers import Sample, Score, Status, Verifier, available, get_verifier, register
from verifiers.core import (
    END_TOKENS,
    completion_text,
    end_tokens_option,
    prompt_opens_thinking,
    prompt_text,
    read_completion,
    split_completion,
    strip_end_tokens,
    think_prefilled_option,
)


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
    # a misspelt or missing parameter is named, with the ones the verifier takes
    with pytest.raises(TypeError, match=r"verifier 'math': bad parameters \['timeot'\]; it takes: timeout, "):
        get_verifier("math", timeot=5)
    with pytest.raises(TypeError, match=r"'overlong': bad parameters: missing required \['max_completion_len', "
                                        r"'soft_punish_cache'\]; it takes: max_completion_len"):
        get_verifier("overlong")


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


# ---------------------------------------------------------------- Sample is keyword-only after completion


def test_sample_takes_only_the_completion_positionally():
    # TRL hands over (prompts, completions): the natural positional call must not score the prompt
    with pytest.raises(TypeError):
        Sample("a prompt", "a completion", "4", "math")
    s = Sample("a completion", prompt="a prompt", reference="4", task="math")
    assert (s.completion, s.prompt, s.reference, s.task, s.meta) == ("a completion", "a prompt", "4", "math", {})


# ---------------------------------------------------------------- end-of-turn tokens


@pytest.mark.parametrize("token", END_TOKENS)
def test_every_known_end_token_is_stripped(token):
    assert strip_end_tokens(f"<answer>4</answer>{token}") == "<answer>4</answer>"
    assert strip_end_tokens(f"<answer>4</answer>\n{token}\n") == "<answer>4</answer>"


def test_end_tokens_stack_and_only_trailing_ones_go():
    assert strip_end_tokens("done<|im_end|>\n<|endoftext|> </s>") == "done"
    assert strip_end_tokens("a </s> b") == "a </s> b"
    assert strip_end_tokens("no token  ") == "no token"
    assert strip_end_tokens("<|im_end|>") == ""
    assert strip_end_tokens("x<END>", ["<END>"]) == "x"
    assert strip_end_tokens("x<|im_end|>", ["<END>"]) == "x<|im_end|>"


def test_stripping_many_end_tokens_is_linear():
    # hostile output: a million stacked tokens must not cost quadratic time (this would take hours)
    assert strip_end_tokens("x" + "</s>" * 1_000_000) == "x"


def test_end_tokens_option_validates():
    assert end_tokens_option(None, "v") == END_TOKENS
    assert end_tokens_option(["<e>"], "v") == ("<e>",)
    for bad in ("<e>", [""], [3]):
        with pytest.raises(ValueError, match="v: end_tokens"):
            end_tokens_option(bad, "v")


# ---------------------------------------------------------------- pre-filled thinking: the one rule


@pytest.mark.parametrize(
    "prompt",
    [
        "What is 6*7?<think>",
        "<|im_start|>user\nWhat is 6*7?<|im_end|>\n<|im_start|>assistant\n<think>\n",
        "<｜User｜>What is 6*7?<｜Assistant｜><think>\n",
        "<|im_start|>assistant\n<think>\nOkay, the user asks",  # a partial pre-fill, the thought goes on
        [{"role": "user", "content": "What is 6*7?"}, {"role": "assistant", "content": "<think>\nLet me see."}],
    ],
)
def test_prompts_that_open_the_thinking(prompt):
    assert prompt_opens_thinking(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        None,
        "What is 6*7?",
        "Reason inside <think> </think> tags, then answer in <answer> </answer>.",
        "Put your reasoning after <think>. What is 6*7?",  # mentions the tag; no template turn is open
        "<|im_start|>assistant\n<think>done</think>",
        [{"role": "user", "content": "Think with <think>"}],
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>a</think>b"}],
        42,
    ],
)
def test_prompts_that_do_not(prompt):
    assert not prompt_opens_thinking(prompt)


def test_read_completion_prefilled_by_the_prompt():
    r = read_completion("Six times seven is 42", "What is 6*7?<think>")
    assert r.prefilled and r.committed is None and r.thinking == "Six times seven is 42"
    r = read_completion("Six times seven is 42</think><answer>42</answer><|im_end|>", "Q<think>")
    assert r.prefilled and r.committed == "<answer>42</answer>" and r.thinking == "Six times seven is 42"


def test_read_completion_prefilled_by_the_completion_alone():
    r = read_completion("6*7 is 42</think>42")
    assert r.prefilled and r.committed == "42" and r.thinking == "6*7 is 42"
    r = read_completion("The answer is 42")  # no prompt, no tags: the whole text is the answer
    assert not r.prefilled and r.committed == "The answer is 42" and r.thinking is None
    r = read_completion("<think>cut off mid-thought")
    assert not r.prefilled and r.committed is None and r.thinking == "cut off mid-thought"


def test_read_completion_modes():
    assert read_completion("42", think_prefilled="true").committed is None
    assert read_completion("42", "Q<think>", think_prefilled="false").committed == "42"
    assert read_completion("a</think>b", think_prefilled="false").committed == "b"
    with pytest.raises(ValueError, match="x: think_prefilled"):
        think_prefilled_option("maybe", "x")
    assert think_prefilled_option(True, "x") == "true" and think_prefilled_option(False, "x") == "false"


def test_read_completion_separate_reasoning_is_the_thinking_never_prefilled():
    msgs = [{"role": "assistant", "reasoning_content": "6*7=42", "content": "<answer>42</answer></s>"}]
    r = read_completion(msgs, "Q<think>")
    assert not r.prefilled and r.thinking == "6*7=42" and r.committed == "<answer>42</answer>"
    with pytest.raises(TypeError):
        read_completion(42)


# ---------------------------------------------------------------- every built-in verifier follows the rule

PREFILLED_PROMPT = "<|im_start|>user\nWhat is 6*7?<|im_end|>\n<|im_start|>assistant\n<think>\n"
ADD_SUITE = {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}, {"input": "2 2\n", "output": "4\n"}]}
ADD_PROGRAM = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"


def test_format_ignores_end_of_turn_tokens():
    v = get_verifier("format")
    for token in END_TOKENS:
        assert v.score(Sample(f"<think>6*7</think><answer>42</answer>{token}\n")).value == 1.0, token
    assert v.score(Sample("<think>6*7</think><answer>42</answer>junk")).value == 0.0
    custom = get_verifier("format", end_tokens=["[EOS]"])
    assert custom.score(Sample("<think>6*7</think><answer>42</answer>[EOS]")).value == 1.0
    assert custom.score(Sample("<think>6*7</think><answer>42</answer></s>")).value == 0.0


def test_format_reads_a_prefilled_chat_prompt():
    v = get_verifier("format")
    s = v.score(Sample("6*7 is 42.\n</think>\n<answer>42</answer><|im_end|>", prompt=PREFILLED_PROMPT))
    assert s.value == 1.0 and s.info["prefilled"]
    msgs = [{"role": "user", "content": "6*7?"}, {"role": "assistant", "content": "<think>\n"}]
    assert v.score(Sample("6*7 is 42.</think><answer>42</answer>", prompt=msgs)).value == 1.0


def test_code_draft_in_unfinished_prefilled_thinking_is_no_program():
    v = get_verifier("code")
    try:
        draft = f"Let me draft it:\n{ADD_PROGRAM}\nbut maybe the input"  # cut off: no </think>
        s = v.score(Sample(draft, prompt=PREFILLED_PROMPT, reference=ADD_SUITE))
        assert (s.value, s.status) == (0.0, Status.NO_ANSWER)
        s = v.score(Sample(draft, reference=ADD_SUITE))  # no pre-fill in sight: the program counts
        assert s.status is not Status.NO_ANSWER
        closed = f"Done.</think>\n{ADD_PROGRAM}<|im_end|>"
        assert v.score(Sample(closed, prompt=PREFILLED_PROMPT, reference=ADD_SUITE)).status is not Status.NO_ANSWER
        forced = get_verifier("code", think_prefilled=True)
        assert forced.score(Sample(draft, reference=ADD_SUITE)).status is Status.NO_ANSWER
    finally:
        v.close()


def test_language_scores_the_prefilled_thinking_only():
    v = get_verifier("language", target="en")
    thinking = "Let me think about the question carefully and then answer it."
    s = v.score(Sample(f"{thinking}</think>\n<answer>Die Antwort ist zweiundvierzig, ganz sicher.</answer>",
                       prompt=PREFILLED_PROMPT))
    assert s.info["scored"] == "thinking" and s.value == 1.0
    s = v.score(Sample(thinking + " Still thinking", prompt=PREFILLED_PROMPT))  # unfinished: all thinking
    assert s.info["scored"] == "thinking"
    with pytest.raises(ValueError, match="language: think_prefilled"):
        get_verifier("language", think_prefilled="sometimes")


def test_math_cut_off_in_prefilled_thinking_has_no_answer():
    v = get_verifier("math")
    cut_off = "I need 6*7. Six times seven is 42"  # the model never left its thinking
    s = v.score(Sample(cut_off, prompt="What is 6*7?<think>\n", reference="42"))
    assert (s.value, s.status) == (0.0, Status.NO_ANSWER)
    msgs = [{"role": "user", "content": "What is 6*7?"}, {"role": "assistant", "content": "<think>"}]
    assert v.score(Sample(cut_off, prompt=msgs, reference="42")).status is Status.NO_ANSWER
    assert v.score(Sample(cut_off, reference="42", task="math")).value == 1.0  # nothing says it is thinking
    done = "Six times seven is 42.</think>\n<answer>42</answer><｜end▁of▁sentence｜>"
    assert v.score(Sample(done, prompt="What is 6*7?<think>\n", reference="42")).value == 1.0
    forced = get_verifier("math", think_prefilled="true")
    assert forced.score(Sample(cut_off, reference="42")).status is Status.NO_ANSWER
    import pickle

    assert pickle.loads(pickle.dumps(forced)).think_prefilled == "true"


def test_dict_samples_with_other_keys_or_no_completion_are_refused_by_name():
    from verifiers import load_reward

    with load_reward({"components": {"accuracy": {"verifier": "math"}}}) as reward:
        [ok] = reward.score_batch([{"completion": "<answer>4</answer>", "reference": "4", "meta": {}}])
        assert ok.value == 1.0
        with pytest.raises(TypeError, match=r"keys \['answer'\] are not Sample fields"):
            reward.score_batch([{"completion": "<answer>4</answer>", "answer": "4"}])  # was: scored with no gold
        with pytest.raises(TypeError, match="it has no 'completion'"):
            reward.score_batch([{"prompt": "p"}])
