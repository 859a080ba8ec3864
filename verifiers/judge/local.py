"""The local transformers backend: a causal-LM judge and a sequence-classification reward model.

One model per process: verifiers built with the same model and options share one loaded
model and one Batcher (`open_local`, through shared.py), so two YAML components judging with the same model
(helpfulness on the summary, harmlessness on the whole response) batch together.

Batching: requests are tokenised on their callers' threads, then the batch worker sorts them
by length and cuts buckets that fit a token budget (`max_batch_tokens`, padded tokens
counted) and `max_batch_size`. Scores are read at each row's last real token, located from
the attention mask we built (never by comparing ids with the pad id, which breaks when
pad == eos), with position ids counted from the mask, so a row's score does not depend on
the batch it landed in or on the padding side. Generation prefills the same way and decodes
on that cache in its own loop (`TransformersJudge.generate_ids`), positions counted alike.
torch and transformers are imported here only, when a local backend is built.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from verifiers.judge.batcher import Batcher
from verifiers.judge.front import JudgeCalls, RewardModelCalls
from verifiers.judge.shared import open_shared, shared_key
from verifiers.judge.tokens import (
    PromptTokens,
    check_chat_template,
    load_tokenizer,
    model_not_found,
    model_source,
    quiet_hub,
)

PADDING_SIDES = ("left", "right")
MIN_SHARED_PREFIX = 16  # tokens; a shorter common prefix is not worth a second forward call
CPU_CHUNK_TOKENS = 1024  # padded tokens per forward call on a CPU (measured: 1024 beat 2048, 4096, all)
DTYPES = ("auto", "float32", "bfloat16", "float16")


def plan_batches(
    lengths: Sequence[int], max_tokens: int, max_size: int, order: Sequence[int] | None = None
) -> list[list[int]]:
    """Indices grouped into batches, each within max_size rows and, padded to its longest row,
    within max_tokens (a row longer than the budget alone is a batch of its own). Rows are taken
    longest first, or in `order` (e.g. sorted by content so that a group's rows share batches)."""
    if order is None:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        if current and (
            len(current) >= max_size or (len(current) + 1) * max(longest, lengths[i]) > max_tokens
        ):
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, lengths[i])
    if current:
        batches.append(current)
    return batches


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """The number of leading tokens all rows share."""
    first = rows[0]
    n = min(len(r) for r in rows)
    for row in rows[1:]:
        i = 0
        while i < n and row[i] == first[i]:
            i += 1
        n = i
    return n


def shared_prefixes(rows: Sequence[Sequence[int]]) -> tuple[int, list[int], list[int]]:
    """How a batch shares its prefixes: (common, cluster of each row, extra tokens per cluster).

    `common` tokens begin every row; rows whose next tokens agree for at least MIN_SHARED_PREFIX
    more form a cluster (a group: same question and reference) sharing `extra[cluster]` tokens
    after the common ones. Every row keeps at least one token of its own. (0, [], []) when
    nothing is worth a pass of its own (a short common prefix and no groups).
    """
    if len(rows) < 2:
        return 0, [], []
    common = min(common_prefix(rows), min(len(r) for r in rows) - 1)
    if common < 1:  # the group stage needs a first token all rows attend to
        return 0, [], []
    order = sorted(range(len(rows)), key=lambda i: rows[i][common:])  # a group's rows end up adjacent
    cluster = [0] * len(rows)
    members: list[list[int]] = []
    for i in order:
        if members and common_prefix([rows[members[-1][0]][common:], rows[i][common:]]) >= MIN_SHARED_PREFIX:
            members[-1].append(i)
        else:
            members.append([i])
        cluster[i] = len(members) - 1
    extra = []
    for group in members:
        rest = [rows[i][common:] for i in group]
        n = min(common_prefix(rest), min(len(r) for r in rest) - 1) if len(group) > 1 else 0
        extra.append(n if n >= MIN_SHARED_PREFIX else 0)
    if common < MIN_SHARED_PREFIX and not any(extra):
        return 0, [], []
    return common, cluster, extra


