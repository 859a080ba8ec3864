"""Tiny models for the judge tests, built once per session: nothing downloads.

A byte-level BPE tokenizer is trained on the fly on the judge's own prompt text, given a
ChatML template whose turns end with the eos token (<|im_end|>), and pad == eos, the case
that breaks reward models which find the last token by comparing ids with the pad id. On it:
a random Qwen2-style causal LM (the judge) and a random Qwen2 sequence classifier (the reward
model), saved to a temp dir.
"""

from __future__ import annotations

import pytest

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>"
    "{% if not loop.last %}\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}\n<|im_start|>assistant\n{% endif %}"
)


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
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|im_end|>")
    fast.chat_template = CHATML
    fast.save_pretrained(directory)
    return fast


def build_models(root) -> dict[str, str]:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2ForSequenceClassification

    tok = build_tokenizer(root / "tokenizer")
    config = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    paths = {}
    for name, cls, extra in (
        ("judge", Qwen2ForCausalLM, {}),
        ("reward_model", Qwen2ForSequenceClassification, {"num_labels": 1}),
    ):
        model = cls(Qwen2Config(**config, **extra)).eval()
        path = root / name
        model.save_pretrained(path)
        tok.save_pretrained(path)
        paths[name] = str(path)
    return paths


SCRIPT = " right [RESULT] 4"  # what the scripted judge says after its turn starts


def build_scripted_judge(directory, tokenizer_dir) -> str:
    """A Qwen2 judge with hand-set weights that always answers SCRIPT, then ends its turn.

    Attention and MLP outputs are zeroed, so the residual stream at a position is its token's
    embedding; embeddings and the output layer are set as a next-token table (token a -> token b
    through a dimension of its own). The chain starts at the newline that opens the assistant
    turn and runs through SCRIPT's tokens to <|im_end|>; after a "[RESULT] " pre-fill (the
    tokenizer splits digits from the space, as Qwen2's does) the next token is "4". A real model on the real code path (tokenizer, chat template, generate,
    decoding), whose verdict is known: 4 on the 1-5 scale.
    """
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    hidden = 32
    saved = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = Qwen2Config(
        vocab_size=len(saved),
        hidden_size=hidden,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=saved.eos_token_id,
        pad_token_id=saved.pad_token_id,
        tie_word_embeddings=False,
    )
    config.save_pretrained(directory)
    saved.save_pretrained(directory)
    tok = AutoTokenizer.from_pretrained(directory)  # as the backend will load it (Qwen2's own splitting)
    chain = tok("\n" + SCRIPT, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert len(set(chain)) == len(chain), "the script's tokens must be distinct"
    model = Qwen2ForCausalLM(config).eval()
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
