"""Tiny models for the judge tests, built once per session: nothing downloads.

A byte-level BPE tokenizer is trained on the fly on the judge's own prompt text, given a
ChatML template whose turns end with the eos token (<|im_end|>), and pad == eos, the case
that breaks reward models which find the last token by comparing ids with the pad id. On it:
a random Qwen2-style causal LM (the judge) and a random Qwen2 sequence classifier (the reward
model), saved to a temp dir. Built with verifiers.grpo.tiny, as benchmarks/bench_judge.py's.
"""

from __future__ import annotations

import pytest


def _corpus() -> list[str]:
    from verifiers.judge import prompts

    texts = [
        prompts.DEFAULT_SYSTEM,
        prompts.DEFAULT_RUBRIC,
        prompts.DEFAULT_PAIRWISE_RUBRIC,
        "# Question # Reference answer # Rubric # Your task # Response <<<RESPONSE>>> <<<END RESPONSE>>>",
        "[RESULT] 1 [RESULT] 2 [RESULT] 3 [RESULT] 4 [RESULT] 5 [RESULT] A [RESULT] B Yes No",
        "What is the capital of France? Paris is the capital of France. The answer is 42.",
        "Write a short poem about the sea. The sea is wide and blue, it sings to me and you.",
        "<think>Let me think step by step about the problem.</think> The final answer is 7.",
    ]
    return texts * 20


def build_tokenizer(directory) -> object:
    from verifiers.grpo.tiny import bpe_tokenizer

    tok = bpe_tokenizer(_corpus(), vocab_size=700)
    tok.save_pretrained(directory)
    return tok


# The judge tests' sizes (head_dim 8); vLLM's CPU attention needs head_dim 64: VLLM_SIZES.
SIZES = dict(hidden=32, intermediate=64, layers=2, heads=4, kv_heads=2)
VLLM_SIZES = dict(hidden=128, intermediate=256, layers=2, heads=2, kv_heads=1)


def build_models(root, sizes: dict | None = None) -> dict[str, str]:
    from verifiers.grpo.tiny import tiny_qwen2

    tok = build_tokenizer(root / "tokenizer")
    paths = {}
    for seed, (name, classifier) in enumerate((("judge", False), ("reward_model", True))):
        path = root / name
        tiny_qwen2(tok, classifier=classifier, seed=seed, **(sizes or SIZES)).save_pretrained(path)
        tok.save_pretrained(path)
        paths[name] = str(path)
    return paths


SCRIPT = " right [RESULT] 4"  # what the scripted judge says after its turn starts


def build_scripted_judge(directory, tokenizer_dir, sizes: dict | None = None) -> str:
    """A Qwen2 judge with hand-set weights that always answers SCRIPT, then ends its turn.

    Attention and MLP outputs are zeroed, so the residual stream at a position is its token's
    embedding; embeddings and the output layer are set as a next-token table (token a -> token b
    through a dimension of its own). The chain starts at the newline that opens the assistant
    turn and runs through SCRIPT's tokens to <|im_end|>; after a "[RESULT] " pre-fill (the
    tokenizer splits digits from the space, as Qwen2's does) the next token is "4". A real model on
    the real code path (tokenizer, chat template, generate, decoding), whose verdict is known: 4 on
    the 1-5 scale. Any sizes work (attention is zeroed); the hidden size must exceed the chain.
    """
    import torch
    from transformers import AutoTokenizer

    from verifiers.grpo.tiny import tiny_qwen2

    saved = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = tiny_qwen2(saved, **(sizes or SIZES))
    model.config.save_pretrained(directory)
    saved.save_pretrained(directory)
    # Loaded as the backend will load it: next to a qwen2 config, with Qwen2's own digit splitting.
    tok = AutoTokenizer.from_pretrained(directory)
    chain = tok("\n" + SCRIPT, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert len(set(chain)) == len(chain), "the script's tokens must be distinct"
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.zero_()
        model.lm_head.weight.zero_()
        for dim, (src, dst) in enumerate(zip(chain[:-1], chain[1:], strict=True)):
            model.model.embed_tokens.weight[src, dim] = 1.0
            model.lm_head.weight[dst, dim] = 30.0
    model.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """{"judge", "reward_model", "scripted_judge"}: tiny Qwen2 models with a tokenizer trained here."""
    root = tmp_path_factory.mktemp("tiny-judge")
    paths = build_models(root)
    paths["scripted_judge"] = build_scripted_judge(root / "scripted", root / "tokenizer")
    return paths


@pytest.fixture(scope="session")
def vllm_models(tmp_path_factory) -> dict[str, str]:
    """{"judge", "reward_model", "scripted_judge"} at VLLM_SIZES (head_dim 64, which vLLM's CPU
    attention takes), on the same tokenizer as tiny_models."""
    root = tmp_path_factory.mktemp("tiny-judge-vllm")
    paths = build_models(root, VLLM_SIZES)
    paths["scripted_judge"] = build_scripted_judge(root / "scripted", root / "tokenizer", VLLM_SIZES)
    return paths
