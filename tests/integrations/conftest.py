"""A tiny Qwen2-style causal LM and a word-level tokenizer trained on the fly: nothing downloads."""

from __future__ import annotations

import pytest

WORDS = (
    "<think> </think> <answer> </answer> 0 1 2 3 4 5 6 7 8 9 + - = the answer is so we add what "
    "two plus three four five six seven"
).split()
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant {% endif %}"
)


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    specials = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    corpus = [" ".join(WORDS)] * 3 + ["user assistant system"]
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=specials, min_frequency=1))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="<|im_end|>", bos_token=None
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
    )
    return Qwen2ForCausalLM(config)


@pytest.fixture
def tiny_lm():
    tokenizer = build_tokenizer()
    return build_model(tokenizer), tokenizer


QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
)


def build_bpe_tokenizer():
    """A byte-level BPE tokenizer (as Qwen's) trained on the fly, with a ChatML template that pre-fills
    <think>: decoding prompt + response tokens gives the text back exactly, special tokens included."""
    from verifiers.grpo.tiny import bpe_tokenizer

    corpus = [
        "What is 2 + 3? Answer in <answer> tags. <think> two plus three is five </think> <answer>5</answer>",
        "请计算二加三。先思考，然后回答。 The answer is \\frac{1}{2} and \\boxed{5}.",
    ] * 20
    return bpe_tokenizer(corpus, vocab_size=400, pad="<|endoftext|>", chat_template=QWEN_TEMPLATE)


@pytest.fixture(scope="session")
def bpe_tokenizer():
    return build_bpe_tokenizer()