def suffix_chunks(
    lengths: Sequence[int], waste: float = 0.25, max_tokens: int | None = None
) -> list[list[int]]:
    """Rows cut into chunks, longest first, so that padding each chunk to its longest row adds at
    most `waste` of its real tokens, and a chunk holds at most `max_tokens` padded tokens (one row
    at least): the rows' own parts run chunk by chunk on the shared cache."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    chunks: list[list[int]] = []
    real = 0
    for i in order:
        padded = (len(chunks[-1]) + 1) * lengths[chunks[-1][0]] if chunks else 0
        if (
            chunks
            and padded <= (1 + waste) * (real + lengths[i])
            and (max_tokens is None or padded <= max_tokens)
        ):
            chunks[-1].append(i)
            real += lengths[i]
        else:
            chunks.append([i])
            real = lengths[i]
    return chunks


@dataclass
class Prefill:
    """One chunk of rows after the prompt pass (`LocalModel.prefill`).

    rows: the chunk's row indices; hidden: the final hidden state at each row's last real token
    [rows, hidden]; cache: the key/value cache over the chunk's tokens (None unless asked for);
    mask: the attention mask over those cached tokens (0 at padding, which may sit mid-row);
    lengths: each row's real tokens, i.e. the position of its next token.
    """

    rows: list[int]
    hidden: Any
    cache: Any
    mask: Any
    lengths: Any


def _cache_of(output: Any) -> Any:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


class LocalModel:
    """A tokenizer and model on one device, behind one Batcher. Subclasses add the work."""

    kind = ""

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        max_batch_tokens: int = 16384,
        max_batch_size: int = 64,
        max_length: int | None = None,
        padding_side: str = "left",
        chat_template: bool | str = "auto",
        cross_call_batching: bool = True,
        batch_wait_ms: float = 5.0,
        share_prefix: bool = True,
        download: bool = False,
        trust_remote_code: bool = False,
    ) -> None:
        if padding_side not in PADDING_SIDES:
            raise ValueError(f"padding_side must be one of {PADDING_SIDES}, got {padding_side!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        for name, value in (("max_batch_tokens", max_batch_tokens), ("max_batch_size", max_batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        check_chat_template(chat_template)
        if not isinstance(batch_wait_ms, (int, float)) or not 0 <= batch_wait_ms <= 1000:
            raise ValueError(f"batch_wait_ms must be between 0 and 1000, got {batch_wait_ms!r}")
        import torch

        self.torch = torch
        self.device = torch.device(_pick_device(device))
        self.dtype = _pick_dtype(dtype, self.device, torch)
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size
        self.padding_side = padding_side
        self.share_prefix = bool(share_prefix)
        # On a CPU a forward pass over more than a few thousand tokens spills the caches and runs
        # slower per token; a GPU wants the whole batch at once.
        self.chunk_tokens: int | None = CPU_CHUNK_TOKENS if self.device.type == "cpu" else None
        self.tokenizer, self.model = self._load(model, download, trust_remote_code)
        self.prompts = PromptTokens(self.tokenizer, chat_template=chat_template, model=model)
        self._tokenizer_lock = self.prompts.lock  # the tokenizer's one lock, whoever calls it
        self.model.to(self.device).eval()
        self.full_attention = full_attention(self.model.config)
        backbone = getattr(self.model, self.model.base_model_prefix)
        names = inspect.signature(backbone.forward).parameters
        self._cache_kw = "cache" if "cache" in names else "past_key_values"  # renamed in transformers 5
        self.pad_id = self.prompts.pad_id
        self.max_length = max_length or _model_max_length(self.tokenizer, self.model.config)
        self.batcher = Batcher(
            self._run_batch,
            gather=cross_call_batching,
            max_wait_s=batch_wait_ms / 1000,
            max_items=max_batch_size * 4,
            name=f"judge-{self.kind}",
        )

    # ------------------------------------------------------------ loading

    def _load(self, model: str, download: bool, trust_remote_code: bool) -> tuple[Any, Any]:
        import transformers

        tokenizer = load_tokenizer(model, download=download, trust_remote_code=trust_remote_code)
        model_class = getattr(transformers, self.model_class)
        try:
            with quiet_hub():
                loaded = model_class.from_pretrained(
                    model_source(model),
                    dtype=self.dtype,
                    local_files_only=not download,
                    trust_remote_code=trust_remote_code,
                )
        except OSError as exc:
            raise model_not_found(model, exc) from None
        return tokenizer, loaded

    model_class = ""

    # ------------------------------------------------------------ tensors

    def too_long(self, ids: Sequence[int]) -> Exception | None:
        if self.max_length and len(ids) > self.max_length:
            return ValueError(f"the judge input is {len(ids)} tokens, over max_length {self.max_length}")
        return None

    def pad(self, rows: Sequence[Sequence[int]], side: str) -> tuple[Any, Any, Any]:
        """input_ids, attention_mask and position_ids (counted over real tokens only) on the device."""
        torch = self.torch
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            span = slice(width - len(row), width) if side == "left" else slice(0, len(row))
            ids[i, span] = torch.tensor(row, dtype=torch.long)
            mask[i, span] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids.to(self.device), mask.to(self.device), positions.to(self.device)

    def plan(self, rows: Sequence[Sequence[int]], *, new_tokens: int = 0, copies: int = 1) -> list[list[int]]:
        """Batches for a forward pass: longest first; sharing prefixes, group by group (rows with
        the same question side by side, longest first) so that a group lands in one batch. For
        generation, a row costs (its tokens + new_tokens) x copies of the budgets."""
        lengths = [(len(r) + new_tokens) * copies for r in rows]
        order = None
        if self.share_prefix:
            _, cluster, _ = shared_prefixes(rows)
            if cluster:  # a group's rows side by side, longest first within the group
                order = sorted(range(len(rows)), key=lambda i: (cluster[i], -lengths[i]))
        return plan_batches(lengths, self.max_batch_tokens, max(1, self.max_batch_size // copies), order)

    def last_hidden(self, rows: Sequence[Sequence[int]]) -> Any:
        """The final hidden state at each row's last real token: [rows, hidden] (see `prefill`)."""
        hidden: Any = None
        for part in self.prefill(rows):
            if hidden is None:
                hidden = part.hidden.new_empty((len(rows), part.hidden.shape[-1]))
            hidden[self.torch.tensor(part.rows, dtype=self.torch.long, device=self.device)] = part.hidden
        return hidden

    def prefill(self, rows: Sequence[Sequence[int]], *, keep_cache: bool = False) -> Iterator[Prefill]:
        """The prompt pass over `rows`, chunk by chunk: each chunk's final hidden states at its rows'
        last real token and, with keep_cache, the key/value cache to decode on.

        With share_prefix, shared prefixes run once (`shared_prefixes`): the prefix every row
        starts with (system prompt, rubric, instructions), then each group's own prefix (the
        question and reference the G completions of a group share), and their key/value caches
        serve the rows' own suffixes, in chunks of similar length (`suffix_chunks`). Positions are
        counted over real tokens at every stage, so the result equals one padded pass over the
        whole rows, whatever the padding side.

        A model with sliding-window (or other non-full) attention layers counts its window in cache
        columns, not positions, so padding inside a row's cached tokens would shift it: there
        nothing is shared, and a cache to decode on comes from one left-padded pass over all rows
        (the layout of Hugging Face `generate`).
        """
        torch = self.torch
        backbone = getattr(self.model, self.model.base_model_prefix)
        share = self.share_prefix and self.full_attention
        common, cluster, extra = shared_prefixes(rows) if share else (0, [], [])
        cache: Any = None
        seen = torch.ones((1, common), dtype=torch.long, device=self.device)  # attention mask so far
        grouped = any(extra)
        if common:
            prefix = torch.tensor([list(rows[0][:common])], dtype=torch.long, device=self.device)
            cache = _cache_of(backbone(input_ids=prefix, use_cache=True))
        if grouped:  # each group's own prefix, one row per group
            groups = max(cluster) + 1
            firsts = [rows[cluster.index(g)] for g in range(groups)]
            ids, mask, positions = self.pad(
                [r[common : common + extra[g]] for g, r in enumerate(firsts)], "right"
            )
            cache.batch_repeat_interleave(groups)
            seen = torch.cat([seen.expand(groups, -1), mask], dim=1)
            out = backbone(
                input_ids=ids,
                attention_mask=seen,
                position_ids=positions + common,
                use_cache=True,
                **{self._cache_kw: cache},
            )
            cache = _cache_of(out)
        starts = [common + extra[c] for c in cluster] if common else [0] * len(rows)
        side = self.padding_side
        if keep_cache and not self.full_attention:
            chunks, side = [list(range(len(rows)))], "left"
        else:
            chunks = suffix_chunks(
                [len(r) - start for r, start in zip(rows, starts, strict=True)], max_tokens=self.chunk_tokens
            )
        for chunk in chunks:
            ids, own, positions = self.pad([rows[i][starts[i] :] for i in chunk], side)
            mask = own
            offsets = torch.tensor([starts[i] for i in chunk], dtype=torch.long, device=self.device)
            options: dict[str, Any] = {"use_cache": keep_cache}
            if cache is not None:
                groups_of = torch.tensor(
                    [cluster[i] if grouped else 0 for i in chunk], dtype=torch.long, device=self.device
                )
                mask = torch.cat([seen[groups_of], mask], dim=1)
                options = {"use_cache": True, self._cache_kw: cache_rows(cache, groups_of)}
            out = backbone(
                input_ids=ids, attention_mask=mask, position_ids=positions + offsets.unsqueeze(1), **options
            )
            last = own.shape[1] - 1 - own.flip(-1).argmax(-1)  # the last column where own == 1
            yield Prefill(
                rows=chunk,
                hidden=out.last_hidden_state[torch.arange(len(chunk), device=self.device), last],
                cache=_cache_of(out) if keep_cache else None,
                mask=mask,
                lengths=torch.tensor([len(rows[i]) for i in chunk], dtype=torch.long, device=self.device),
            )

    def _run_batch(self, key: Hashable, items: list[Any]) -> list[Any]:
        raise NotImplementedError

    def close(self) -> None:
        self.batcher.close()
        self.model = None
        if self.device.type == "cuda":
            self.torch.cuda.empty_cache()


