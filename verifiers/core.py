"""The reward core: Sample, Score, Status, the Verifier base and the registry.

Every verifier is batch-first: a trainer hands over a group of G completions and
the verifier decides how to parallelise them. A verifier never raises on a bad
completion; it returns a Score whose status says what happened. It raises only for
misuse (a bad parameter), with a message that names the problem.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

Message = dict[str, Any]
Completion = str | list[Message]


class Status(str, enum.Enum):
    """Why a Score has the value it has."""

    OK = "ok"
    NO_ANSWER = "no_answer"  # the completion gave nothing to check: value 0
    INVALID_REFERENCE = "invalid_reference"  # the gold is unusable: value None
    TIMEOUT = "timeout"  # the completion's work ran out of time: value 0
    ERROR = "error"  # infrastructure failed (sandbox, judge, bug): value None
    NOT_APPLICABLE = "not_applicable"  # this verifier does not apply: value None

    def __str__(self) -> str:
        return self.value


@dataclass
class Sample:
    """One completion to score.

    completion: a string, or chat messages [{"role", "content", "reasoning_content"?}].
    reference:  gold answer (math), test-suite dict (code), rubric (judge).
    task:       routing key for CompositeReward ("math", "code", "general", ...).

    Everything after `completion` is keyword-only: `Sample(prompt, completion)`, the order
    of TRL's (prompts, completions), is a TypeError instead of silently scoring the prompt.
    """

    completion: Completion
    _: KW_ONLY
    prompt: Completion | None = None
    reference: Any = None
    task: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Score:
    """A reward. value None means "not applicable / could not be scored", never 0."""

    value: float | None
    status: Status = Status.OK
    components: dict[str, float | None] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reward": self.value,
            "status": str(self.status),
            "components": dict(self.components),
            "info": self.info,
        }


class Verifier:
    """Base class. Subclasses override `score` or `score_batch` (or both).

    The default `score_batch` calls `score` per sample and turns an unexpected
    exception into a Score with status error, so one bad sample never sinks a batch.
    """

    name: str = ""

    def score(self, sample: Sample) -> Score:
        return self.score_batch([sample])[0]

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        if type(self).score is Verifier.score:
            raise NotImplementedError(f"{type(self).__name__} must override score or score_batch")
        return [self._safe_score(s) for s in samples]

    async def ascore_batch(self, samples: Sequence[Sample]) -> list[Score]:
        import asyncio  # here, not at the top: it is most of `import verifiers`'s cost

        return await asyncio.to_thread(self.score_batch, list(samples))

    def _safe_score(self, sample: Sample) -> Score:
        try:
            return self.score(sample)
        except Exception as exc:  # a verifier bug must not lose the batch
            return error_score(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Release pools, processes, containers. Safe to call twice."""

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def error_score(reason: str, status: Status = Status.ERROR) -> Score:
    return Score(None, status, info={"error": reason})


# ---------------------------------------------------------------- completion text


def split_completion(completion: Completion) -> tuple[str | None, str]:
    """Return (separate reasoning or None, visible text) of a completion.

    Chat messages: the assistant messages' contents are joined; a reasoning
    field (`reasoning_content`, `reasoning` or `thinking`) comes back separately,
    as trainers and APIs that split the thinking out deliver it.
    Raises TypeError for anything that is neither a string nor messages.
    """
    if isinstance(completion, str):
        return None, completion
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, list):
        raise TypeError(f"completion must be a string or a list of messages, got {type(completion).__name__}")
    reasoning: list[str] = []
    content: list[str] = []
    for msg in completion:
        if not isinstance(msg, dict):
            raise TypeError(f"a chat message must be a dict, got {type(msg).__name__}")
        if msg.get("role", "assistant") != "assistant":
            continue
        for key in ("reasoning_content", "reasoning", "thinking"):
            if isinstance(msg.get(key), str) and msg[key]:
                reasoning.append(msg[key])
                break
        text = msg.get("content")
        if isinstance(text, list):  # multimodal content parts
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
        if text is not None and not isinstance(text, str):
            raise TypeError(f"message content must be a string, got {type(text).__name__}")
        content.append(text or "")
    return ("\n".join(reasoning) if reasoning else None), "\n".join(content)


def committed_text(text: str) -> str | None:
    """The part of a completion's text after its thinking: what follows the last </think>.

    None when a <think> is opened and never closed (the model never committed to anything);
    the whole text when there is no thinking at all.
    """
    end = text.rfind("</think>")
    if end >= 0:
        return text[end + len("</think>") :]
    if "<think>" in text:
        return None
    return text


