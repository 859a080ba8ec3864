"""Judge throughput: batched vs one at a time, verdict vs generate, and 16 threads calling per sample
with and without cross-call batching, on one model, in one run.

    python benchmarks/bench_judge.py [--size small|0.5b] [--samples 64] [--prompt-tokens 600]
                                     [--threads 16] [--new-tokens 32] [--device auto]

The model has random weights (throughput does not depend on them) and a byte-level BPE tokenizer
trained here on the benchmark's own text, so nothing downloads. `--size small` is a 4-layer,
256-wide Qwen2 for CPU runs; `--size 0.5b` has Qwen2.5-0.5B's shape (24 layers, 896 wide, 151,936
vocabulary, ~0.5B parameters) for GPU runs. Each sample is a question and a completion sized so
the judge prompt is about --prompt-tokens tokens.

The anchor is what a judge does without batching: one forward pass (or one generate call) per
sample, which is what a per-sample reward call gets unless calls are gathered.
Prints a markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verifiers import Sample, get_verifier  # noqa: E402
from verifiers.judge import prompts  # noqa: E402

WORDS = (
    "the a of to and in is that for it as with was on be by this are from at or an which have not "
    "answer question result value because therefore first then next finally compute check equation "
    "number function model data train reward policy gradient sample group mean variance step proof "
    "river mountain city history language music colour garden winter summer light water energy"
).split()


def build_model(root: Path, size: str) -> tuple[str, int]:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    rng = random.Random(0)
    corpus = [prompts.DEFAULT_SYSTEM, prompts.DEFAULT_RUBRIC] * 50
    corpus += [" ".join(rng.choice(WORDS) for _ in range(200)) for _ in range(200)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=4096,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    if size == "0.5b":
        shape = dict(
            vocab_size=151936,
            hidden_size=896,
            intermediate_size=4864,
            num_hidden_layers=24,
            num_attention_heads=14,
            num_key_value_heads=2,
            tie_word_embeddings=True,
        )
    else:
        shape = dict(
            vocab_size=len(fast),
            hidden_size=256,
            intermediate_size=1024,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            tie_word_embeddings=True,
        )
    config = Qwen2Config(
        **shape, max_position_embeddings=8192, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    path = root / f"judge-{size}"
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return str(path), sum(p.numel() for p in model.parameters())


def make_samples(n: int, prompt_tokens: int, judge) -> list[Sample]:
    """Groups of 8 completions per question (as GRPO scores them), judge prompts of about
    prompt_tokens tokens (0.6x to 1.4x of the completion part)."""
    rng = random.Random(1)
    question = "Explain why the " + " ".join(rng.choice(WORDS) for _ in range(12)) + "?"
    template = len(judge._backend.render(judge._prepare(Sample("x", prompt=question))[0][0]))
    out = []
    for i in range(n):
        if i % 8 == 0:
            question = "Explain why the " + " ".join(rng.choice(WORDS) for _ in range(12)) + "?"
        target = max(10, int((prompt_tokens - template) * rng.uniform(0.6, 1.4)))
        words = [rng.choice(WORDS) for _ in range(target)]
        out.append(Sample(" ".join(words) + ".", prompt=question, reference="the answer"))
    return out


def rate(n: int, fn, repeats: int = 3) -> float:
    """Samples per second, best of `repeats` runs (the machine is shared: the best run is the least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def one_at_a_time(judge, samples):
    for s in samples:
        judge.score(s)


def from_threads(judge, samples, threads):
    chunks = [samples[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads)

    def worker(chunk):
        barrier.wait()
        for s in chunk:
            judge.score(s)  # one sample per call, as verl's naive manager and OpenRLHF's reward_func do

    pool = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=["small", "0.5b"], default="small")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--prompt-tokens", type=int, default=600)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        path, params = build_model(Path(tmp), args.size)
        common = dict(model=path, device=args.device, max_batch_size=64, max_batch_tokens=65536)
        rows = []
        with (
            get_verifier("judge", mode="verdict", **common) as judge,
            get_verifier("judge", mode="verdict", cross_call_batching=False, **common) as solo,
            get_verifier("judge", mode="verdict", share_prefix=False, **common) as unshared,
        ):
            samples = make_samples(args.samples, args.prompt_tokens, judge)
            lengths = [len(judge._backend.render(judge._prepare(s)[0][0])) for s in samples]
            judge.score_batch(samples[:4])  # warm up every instance
            solo.score_batch(samples[:4])
            unshared.score_batch(samples[:4])
            n = len(samples)
            single = rate(n, lambda: one_at_a_time(solo, samples))
            batched = rate(n, lambda: judge.score_batch(samples))
            rows.append(("verdict, one sample per call (anchor)", single, 1.0))
            flat = rate(n, lambda: unshared.score_batch(samples))
            rows.append(("verdict, one batch", batched, batched / single))
            rows.append(("verdict, one batch, no shared-prefix pass", flat, flat / single))
            plain = rate(n, lambda: from_threads(solo, samples, args.threads))
            gathered = rate(n, lambda: from_threads(judge, samples, args.threads))
            rows.append(
                (f"verdict, {args.threads} threads x 1 sample, no cross-call batching", plain, plain / single)
            )
            rows.append(
                (
                    f"verdict, {args.threads} threads x 1 sample, cross-call batching",
                    gathered,
                    gathered / single,
                )
            )
        gen = dict(mode="generate", max_new_tokens=args.new_tokens, retries=0, **common)
        with get_verifier("judge", **gen) as judge:
            few = samples[: max(4, n // 4)]
            judge.score_batch(few[:2])
            gen_single = rate(len(few), lambda: one_at_a_time(judge, few))
            gen_batched = rate(n, lambda: judge.score_batch(samples))
            rows.append(
                (
                    f"generate ({args.new_tokens} new tokens), one sample per call",
                    gen_single,
                    gen_single / single,
                )
            )
            rows.append(
                (f"generate ({args.new_tokens} new tokens), one batch", gen_batched, gen_batched / single)
            )

    device = (
        "cuda: " + torch.cuda.get_device_name()
        if torch.cuda.is_available() and args.device != "cpu"
        else "cpu"
    )
    load = os.getloadavg()
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {device}, "
        f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, Python {platform.python_version()}; "
        f"load average {load[0]:.1f} / {load[1]:.1f} at the end of the run."
    )
    print(
        f"Model: random Qwen2 ({args.size}, {params / 1e6:.1f}M parameters, float32 on CPU / bfloat16 on GPU); "
        f"{n} samples, judge prompts of {min(lengths)}-{max(lengths)} tokens (mean {sum(lengths) / n:.0f}).\n"
    )
    print("| run | samples/s | vs one per call |")
    print("|---|---|---|")
    for name, value, ratio in rows:
        print(f"| {name} | {value:,.1f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
