"""Judge and reward-model inputs as token ids, rendered with the model's own tokenizer.

Every backend that feeds a model token ids (transformers, vLLM's offline engine) renders here,
so both build the same ids for the same request: the model's chat template (or plain
paragraphs when it has none), the model's own special tokens broken up inside message text
(`inert`), the verdict pre-fill after the opened assistant turn, and the single tokens that
spell each verdict label after it. Needs transformers and the tokenizer files only, never the
model's weights; transformers is imported when a tokenizer is loaded.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from verifiers.core import END_TOKENS
from verifiers.judge.prompts import JudgeRequest

CHAT_TEMPLATE_CHOICES = ("auto", True, False)


def check_chat_template(value: Any) -> None:
    """Raise ValueError unless `value` is a valid chat_template option (auto, true, false)."""
    if value not in CHAT_TEMPLATE_CHOICES:
        raise ValueError(f"chat_template must be auto, true or false, got {value!r}")


def model_source(model: str) -> str:
    """What to hand from_pretrained: the resolved local directory, else the hub name as given."""
    local = Path(model).expanduser()
    return str(local) if local.is_dir() else model


def model_not_found(model: str, exc: BaseException) -> ValueError:
    """The error for a model that is neither a model directory nor in the Hugging Face cache."""
    path = Path(model).expanduser()
    if path.exists():
        return ValueError(f"cannot load model {model!r}: it is not a model directory ({exc})")
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:  # a path, not a hub name
        return ValueError(f"cannot load model {model!r}: no such directory")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ValueError(
        f"cannot load model {model!r}: it is not a local directory and not in the Hugging Face cache "
        f"(nothing is downloaded unless download=true; {first})"
    )


@contextlib.contextmanager
def quiet_hub() -> Iterator[None]:
    """transformers' progress bars off while loading (library code does not print)."""
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bar:
            hf_logging.enable_progress_bar()


def load_tokenizer(model: str, *, download: bool = False, trust_remote_code: bool = False) -> Any:
    """The model's tokenizer (AutoTokenizer) from a local directory or the cache; ValueError when missing."""
    import transformers

    try:
        with quiet_hub():
            return transformers.AutoTokenizer.from_pretrained(
                model_source(model), local_files_only=not download, trust_remote_code=trust_remote_code
            )
    except (OSError, ValueError) as exc:  # transformers 5 raises ValueError for a folder with no tokenizer
        raise model_not_found(model, exc) from None