# Special tokens a chat template or an inference server leaves at the end of a turn. Every
# verifier drops them (and the whitespace around them) from the end of a completion.
END_TOKENS: tuple[str, ...] = (
    "<|im_end|>",  # ChatML: Qwen, OpenHermes
    "<|endoftext|>",  # GPT-2, Qwen base models
    "<\uff5cend\u2581of\u2581sentence\uff5c>",  # DeepSeek-V3 / R1 (fullwidth bar, lower block)
    "<|end\u2581of\u2581sentence|>",
    "</s>",  # Llama 2, Mistral
    "<|eot_id|>",  # Llama 3
    "<|eom_id|>",
    "<|end_of_text|>",
    "<|end|>",  # Phi-3
    "<|return|>",  # gpt-oss
    "<end_of_turn>",  # Gemma
    "<eos>",
)


def end_tokens_option(value: Iterable[str] | None, who: str) -> tuple[str, ...]:
    """Validate a verifier's `end_tokens` parameter; None means END_TOKENS. ValueError names the problem."""
    if value is None:
        return END_TOKENS
    if isinstance(value, str) or not all(isinstance(t, str) and t for t in value):
        raise ValueError(f"{who}: end_tokens must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def strip_end_tokens(text: str, tokens: Sequence[str] = END_TOKENS) -> str:
    """`text` without the end-of-turn tokens (any number, any order) and whitespace at its end."""
    end = _space_before(text, len(text))
    while True:
        for token in tokens:
            if text.endswith(token, 0, end):
                end = _space_before(text, end - len(token))
                break
        else:
            return text[:end] if end < len(text) else text


def _space_before(text: str, end: int) -> int:
    while end and text[end - 1].isspace():
        end -= 1
    return end


THINK_PREFILLED = ("auto", "true", "false")

# The turns of rendered chat templates, per family: (start of the user's turn, end of it, start of
# the assistant's turn). Used to find where the assistant's turn starts in a rendered prompt or query.
CHAT_TURNS = (
    ("<|im_start|>user", "<|im_end|>", "<|im_start|>assistant"),  # ChatML: Qwen
    ("<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>", "<\uff5cAssistant\uff5c>"),  # DeepSeek-R1 / V3
    ("<|User|>", "<|Assistant|>", "<|Assistant|>"),
    ("<|start_header_id|>user<|end_header_id|>", "<|eot_id|>", "<|start_header_id|>assistant<|end_header_id|>"),
    ("<start_of_turn>user", "<end_of_turn>", "<start_of_turn>model"),  # Gemma
    ("<|user|>", "<|end|>", "<|assistant|>"),  # Phi-3
    ("[INST]", "[/INST]", "[/INST]"),  # Llama 2, Mistral
)
# A <think> after the last assistant marker is the template's pre-fill; one before it is an
# instruction that merely mentions the tag.
_ASSISTANT_TURN = tuple(dict.fromkeys(turn[2] for turn in CHAT_TURNS))


def think_prefilled_option(value: str | bool, who: str) -> str:
    """Validate a verifier's `think_prefilled` parameter ("auto", "true", "false" or a bool)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value not in THINK_PREFILLED:
        raise ValueError(f"{who}: think_prefilled must be auto, true or false, got {value!r}")
    return value


def _open_think(text: str) -> bool:
    return text.rfind("<think>") > text.rfind("</think>")


def prompt_opens_thinking(prompt: Completion | None) -> bool:
    """True when the prompt ends inside an open <think>, so the completion starts in the thinking.

    A string prompt: it ends with <think> (a DeepSeek-R1 or Qwen3 template's pre-fill), or a
    <think> is left open inside the last assistant turn of a rendered template. Chat messages:
    the last message is the assistant's own pre-filled start with an open <think>.
    """
    if isinstance(prompt, str):
        tail = prompt[-4096:]  # the pre-fill sits at the very end; never scan a huge prompt
        if tail.rstrip().endswith("<think>"):
            return True
        turn = max(tail.rfind(marker) for marker in _ASSISTANT_TURN)
        return turn >= 0 and _open_think(tail[turn:])
    if isinstance(prompt, dict):
        prompt = [prompt]
    if isinstance(prompt, list) and prompt and isinstance(prompt[-1], dict):
        last = prompt[-1]
        content = last.get("content")
        return last.get("role") == "assistant" and isinstance(content, str) and _open_think(content)
    return False


@dataclass(frozen=True)
class Reading:
    """A completion read the one way every verifier reads it (see `read_completion`).

    content:   the visible text, end-of-turn tokens removed from its end.
    reasoning: the thinking when it came in a separate field, else None.
    prefilled: the content starts inside a <think> that the prompt opened.
    """

    content: str
    reasoning: str | None = None
    prefilled: bool = False

    @property
    def text(self) -> str:
        """The completion as one string with its thinking explicit (tags put back)."""
        if self.reasoning is not None:
            return f"<think>{self.reasoning}</think>{self.content}"
        return "<think>" + self.content if self.prefilled else self.content

    @property
    def thinking(self) -> str | None:
        """The chain of thought: the reasoning field, else the <think> blocks (an unclosed one runs
        to the end); None when there is none."""
        if self.reasoning is not None:
            return self.reasoning
        blocks = _THINK_BLOCK.findall(self.text)
        return "\n".join(blocks) if blocks else None

    @property
    def committed(self) -> str | None:
        """What the completion commits to: the text after the thinking; None when the thinking never
        closes (no answer, no program)."""
        if self.reasoning is not None:
            return committed_text(self.content)
        return committed_text(self.text)


_THINK_BLOCK = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.DOTALL)


def read_completion(
    completion: Completion,
    prompt: Completion | None = None,
    *,
    think_prefilled: str = "auto",
    end_tokens: Sequence[str] = END_TOKENS,
) -> Reading:
    """Read a completion: its separate reasoning, its visible text, and whether it starts in the thinking.

    Pre-filled thinking, the one rule every verifier follows. With think_prefilled "true" the
    completion always starts inside the thinking; with "false" never; with "auto" it does when
    the prompt ends inside an open <think> (`prompt_opens_thinking`) or when the completion has a
    </think> with no <think> before it. Starting inside the thinking, everything up to the first
    </think> is thinking, and a completion with no </think> at all has no answer. A separate
    reasoning field is the thinking, and the content is then never pre-filled.
    Raises TypeError for a completion that is neither a string nor chat messages.
    """
    reasoning, content = split_completion(completion)
    content = strip_end_tokens(content, end_tokens)
    if reasoning is not None or think_prefilled == "false":
        return Reading(content, reasoning, False)
    if think_prefilled == "true":
        return Reading(content, None, True)
    close = content.find("</think>")
    prefilled = (close >= 0 and "<think>" not in content[:close]) or prompt_opens_thinking(prompt)
    return Reading(content, None, prefilled)


def completion_text(completion: Completion) -> str:
    """The completion as one string: separate reasoning wrapped in <think> tags, then the content."""
    reasoning, content = split_completion(completion)
    return content if reasoning is None else f"<think>{reasoning}</think>{content}"


def prompt_text(prompt: Completion | None) -> str:
    """The user's words of a prompt (the last user message for chat prompts; text parts only).

    Raises TypeError for a prompt that is neither a string nor chat messages.
    """
    if prompt is None:
        return ""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, dict):
        prompt = [prompt]
    if not isinstance(prompt, list):
        raise TypeError(f"prompt must be a string or a list of messages, got {type(prompt).__name__}")
    users = [m.get("content") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
    last = users[-1] if users else ""
    if isinstance(last, list):  # multimodal content parts
        last = "".join(p.get("text", "") for p in last if isinstance(p, dict) and isinstance(p.get("text"), str))
    return last if isinstance(last, str) else ""


# ---------------------------------------------------------------- registry

# Built-ins are named by import path so `import verifiers` stays cheap (no sympy, no fastText).
_BUILTINS: dict[str, str] = {
    "format": "verifiers.format:FormatVerifier",
    "language": "verifiers.language:LanguageVerifier",
    "math": "verifiers.math:MathVerifier",
    "code": "verifiers.code:CodeVerifier",
    "cosine_length": "verifiers.length:CosineLengthVerifier",
    "overlong": "verifiers.length:OverlongVerifier",
    "repetition": "verifiers.repetition:RepetitionVerifier",
    "reasoning_steps": "verifiers.reasoning_steps:ReasoningStepsVerifier",
    "judge": "verifiers.judge:JudgeVerifier",
    "reward_model": "verifiers.judge:RewardModelVerifier",
}
_REGISTRY: dict[str, Callable[..., Verifier] | str] = {}
_plugins_loaded = False


def register(name: str, factory: Callable[..., Verifier] | None = None) -> Any:
    """Register a verifier class or factory under `name`; usable as a decorator."""

    def add(f: Callable[..., Verifier]) -> Callable[..., Verifier]:
        if not callable(f):
            raise TypeError(f"verifier {name!r}: factory must be callable")
        _REGISTRY[name] = f
        return f

    return add if factory is None else add(factory)


def _load_plugins() -> None:
    """Discover third-party verifiers in the entry-point group "verifiers.plugins"."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="verifiers.plugins"):
        _REGISTRY.setdefault(ep.name, ep.value)


def _all() -> dict[str, Callable[..., Verifier] | str]:
    _load_plugins()
    return {**{k: v for k, v in _BUILTINS.items() if _importable(v)}, **_REGISTRY}


def _importable(target: str) -> bool:
    module = target.split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _resolve(target: Callable[..., Verifier] | str) -> Callable[..., Verifier]:
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def available() -> dict[str, str]:
    """Registered verifier names with a one-line description each."""
    out = {}
    for name, target in sorted(_all().items()):
        try:
            doc = (_resolve(target).__doc__ or "").strip().splitlines()
        except Exception as exc:  # a broken plugin is listed, not fatal
            doc = [f"(failed to load: {exc})"]
        out[name] = doc[0] if doc else ""
    return out


def get_verifier(name: str, **params: Any) -> Verifier:
    """Build the verifier registered as `name` with `params`.

    Raises ValueError for an unknown name and TypeError for parameters the
    verifier does not take, both naming the problem.
    """
    registry = _all()
    if name not in registry:
        raise ValueError(f"unknown verifier {name!r}; available: {', '.join(sorted(registry))}")
    factory = _resolve(registry[name])
    try:
        return factory(**params)
    except TypeError as exc:
        problem = _parameter_problem(factory, params) or f"bad parameters {sorted(params)}: {exc}"
        raise TypeError(f"verifier {name!r}: {problem}") from None


def _parameter_problem(factory: Callable[..., Any], params: dict[str, Any]) -> str | None:
    """Which of `params` the factory does not take, or which required ones are missing, with the names it
    takes (a misspelt `timeot` is then plain); None when the signature is not the problem."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    takes = [p for p in signature.parameters.values() if p.kind in named]
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [] if open_ended else sorted(set(params) - {p.name for p in takes})
    missing = [p.name for p in takes if p.default is p.empty and p.name not in params]
    if unknown:
        problem = f"bad parameters {unknown}"
    elif missing:
        problem = f"bad parameters: missing required {missing}"
    else:
        return None
    return f"{problem}; it takes: {', '.join(p.name for p in takes) or 'no parameters'}"


def takes_parameter(name: str, param: str) -> bool:
    """Whether the verifier registered as `name` takes the keyword parameter `param` (from its signature;
    False for an unknown name or a factory whose signature cannot be read)."""
    import inspect

    registry = _all()
    if name not in registry:
        return False
    try:
        parameters = inspect.signature(_resolve(registry[name])).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return False
    p = parameters.get(param)
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


def exit_with_process(pid: int) -> None:
    """End this process (os._exit) as soon as process `pid` is gone, from a daemon thread.

    For worker processes of a pool: when the process that owns the pool is SIGKILLed, its workers
    would otherwise wait on their task queue forever (with their own math workers under them).
    """
    import os
    import select
    import threading

    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd (old kernel, not Linux) or already gone
            fd = None
        if fd is not None:
            select.select([fd], [], [])  # readable once the process has exited
        else:
            import time

            while True:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True).start()


def as_samples(items: Iterable[Sample | dict[str, Any]]) -> list[Sample]:
    """Accept Samples or plain dicts with the same field names. TypeError for a dict without a completion
    or with any other key: an `answer` or `response` dropped silently would be scored as no gold or no text."""
    fields = ("completion", "prompt", "reference", "task", "meta")
    out = []
    for item in items:
        if isinstance(item, Sample):
            out.append(item)
        elif isinstance(item, dict):
            other = [k for k in item if k not in fields]
            if other or "completion" not in item:
                problem = f"keys {other} are not Sample fields" if other else "it has no 'completion'"
                raise TypeError(f"a dict sample takes the Sample fields {', '.join(fields)}; {problem} "
                                "(map your columns onto them, or build Samples)")
            out.append(Sample(**item))
        else:
            raise TypeError(f"expected Sample or dict, got {type(item).__name__}")
    return out