class TransformersJudge(LocalModel, JudgeCalls):
    """A causal LM as judge: next-token probabilities of the verdict labels, or generated critiques."""

    kind = "judge"
    model_class = "AutoModelForCausalLM"

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model, **options)
        self.eos_ids = self.prompts.end_ids(getattr(self.model.generation_config, "eos_token_id", None))


    def _run_batch(self, key: Hashable, items: list[Any]) -> list[Any]:
        assert isinstance(key, tuple)
        if key[0] == "verdict":
            return self._verdict(key[1], items)
        return self._generate(items, *key[1:])

    def logits(self, hidden: Any) -> Any:
        """The output head's float32 logits for final hidden states [rows, hidden] (softcapped where
        the model's config says so)."""
        logits = self.model.get_output_embeddings()(hidden).float()
        softcap = getattr(self.model.config, "final_logit_softcapping", None)
        return self.torch.tanh(logits / softcap) * softcap if softcap else logits

    def _verdict(self, label_ids: tuple[tuple[int, ...], ...], rows: list[list[int]]) -> list[list[float]]:
        torch = self.torch
        out: list[Any] = [None] * len(rows)
        for batch in self.plan(rows):
            with torch.inference_mode():
                logp = self.logits(self.last_hidden([rows[i] for i in batch])).log_softmax(-1)
                per_label = torch.stack([torch.logsumexp(logp[:, list(t)], -1) for t in label_ids], -1)
            for i, values in zip(batch, per_label.cpu().tolist(), strict=True):
                out[i] = values
        return out

    def _generate(
        self, rows: list[list[int]], n: int, temperature: float, max_new_tokens: int
    ) -> list[list[str]]:
        generated = self.generate_ids(rows, n=n, temperature=temperature, max_new_tokens=max_new_tokens)
        return [self.prompts.decode(samples) for samples in generated]

    def generate_ids(
        self, rows: Sequence[Sequence[int]], *, n: int, temperature: float, max_new_tokens: int
    ) -> list[list[list[int]]]:
        """Per row, n continuations as token ids: greedy when temperature == 0, else sampled at that
        temperature (no top-p / top-k); each stops after one of `eos_ids` (kept, as `generate`
        keeps it) or at max_new_tokens.

        The prompts run through `prefill` (shared prefixes once per batch); the n samples of a row
        share its prompt's cache. Then one decode loop over the whole batch: each step feeds every
        unfinished row its last token at its own position (counted over real tokens) with the
        attention mask covering every padding column, and a row that stops leaves the batch.
        Batches are planned by the token budget counting prompt, new tokens and samples.
        """
        torch = self.torch
        backbone = getattr(self.model, self.model.base_model_prefix)
        eos = torch.tensor(self.eos_ids, dtype=torch.long, device=self.device)
        out: list[list[list[int]]] = [[[] for _ in range(n)] for _ in rows]
        for batch in self.plan(rows, new_tokens=max_new_tokens, copies=n):
            with torch.inference_mode():
                parts = list(self.prefill([rows[i] for i in batch], keep_cache=True))
                who = [(batch[i], j) for part in parts for i in part.rows for j in range(n)]
                cache, mask, lengths, hidden = merge_prefills(parts, self.torch)
                del parts  # the chunks' own caches are copied into the merged one: free them now
                if n > 1:  # the samples of a row continue the same prompt: copy its cache, not its pass
                    cache.batch_repeat_interleave(n)
                    mask, lengths, hidden = (x.repeat_interleave(n, dim=0) for x in (mask, lengths, hidden))
                alive = list(range(len(who)))
                logits = self.logits(hidden)
                for step in range(max_new_tokens):
                    if temperature > 0:
                        probs = (logits / temperature).softmax(-1)
                        tokens = torch.multinomial(probs, 1).squeeze(1)
                    else:
                        tokens = logits.argmax(-1)
                    for k, token in zip(alive, tokens.tolist(), strict=True):
                        row, sample = who[k]
                        out[row][sample].append(token)
                    if step == max_new_tokens - 1:
                        break
                    going = ~torch.isin(tokens, eos)
                    if not bool(going.all()):  # finished rows leave the batch
                        keep = going.nonzero().squeeze(1)
                        if keep.numel() == 0:
                            break
                        cache.batch_select_indices(keep)
                        mask, lengths, tokens = mask[keep], lengths[keep], tokens[keep]
                        alive = [alive[k] for k in keep.tolist()]
                    mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
                    state = backbone(
                        input_ids=tokens.unsqueeze(1),
                        attention_mask=mask,
                        position_ids=lengths.unsqueeze(1),
                        use_cache=True,
                        **{self._cache_kw: cache},
                    )
                    cache = _cache_of(state)
                    lengths = lengths + 1
                    logits = self.logits(state.last_hidden_state[:, -1])
        return out


