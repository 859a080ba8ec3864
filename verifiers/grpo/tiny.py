"""Tiny language models built from scratch, for smoke tests, benchmarks and examples/mini_r1.py.

    tok = char_tokenizer(corpus)                  # a character-level tokenizer trained on the corpus
    model = tiny_llama(tok, hidden=64, layers=2)  # a randomly initialised Llama-architecture causal LM
    tok = bpe_tokenizer(corpus)                   # byte-level BPE with ChatML specials and template
    judge = tiny_qwen2(tok, hidden=128, heads=2)  # a random Qwen2 causal LM (classifier=True: a reward model)

Nothing downloads. The R1 tags <think>, </think>, <answer>, </answer> are single tokens; `<eos>` ends
a completion and `<pad>` pads (its own token, so a left-padded prompt never looks finished).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

R1_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def char_tokenizer(corpus: Iterable[str], *, extra_tokens: Iterable[str] = R1_TAGS) -> Any:
    """A PreTrainedTokenizerFast with one token per character seen in `corpus`, plus `extra_tokens`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    extra = list(extra_tokens)
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), "isolated")
    tok.decoder = decoders.Fuse()
    texts = list(corpus)
    for tag in extra:  # the tags are tokens of their own, not runs of characters
        texts = [t.replace(tag, " ") for t in texts]
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["<pad>", "<eos>", "<unk>"]))
    tok.add_tokens(extra)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    fast.padding_side = "left"
    return fast


def tiny_llama(tokenizer: Any, *, hidden: int = 64, layers: int = 2, heads: int = 4, max_positions: int = 256,
               seed: int = 0) -> Any:
    """A randomly initialised LlamaForCausalLM sized for a CPU (about 12 * hidden^2 * layers parameters)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 4, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


# A ChatML template whose turns end with <|im_end|>; the assistant turn opens after a newline.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>"
    "{% if not loop.last %}\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}\n<|im_start|>assistant\n{% endif %}"
)
QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def bpe_tokenizer(
    corpus: Iterable[str],
    *,
    vocab_size: int = 700,
    specials: Iterable[str] = QWEN_SPECIALS,
    eos: str = "<|im_end|>",
    pad: str = "<|im_end|>",
    chat_template: str = CHATML,
) -> Any:
    """A byte-level BPE PreTrainedTokenizerFast (as Qwen2's and Llama 3's) trained on `corpus`,
    with `specials` as its first ids and a chat template. pad == eos by default, the case that
    breaks code which finds a row's last token by comparing ids with the pad id."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(corpus), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token=pad)
    fast.chat_template = chat_template
    return fast


def tiny_qwen2(
    tokenizer: Any,
    *,
    classifier: bool = False,
    hidden: int = 32,
    intermediate: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    vocab_size: int | None = None,
    max_positions: int = 4096,
    tie_word_embeddings: bool = False,
    seed: int = 0,
) -> Any:
    """A randomly initialised Qwen2ForCausalLM, or with classifier=True a one-output
    Qwen2ForSequenceClassification (a scalar reward model). head_dim is hidden / heads (vLLM's
    CPU attention wants 64 or more); the vocabulary is the tokenizer's unless `vocab_size` says."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2ForSequenceClassification

    config = Qwen2Config(
        vocab_size=vocab_size or len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=tie_word_embeddings,
        **({"num_labels": 1} if classifier else {}),
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return (Qwen2ForSequenceClassification if classifier else Qwen2ForCausalLM)(config).eval()
