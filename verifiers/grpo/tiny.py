"""Tiny language models built from scratch, for smoke tests, benchmarks and examples/mini_r1.py.

    tok = char_tokenizer(corpus)                  # a character-level tokenizer trained on the corpus
    model = tiny_llama(tok, hidden=64, layers=2)  # a randomly initialised Llama-architecture causal LM

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