def cache_rows(cache: Any, index: Any) -> Any:
    """A new key/value cache holding rows `index` of `cache` (which stays as it was)."""
    from transformers import DynamicCache

    return DynamicCache([(kv[0][index], kv[1][index]) for kv in cache])


def merge_prefills(parts: Sequence[Prefill], torch: Any) -> tuple[Any, Any, Any, Any]:
    """One batch (cache, mask, lengths, hidden) from prefilled chunks, their rows in chunk order.

    Chunks cache different numbers of tokens: each chunk's keys and values are padded at the end to
    the longest, with mask 0 there, so decoding goes on after the padding (positions come from
    `lengths`, not from the column)."""
    if len(parts) == 1:
        part = parts[0]
        return part.cache, part.mask, part.lengths, part.hidden
    from transformers import DynamicCache

    pad = torch.nn.functional.pad
    width = max(p.mask.shape[1] for p in parts)
    layers = []
    for per_part in zip(*(list(p.cache) for p in parts), strict=True):  # one layer's (keys, values, ...)
        keys = torch.cat([pad(kv[0], (0, 0, 0, width - kv[0].shape[-2])) for kv in per_part])
        values = torch.cat([pad(kv[1], (0, 0, 0, width - kv[1].shape[-2])) for kv in per_part])
        layers.append((keys, values))
    mask = torch.cat([pad(p.mask, (0, width - p.mask.shape[1])) for p in parts])
    return (
        DynamicCache(layers),
        mask,
        torch.cat([p.lengths for p in parts]),
        torch.cat([p.hidden for p in parts]),
    )


