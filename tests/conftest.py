"""Fixtures shared across test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def word_tokenizer(tmp_path_factory):
    """A word-level transformers tokenizer trained on the fly (nothing downloads), saved to a folder.

    One token per word or run of punctuation, case-sensitive; unknown words are one [UNK] token each.
    Returns (tokenizer, folder).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = ["This is a test", "this is a this is a test", "the answer is 42", "one two three four w"]
    raw = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[EOS]"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", eos_token="[EOS]")
    folder = tmp_path_factory.mktemp("word_tokenizer")
    tokenizer.save_pretrained(folder)
    return tokenizer, folder
