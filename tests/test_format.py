import pytest

from verifiers import Sample, Status, get_verifier
from verifiers.format import FormatVerifier, check_format, hide_markup

GOOD = "<think>\nreasoning\n</think>\n<answer>42</answer>"


def strict(completion, **kw):
    prompt = kw.pop("prompt", None)
    return FormatVerifier(**kw).score(Sample(completion, prompt=prompt))


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        "  <think>a</think><answer>b</answer>  \n",
        "<think></think>\n<answer>b</answer>",  # empty thinking is allowed (R1 emits it)
        "<think>x < y and y > z</think><answer>x</answer>",  # angle brackets that are not tags
    ],
)
def test_strict_accepts_the_template(text):
    assert strict(text).value == 1.0


@pytest.mark.parametrize(
    "text, problem",
    [
        ("<think>a</think>", "missing <answer>"),
        ("<answer>b</answer>", "missing </think>"),
        ("<think>a</think><answer>b</answer><answer>c</answer>", "<answer> appears 2 times"),
        ("<think>a<think>b</think></think><answer>c</answer>", "<think> appears 2 times"),
        ("<think>a<answer>b</answer></think>", "out of order or nested"),
        ("<answer>b</answer><think>a</think>", "out of order or nested"),
        ("<think>a</think><answer>b</answer> Hope this helps!", "text after </answer>"),
        ("Sure! <think>a</think><answer>b</answer>", "text before <think>"),
        ("<think>a</think> so <answer>b</answer>", "text between </think> and <answer>"),
        ("<think>a</think><answer>  </answer>", "empty answer"),
        ("just an answer: 42", "missing <think>"),
        ("<THINK>a</THINK><ANSWER>b</ANSWER>", "missing <think>"),
    ],
)
def test_strict_rejects_with_a_reason(text, problem):
    score = strict(text, think_prefilled="false")
    assert score.value == 0.0 and score.status is Status.OK
    assert any(problem in p for p in score.info["problems"]), score.info


def test_prefilled_think_from_prompt():
    completion = "\nreasoning\n</think>\n<answer>42</answer>"
    prompt = "<|User|>What is 6*7?<|Assistant|><think>\n"
    assert strict(completion, prompt=prompt).value == 1.0
    assert strict(completion, think_prefilled="true").value == 1.0
    # told there is no prefill, the missing opening tag is a format error
    assert strict(completion, think_prefilled="false").value == 0.0


def test_prefilled_auto_detects_from_the_completion_alone():
    assert strict("reasoning</think><answer>4</answer>").value == 1.0
    # a completion that opens its own block is checked as it stands
    assert strict(GOOD).value == 1.0


def test_prefilled_true_rejects_a_second_opening_tag():
    score = strict("<think>again</think><answer>1</answer>", think_prefilled="true")
    assert score.value == 0.0 and "<think> appears 2 times" in score.info["problems"]


def test_chat_messages():
    msgs = [{"role": "assistant", "content": GOOD}]
    assert strict(msgs).value == 1.0
    assert strict([{"role": "assistant", "content": "no tags"}]).value == 0.0


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning", "thinking"])
def test_separate_reasoning_field_counts_as_the_think_block(key):
    msgs = [{"role": "assistant", key: "let me think", "content": "<answer>42</answer>"}]
    assert strict(msgs).value == 1.0
    # the content must then be the answer block alone
    bad = [{"role": "assistant", key: "hm", "content": "<think>again</think><answer>42</answer>"}]
    assert strict(bad).value == 0.0
    nested = [{"role": "assistant", key: "hm </think> ha", "content": "<answer>42</answer>"}]
    assert strict(nested).value == 0.0


def test_partial_credit_per_tag_and_full_only_when_strict():
    v = FormatVerifier(mode="partial", think_prefilled="false")
    assert v.score(Sample(GOOD)).value == 1.0
    assert v.score(Sample("<think>a</think>")).value == pytest.approx(0.4)
    assert v.score(Sample(GOOD + " trailing")).value == pytest.approx(0.8)
    assert v.score(Sample("nothing")).value == 0.0
    assert v.score(Sample("<think>a</think><think>b</think><answer>c</answer>")).value == pytest.approx(0.4)


def test_bad_params_raise_naming_them():
    with pytest.raises(ValueError, match="mode"):
        FormatVerifier(mode="loose")
    with pytest.raises(ValueError, match="think_prefilled"):
        FormatVerifier(think_prefilled="maybe")


@pytest.mark.parametrize("completion", [12345, None, [None], [{"role": "assistant", "content": 5}]])
def test_wrong_completion_type_is_an_error_score_not_an_exception(completion):
    verifier = get_verifier("format")
    [score] = verifier.score_batch([Sample(completion)])
    assert score.value is None and score.status is Status.ERROR and "completion" in score.info["error"]
    direct = verifier.score(Sample(completion))  # score() itself never raises either
    assert direct.value is None and direct.status is Status.ERROR


def test_check_format_counts():
    ok, problems, counts = check_format(GOOD)
    assert ok and not problems and set(counts.values()) == {1}


def test_hide_markup_removes_hidden_elements_and_tags_only():
    assert hide_markup('<span style="color:white">12</span> 9') == " 9"
    assert hide_markup('<b>12</b> and <p class="x">13</p>') == "12 and 13"
    # inequalities are no tags: "0<b and b>1" became "01" for the math verifier before
    for text in ("0<b and b>1", "$x<a$ and $b>y$", "0<a \\text{ and } a>1", "x<i and i>1"):
        assert hide_markup(text) == text


def test_hide_markup_reads_comments_and_link_definitions_as_markdown_does():
    assert hide_markup("$%42\n$") == "$\n$" and hide_markup("[//]: # (42)") == ""
    # a percentage is no comment, a line that opens with an interval is prose, and math is no link
    for text in ("$25%$ of it", "costs $5 and 20% off $10", "[0, 1]: it increases", "[0,1](1+x)"):
        assert hide_markup(text) == text
