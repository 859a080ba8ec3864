import importlib.util
import math

import pytest
import torch

import verifiers.integrations.openrlhf as openrlhf_module
from verifiers.integrations.openrlhf import on_none_policy, prompt_messages, response_of

YAML = """
components:
  accuracy: {verifier: math, weight: 1.0}
  format:   {verifier: format, weight: 0.3}
  language: {verifier: language, weight: 0.2, params: {target: auto}}
"""


def load_like_openrlhf(path: str):
    """What OpenRLHF does with --remote_rm_url path/to/file.py."""
    spec = importlib.util.spec_from_file_location("reward_func", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


@pytest.fixture
def reward_func(tmp_path, monkeypatch):
    cfg = tmp_path / "r1.yaml"
    cfg.write_text(YAML)
    monkeypatch.setenv("VERIFIERS_CONFIG", str(cfg))
    monkeypatch.delenv("VERIFIERS_ON_NONE", raising=False)
    monkeypatch.delenv("VERIFIERS_TASK", raising=False)
    return load_like_openrlhf(openrlhf_module.__file__)


def query_for(tokenizer, user: str, response: str) -> tuple[str, str]:
    """(query, prompt) as OpenRLHF builds them: the templated prompt, then prompt + response tokens
    decoded with special tokens kept (the response ends with the end-of-turn token)."""
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                           add_generation_prompt=True)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids += tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return tokenizer.decode(ids, skip_special_tokens=False), prompt


def call_one(reward_func, tokenizer, user, response, label):
    query, prompt = query_for(tokenizer, user, response)
    assert query.startswith(prompt) and query.endswith("<|im_end|>")
    return reward_func([query], [prompt], [label])


def test_file_loaded_by_path_scores_chat_template_queries(reward_func, bpe_tokenizer):
    # the template pre-fills <think>, so the response starts inside the thinking
    out = call_one(reward_func, bpe_tokenizer, "What is 2 + 3? Answer in <answer> tags.",
                   "two plus three is five </think> <answer>5</answer>", "5")
    assert isinstance(out["rewards"], torch.Tensor) and out["rewards"].shape == (1,)
    assert out["rewards"].item() == pytest.approx(1.5)  # accuracy + format + language, all 1
    assert out["scores"].item() == pytest.approx(1.0)
    assert {k: v.item() for k, v in out["extra_logs"].items()} == {"accuracy": 1.0, "format": 1.0, "language": 1.0}
    wrong = call_one(reward_func, bpe_tokenizer, "What is 2 + 3? Answer in <answer> tags.",
                     "two plus three </think> <answer>6</answer>", "5")
    assert wrong["rewards"].item() == pytest.approx(0.5)
    assert wrong["scores"].item() == pytest.approx(0.5 / 1.5)


def test_none_is_nan_by_default_raise_or_a_chosen_number(reward_func, bpe_tokenizer, monkeypatch):
    out = call_one(reward_func, bpe_tokenizer, "What is 2 + 3?", "x </think> <answer>5</answer>", "")
    assert math.isnan(out["rewards"].item()) and math.isnan(out["scores"].item())  # never a 0
    monkeypatch.setenv("VERIFIERS_ON_NONE", "raise")
    with pytest.raises(RuntimeError, match="reward is None \\(invalid_reference\\)"):
        call_one(reward_func, bpe_tokenizer, "What is 2 + 3?", "x </think> <answer>5</answer>", "")
    monkeypatch.setenv("VERIFIERS_ON_NONE", "-1")
    assert call_one(reward_func, bpe_tokenizer, "q", "x </think> <answer>5</answer>", "")["rewards"].item() == -1.0
    with pytest.raises(ValueError, match="VERIFIERS_ON_NONE must be nan, raise or a number"):
        on_none_policy("zero")


def test_a_component_that_does_not_apply_logs_nan(tmp_path, monkeypatch, bpe_tokenizer):
    cfg = tmp_path / "routed.yaml"
    cfg.write_text(YAML + "routes:\n  math: [accuracy, format]\n  default: [format]\n")
    monkeypatch.setenv("VERIFIERS_CONFIG", str(cfg))
    func = load_like_openrlhf(openrlhf_module.__file__)
    monkeypatch.setenv("VERIFIERS_TASK", "chat")
    out = call_one(func, bpe_tokenizer, "hi", "x </think> <answer>5</answer>", "5")
    logs = {k: v.item() for k, v in out["extra_logs"].items()}
    assert logs["format"] == 1.0 and math.isnan(logs["accuracy"]) and math.isnan(logs["language"])
    assert out["rewards"].item() == pytest.approx(0.3) and out["scores"].item() == pytest.approx(1.0)


def test_missing_config_names_the_variable(monkeypatch):
    monkeypatch.delenv("VERIFIERS_CONFIG", raising=False)
    func = load_like_openrlhf(openrlhf_module.__file__)
    with pytest.raises(RuntimeError, match="set VERIFIERS_CONFIG"):
        func(["q"], ["p"], ["1"])


def test_bad_shapes_are_named(reward_func):
    with pytest.raises(ValueError, match="got 1 queries, 2 prompts"):
        reward_func(["q"], ["p", "p2"], ["1"])
    with pytest.raises(ValueError, match="query 0 must be a string"):
        reward_func([3], ["p"], ["1"])
    # one sample passed bare, not in a list: named, not "got 12 queries, 1 prompts" (its characters)
    with pytest.raises(ValueError, match="queries must be a list with one entry per sample, got a single str"):
        reward_func("<answer>5</answer>", ["p"], ["5"])
    with pytest.raises(ValueError, match="labels must be a list"):
        reward_func(["<answer>5</answer>"], ["p"], "5")


def test_response_and_prompt_of_other_templates():
    prompt = "<\uff5cUser\uff5c>请计算二加三。<\uff5cAssistant\uff5c><think>\n"
    bos, eos = "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>"
    query = bos + prompt + "二加三等于五</think><answer>5</answer>" + eos
    # a BOS put back in front of the decoded prompt
    assert response_of(query, prompt) == "二加三等于五</think><answer>5</answer>"
    # a decoded prompt that differs from the prompt string: cut after the assistant turn, pre-fill once
    assert response_of(query, prompt.replace("。", "。 ")).strip() == "二加三等于五</think><answer>5</answer>"
    assert response_of(query, None) == "<think>\n二加三等于五</think><answer>5</answer>"
    assert response_of("no template at all 5" + eos, None) == "no template at all 5"
    assert prompt_messages(prompt) == [{"role": "user", "content": "请计算二加三。"},
                                       {"role": "assistant", "content": "<think>"}]
    system = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n2+3?<|im_end|>\n"
              "<|im_start|>assistant\n")
    assert prompt_messages(system) == [{"role": "user", "content": "2+3?"}]
    assert response_of(system + "<answer>5</answer><|im_end|>", system) == "<answer>5</answer>"
    assert prompt_messages("plain text prompt") == "plain text prompt"


def test_concurrent_calls_from_worker_threads(reward_func, bpe_tokenizer):
    """OpenRLHF calls reward_func once per sample from worker threads, many at a time."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [(f"two plus three </think> <answer>{5 + i % 2}</answer>", "5") for i in range(32)]
    queries = [query_for(bpe_tokenizer, "What is 2 + 3? Answer in <answer> tags.", r) for r, _ in cases]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda q: reward_func([q[0]], [q[1]], ["5"])["rewards"].item(), queries))
    assert got == [pytest.approx(1.5 if i % 2 == 0 else 0.5) for i in range(32)]