class TransformersRewardModel(LocalModel, RewardModelCalls):
    """An AutoModelForSequenceClassification reward model, read at the last real token."""

    kind = "reward_model"
    model_class = "AutoModelForSequenceClassification"

    @property
    def num_labels(self) -> int:
        return self.model.config.num_labels

    def _run_batch(self, key: Hashable, rows: list[Any]) -> list[Any]:
        torch = self.torch
        head = getattr(self.model, "score", None)  # decoder-style classifiers (Llama, Qwen2, Mistral, ...)
        out: list[Any] = [None] * len(rows)
        for batch in self.plan(rows):
            if head is not None:
                with torch.inference_mode():
                    values = head(self.last_hidden([rows[i] for i in batch])).float()
            else:  # encoder classifiers pool the first token themselves; padding on the right
                ids, mask, _ = self.pad([rows[i] for i in batch], "right")
                with torch.inference_mode():
                    values = self.model(input_ids=ids, attention_mask=mask).logits.float()
            for i, row in zip(batch, values.cpu().tolist(), strict=True):
                out[i] = row
        return out


# ---------------------------------------------------------------- sharing

_KINDS = {"judge": TransformersJudge, "reward_model": TransformersRewardModel}


def open_local(kind: str, model: str, **options: Any) -> LocalModel:
    """The process's shared model for (kind, model, options), loaded on first use.

    Release each one obtained with `release_shared`. Raises ValueError / TypeError for bad options.
    """
    cls = _KINDS[kind]
    return open_shared(shared_key("transformers", kind, model, options), lambda: cls(model, **options))


def full_attention(config: Any) -> bool:
    """Whether every attention layer of the model sees the whole sequence (no sliding window, no
    linear or recurrent layers): only then may padding sit inside a row's cached tokens."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    layer_types = getattr(text, "layer_types", None)
    if layer_types:
        return all(t == "full_attention" for t in layer_types)
    return getattr(text, "sliding_window", None) is None


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _pick_dtype(dtype: str, device: Any, torch: Any) -> Any:
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, dtype)


def _model_max_length(tokenizer: Any, config: Any) -> int | None:
    limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    usable = [int(x) for x in limits if isinstance(x, (int, float)) and 0 < x < 10**7 and not math.isinf(x)]
    return min(usable) if usable else None