class PromptTokens:
    """One tokenizer's rendering of judge requests and reward-model conversations into token ids.

    Safe to share between threads: calls into the tokenizer take turns (a fast tokenizer resets
    its truncation state on a call and raises "Already borrowed" when two threads do it at once).
    """

    def __init__(self, tokenizer: Any, *, chat_template: bool | str = "auto", model: str = "") -> None:
        check_chat_template(chat_template)
        self.tokenizer = tokenizer
        self.lock = threading.Lock()
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if chat_template is True and not has_template:
            raise ValueError(f"chat_template=true but the tokenizer of {model!r} has no chat template")
        self.use_chat_template = has_template if chat_template == "auto" else bool(chat_template)
        self.pad_id: int = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
        )
        self._specials: Any = None
        self._label_ids: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[tuple[int, ...], ...]]] = {}

    def inert(self, text: str) -> str:
        """`text` with this tokenizer's own special tokens broken up (a word joiner after the first
        character), so that message text never becomes a control token, whatever the template."""
        if self._specials is None:
            tok = self.tokenizer
            names = {t for t in [*tok.all_special_tokens, *tok.get_added_vocab()] if len(t) > 1}
            self._specials = (
                re.compile("|".join(map(re.escape, sorted(names, key=len, reverse=True)))) if names else False
            )
        if not self._specials:
            return text
        return self._specials.sub(lambda m: m.group(0)[0] + "\u2060" + m.group(0)[1:], text)

    def encode(self, text: str, *, special: bool) -> list[int]:
        with self.lock:
            return self.tokenizer(text, add_special_tokens=special)["input_ids"]

    def decode(self, rows: Sequence[Sequence[int]]) -> list[str]:
        """Generated ids as text, special tokens dropped."""
        with self.lock:
            return self.tokenizer.batch_decode([list(r) for r in rows], skip_special_tokens=True)

    def judge_ids(self, request: JudgeRequest) -> list[int]:
        """The request's messages through the chat template, the assistant turn opened and pre-filled."""
        messages = [{**m, "content": self.inert(m["content"])} for m in request.messages]
        if self.use_chat_template:
            try:
                text = self.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            except Exception:  # some templates refuse a system turn: fold it into the user turn
                merged = [{"role": "user", "content": "\n\n".join(m["content"] for m in messages)}]
                text = self.tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
            return self.encode(text + request.prefill, special=False)
        text = "\n\n".join(m["content"] for m in messages) + "\n\n" + request.prefill
        return self.encode(text, special=True)

    def verdict_ids(
        self, requests: Sequence[JudgeRequest], labels: tuple[str, ...]
    ) -> list[tuple[tuple[tuple[int, ...], ...], list[int]]]:
        """Per request, (each label's tokens, the prompt's ids ending with the pre-fill that puts
        the labels next): what verdict mode reads (`label_ids`, `judge_ids`)."""
        out = []
        for request in requests:
            prefill, label_ids = self.label_ids(request.prefill, labels)
            out.append((label_ids, self.judge_ids(JudgeRequest(request.messages, prefill))))
        return out

    def conversation_ids(self, prompt: list[dict[str, str]], completion: str) -> list[int]:
        """Prompt messages and the completion as the assistant's turn (what a reward model reads)."""
        messages = [{**m, "content": self.inert(m["content"])} for m in prompt]
        messages.append({"role": "assistant", "content": self.inert(completion)})
        if self.use_chat_template:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False)
            return self.encode(text, special=False)
        return self.encode("\n\n".join(m["content"] for m in messages), special=True)

    def label_ids(self, prefill: str, labels: tuple[str, ...]) -> tuple[str, tuple[tuple[int, ...], ...]]:
        """Where to read the verdict: the pre-fill to end the prompt with, and for each label the
        single tokens that spell it next.

        GPT-2-style tokenizers spell " 4" as one token right after "[RESULT]"; Qwen2 and Llama 3
        split digits from the space, so a model writes " " and then "4": there the pre-fill takes
        the space ("[RESULT] ") and the label is the token after it. Raises ValueError when a label
        is not one token either way.
        """
        key = (prefill, labels)
        if key not in self._label_ids:
            self._label_ids[key] = self._find_label_ids(prefill, labels)
        return self._label_ids[key]

    def _find_label_ids(
        self, prefill: str, labels: tuple[str, ...]
    ) -> tuple[str, tuple[tuple[int, ...], ...]]:
        def next_token(before: str, spelled: str) -> int | None:
            base = self.encode(before, special=False)
            full = self.encode(before + spelled, special=False)
            if len(full) == len(base) + 1 and full[: len(base)] == base:
                return full[-1]
            return None

        for before, spelled in ((prefill, " {}"), (prefill + " ", "{}"), (prefill, "{}")):
            ids = [next_token(before, spelled.format(label)) for label in labels]
            if all(i is not None for i in ids) and len(set(ids)) == len(ids):
                return before, tuple((i,) for i in ids)
        raise ValueError(
            f"judge: the tokenizer does not spell each of the labels {list(labels)} as one distinct token "
            f"after {prefill!r}, so mode=verdict cannot read their probabilities; use other labels or mode=generate"
        )

    def end_ids(self, configured: int | Iterable[int | None] | None = None) -> list[int]:
        """Token ids that end a generated turn: eos, the END_TOKENS this vocabulary has, and the
        model's configured eos id(s)."""
        vocab = self.tokenizer.get_vocab()
        ends = {self.tokenizer.eos_token_id, *(vocab[t] for t in END_TOKENS if t in vocab)}
        ends.update([configured] if configured is None or isinstance(configured, int) else configured)
        return sorted(i for i in ends if i is not None)
