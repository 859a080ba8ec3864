"""JudgeVerifier (an LLM grading against a rubric) and RewardModelVerifier (a scalar reward model)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from verifiers.core import (
    Sample,
    Score,
    Status,
    Verifier,
    end_tokens_option,
    error_score,
    prompt_text,
    read_completion,
    think_prefilled_option,
)
from verifiers.judge.prompts import (
    DEFAULT_PAIRWISE_RUBRIC,
    DEFAULT_RUBRIC,
    VERDICT_MARKER,
    JudgeRequest,
    Scale,
    clip,
    defang,
    make_scale,
    pairwise_request,
    parse_verdict,
    pointwise_request,
    reference_fields,
)

MODES = ("verdict", "generate")
BACKENDS = ("transformers", "openai", "vllm")

# Completions that only announce an answer ("master keys" that fool generative judges): no answer.
_OPENERS = {
    "thought process",
    "lets solve this problem step by step",
    "lets think step by step",
    "solution",
    "answer",
    "the answer is",
    "final answer",
    "解",
    "解答",
    "答案",
    "かいせつ",
    "respuesta",
}


def announces_only(text: str) -> bool:
    """True for a completion with no words or numbers at all, or one that is only an opener such as
    "Thought process:" or "Solution": there is nothing in it to judge."""
    words = re.sub(r"[\W_]+", " ", re.sub(r"['\u2019]", "", text.casefold())).strip()
    return not words or words in _OPENERS


def failure_score(what: str, exc: Exception) -> Score:
    """A model call that failed: None with status error. It is an outage (`info["outage"]`, which
    `verifiers score` reports with exit 3, as for a code sandbox) unless the row itself was refused
    (a ValueError: the input is over max_length)."""
    score = error_score(f"{what} failed: {type(exc).__name__}: {exc}")
    if not isinstance(exc, ValueError):
        score.info["outage"] = score.info["error"]
    return score


def _open_backend(kind: str, backend: str, model: str, options: dict[str, Any]) -> Any:
    if backend == "transformers":
        from verifiers.judge.local import open_local

        return open_local(kind, model, **options)
    if backend == "openai":
        from verifiers.judge.remote import OpenAIJudge

        return OpenAIJudge(model, **options)
    if backend == "vllm":
        from verifiers.judge.vllm import open_vllm

        return open_vllm(kind, model, **options)
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _close_backend(instance: Any) -> None:
    from verifiers.judge.shared import release_shared

    if not release_shared(instance):  # a backend of its own (the HTTP client)
        instance.close()


def _constructor_params(arguments: dict[str, Any]) -> dict[str, Any]:
    """A verifier's constructor arguments (its locals() on entry) as one flat dict, backend options
    included: kept for pickling, where __setstate__ calls __init__ with them again."""
    params = {k: v for k, v in arguments.items() if k not in ("self", "backend_options", "__class__")}
    params.update(arguments["backend_options"])
    return params


class _ModelVerifier(Verifier):
    """Shared plumbing: the backend's life cycle, pickling by parameters, reading completions."""

    _kind = ""

    def _start(self, params: dict[str, Any], backend: str, model: Any, options: dict[str, Any]) -> None:
        self._params = params
        self._backend: Any = None
        if not isinstance(model, str) or not model:
            raise ValueError(f"{self._kind}: model must be a local path or a model name, got {model!r}")
        self.think_prefilled = think_prefilled_option(params["think_prefilled"], self._kind)
        self.end_tokens = end_tokens_option(params["end_tokens"], self._kind)
        self._backend = _open_backend(self._kind, backend, model, options)

    def _response(self, sample: Sample) -> tuple[str | None, str]:
        """(the text to judge or None when the completion commits to nothing, a note on what was read)."""
        reading = read_completion(
            sample.completion, sample.prompt, think_prefilled=self.think_prefilled, end_tokens=self.end_tokens
        )
        if self._params["strip_think"]:
            return reading.committed, "summary"
        return reading.text, "whole"

    def close(self) -> None:
        backend, self._backend = getattr(self, "_backend", None), None
        if backend is not None:
            _close_backend(backend)

    def __getstate__(self) -> dict[str, Any]:
        # A copy in another process (Ray, spawn) opens its own model from the same parameters.
        return dict(self._params)

    def __setstate__(self, params: dict[str, Any]) -> None:
        self.__init__(**params)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to release
            pass


class JudgeVerifier(_ModelVerifier):
    """LLM-as-judge: grades the completion against a rubric (verdict probabilities or a parsed critique)."""

    name = "judge"
    _kind = "judge"

    def __init__(
        self,
        model: str,
        mode: str = "verdict",
        backend: str = "transformers",
        *,
        rubric: str | None = None,
        reference: str | None = None,
        scale: int = 5,
        labels: Sequence[str] | None = None,
        system: str | None = None,
        pairwise: bool = False,
        votes: int = 1,
        temperature: float = 0.0,
        retries: int = 2,
        retry_temperature: float = 0.7,
        max_new_tokens: int = 512,
        max_completion_chars: int = 16000,
        min_label_mass: float = 0.0,
        strip_think: bool = True,
        think_prefilled: str | bool = "auto",
        end_tokens: Sequence[str] | None = None,
        **backend_options: Any,
    ) -> None:
        params = _constructor_params(locals())
        if mode not in MODES:
            raise ValueError(f"judge: mode must be one of {MODES}, got {mode!r}")
        if pairwise and labels is not None:
            raise ValueError("judge: pairwise mode has its own labels (A, B); drop labels")
        self.scale: Scale = make_scale(2, ("A", "B")) if pairwise else make_scale(scale, labels)
        for name, value, low in (
            ("votes", votes, 1),
            ("retries", retries, 0),
            ("max_new_tokens", max_new_tokens, 1),
            ("max_completion_chars", max_completion_chars, 100),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"judge: {name} must be an integer >= {low}, got {value!r}")
        for name, value in (("temperature", temperature), ("retry_temperature", retry_temperature)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 5:
                raise ValueError(f"judge: {name} must be a number from 0 to 5, got {value!r}")
        if votes > 1 and (mode != "generate" or temperature <= 0):
            raise ValueError(
                "judge: votes > 1 needs mode 'generate' and temperature > 0 (greedy votes are identical)"
            )
        if not isinstance(min_label_mass, (int, float)) or not 0 <= min_label_mass < 1:
            raise ValueError(f"judge: min_label_mass must be in [0, 1), got {min_label_mass!r}")
        for name, value in (("rubric", rubric), ("reference", reference), ("system", system)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"judge: {name} must be a string, got {type(value).__name__}")
        self.mode, self.pairwise = mode, pairwise
        self.rubric = rubric or (DEFAULT_PAIRWISE_RUBRIC if pairwise else DEFAULT_RUBRIC)
        self._start(params, backend, model, backend_options)
        if mode == "verdict" and hasattr(self._backend, "label_ids"):
            try:  # a local tokenizer tells now whether each label is one token after the pre-fill
                self._backend.label_ids(VERDICT_MARKER, self.scale.labels)
            except ValueError:
                self.close()
                raise

    # ------------------------------------------------------------ scoring

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        scores: list[Any] = [None] * len(samples)
        jobs: list[tuple[int, list[JudgeRequest], dict[str, Any]]] = []
        for i, sample in enumerate(samples):
            try:
                prepared = self._prepare(sample)
            except Exception as exc:  # a bug on one odd sample must not lose the batch
                prepared = error_score(f"{type(exc).__name__}: {exc}")
            if isinstance(prepared, Score):
                scores[i] = prepared
            else:
                jobs.append((i, *prepared))
        if jobs:
            if self._backend is None:
                outcome: Any = [failure_score("judge", RuntimeError("the judge is closed"))] * len(jobs)
            else:
                try:
                    outcome = self._verdict(jobs) if self.mode == "verdict" else self._generate(jobs)
                except Exception as exc:  # the model or the server is down: an outage, never a 0
                    outcome = [failure_score("judge", exc)] * len(jobs)
            for (i, _, info), score in zip(jobs, outcome, strict=True):
                scores[i] = Score(score.value, score.status, info={**info, **score.info})
        return scores

    def _prepare(self, sample: Sample) -> Score | tuple[list[JudgeRequest], dict[str, Any]]:
        try:
            response, read = self._response(sample)
            question = prompt_text(sample.prompt)
        except TypeError as exc:
            return error_score(str(exc))
        try:
            rubric, reference = reference_fields(sample.reference)
        except ValueError as exc:
            return error_score(str(exc), Status.INVALID_REFERENCE)
        rubric = rubric or self.rubric
        reference = reference if reference is not None else self._params["reference"]
        if response is None:
            return Score(
                0.0, Status.NO_ANSWER, info={"error": "the thinking never closes: no answer to judge"}
            )
        if announces_only(response):
            return Score(0.0, Status.NO_ANSWER, info={"error": "the completion gives no answer to judge"})
        limit = self._params["max_completion_chars"]
        question = defang(question)[0]  # data can carry control tokens too; nothing is counted for it
        reference = defang(reference)[0] if reference else reference
        rubric = defang(rubric)[0]
        response, defanged = defang(response)
        response, clipped = clip(response, limit)
        info: dict[str, Any] = {"mode": self.mode, "judged": read}
        if defanged:
            info["defanged"] = defanged
        if clipped:
            info["clipped"] = True
        system = self._params["system"]
        if not self.pairwise:
            request = pointwise_request(
                question,
                response,
                rubric=rubric,
                reference=reference,
                scale=self.scale,
                mode=self.mode,
                system=system,
            )
            return [request], info
        if not reference or not reference.strip():
            return error_score("pairwise judging needs a reference completion", Status.INVALID_REFERENCE)
        other = read_completion(reference, think_prefilled="false", end_tokens=self.end_tokens)
        other_text = other.committed if self._params["strip_think"] else other.text
        if not other_text or not other_text.strip():
            return error_score(
                "the reference completion gives no answer to compare with", Status.INVALID_REFERENCE
            )
        other_text, _ = clip(defang(other_text)[0], limit)
        both = dict(rubric=rubric, scale=self.scale, mode=self.mode, system=system)
        # Both orders: the completion as A, then as B, so position bias cancels out.
        return [
            pairwise_request(question, response, other_text, **both),
            pairwise_request(question, other_text, response, **both),
        ], info

    def _win(self, order: int, label: str) -> float:
        """The completion's value for a verdict in a pairwise order (it is A in order 0, B in order 1)."""
        return 1.0 if (label == "A") == (order == 0) else 0.0

    def _verdict(self, jobs: list) -> list[Score]:
        flat = [r for _, requests, _ in jobs for r in requests]
        results = self._backend.label_logprobs(flat, self.scale.labels)
        out, k = [], 0
        for _, requests, info in jobs:
            parts = results[k : k + len(requests)]
            k += len(requests)
            out.append(self._combine_verdict(parts, info))
        return out

    def _combine_verdict(self, parts: list[Any], info: dict[str, Any]) -> Score:
        values, masses, dists = [], [], []
        for order, logps in enumerate(parts):
            if isinstance(logps, Exception):
                return failure_score("judge", logps)
            mass = sum(math.exp(lp) for lp in logps)
            if not mass > 0 or not math.isfinite(mass):
                return error_score("the judge gave no probability to any verdict label", Status.ERROR)
            if mass < self._params["min_label_mass"]:
                return error_score(f"the judge put only {mass:.3g} of its probability on the verdict labels")
            probs = [math.exp(lp) / mass for lp in logps]
            dists.append(dict(zip(self.scale.labels, probs, strict=True)))
            masses.append(mass)
            if self.pairwise:
                values.append(probs[self.scale.labels.index("A" if order == 0 else "B")])
            else:
                values.append(sum(p * v for p, v in zip(probs, self.scale.values, strict=True)))
        value = sum(values) / len(values)
        info = {**info, "probs": dists if self.pairwise else dists[0], "label_mass": min(masses)}
        if self.pairwise:
            info["orders"] = values
        return Score(value, Status.OK, info=info)

    def _generate(self, jobs: list) -> list[Score]:
        votes = self._params["votes"]
        # slot -> parsed labels; retried slots are the requests with no verdict yet
        slots = [
            (j, order, request)
            for j, (_, requests, _) in enumerate(jobs)
            for order, request in enumerate(requests)
        ]
        parsed: dict[int, list[str]] = {s: [] for s in range(len(slots))}
        last_text: dict[int, str] = {}
        failed: dict[int, Exception] = {}
        pending = list(range(len(slots)))
        temperature = self._params["temperature"]
        for attempt in range(1 + self._params["retries"]):
            if not pending:
                break
            if attempt:
                temperature = max(temperature, self._params["retry_temperature"])
            results = self._backend.generate(
                [slots[s][2] for s in pending],
                n=votes,
                temperature=temperature,
                max_new_tokens=self._params["max_new_tokens"],
            )
            still = []
            for s, texts in zip(pending, results, strict=True):
                if isinstance(texts, Exception):
                    failed[s] = texts
                    continue
                for text in texts:
                    label = parse_verdict(text, self.scale)
                    if label is not None:
                        parsed[s].append(label)
                if texts:
                    last_text[s] = texts[-1]
                if not parsed[s]:
                    still.append(s)
            pending = still
        out = []
        for j, (_, _, info) in enumerate(jobs):
            mine = [s for s, slot in enumerate(slots) if slot[0] == j]
            errors = [failed[s] for s in mine if s in failed]
            if errors:
                out.append(failure_score("judge", errors[0]))
                continue
            if any(not parsed[s] for s in mine):
                text = next((last_text.get(s, "") for s in mine if not parsed[s]), "")
                attempts = 1 + self._params["retries"]
                score = error_score(f"no verdict line in the judge's output after {attempts} attempt(s)")
                score.info["judgement"] = text[-1000:]
                out.append(score)
                continue
            if self.pairwise:
                wins = [self._win(slots[s][1], label) for s in mine for label in parsed[s]]
                value = sum(wins) / len(wins)
            else:
                values = dict(zip(self.scale.labels, self.scale.values, strict=True))
                value = sum(values[label] for label in parsed[mine[0]]) / len(parsed[mine[0]])
            verdicts = [parsed[s] for s in mine]
            detail = {
                "verdicts": verdicts if self.pairwise else verdicts[0],
                "judgement": last_text.get(mine[-1], "")[-1000:],
            }
            out.append(Score(value, Status.OK, info={**info, **detail}))
        return out


class RewardModelVerifier(_ModelVerifier):
    """A scalar reward model (AutoModelForSequenceClassification) on prompt + completion."""

    name = "reward_model"
    _kind = "reward_model"

    def __init__(
        self,
        model: str,
        *,
        backend: str = "transformers",
        normalize: str = "none",
        head_index: int = 0,
        max_completion_chars: int | None = None,
        strip_think: bool = True,
        think_prefilled: str | bool = "auto",
        end_tokens: Sequence[str] | None = None,
        **backend_options: Any,
    ) -> None:
        params = _constructor_params(locals())
        if backend not in ("transformers", "vllm"):
            raise ValueError(f"reward_model: backend must be 'transformers' or 'vllm', got {backend!r}")
        if normalize not in ("none", "sigmoid"):
            raise ValueError(f"reward_model: normalize must be 'none' or 'sigmoid', got {normalize!r}")
        if isinstance(head_index, bool) or not isinstance(head_index, int) or head_index < 0:
            raise ValueError(f"reward_model: head_index must be a non-negative integer, got {head_index!r}")
        self._start(params, backend, model, backend_options)
        labels = self._backend.num_labels
        if head_index >= labels:
            self.close()
            raise ValueError(f"reward_model: head_index {head_index} but the model has {labels} output(s)")

    def score_batch(self, samples: Sequence[Sample]) -> list[Score]:
        scores: list[Any] = [None] * len(samples)
        todo: list[tuple[int, tuple[list[dict[str, str]], str], Status]] = []
        for i, sample in enumerate(samples):
            try:
                response, _ = self._response(sample)
                prompt = _prompt_messages(sample.prompt)
            except TypeError as exc:
                scores[i] = error_score(str(exc))
                continue
            status = Status.OK if response is not None else Status.NO_ANSWER
            response = response or ""  # no answer: the model scores an empty response
            limit = self._params["max_completion_chars"]
            if limit:
                response, _ = clip(response, limit)
            todo.append((i, (prompt, response), status))
        if todo:
            if self._backend is None:
                results: list[Any] = [RuntimeError("the reward model is closed")] * len(todo)
            else:
                try:
                    results = self._backend.rewards([conv for _, conv, _ in todo])
                except Exception as exc:  # an outage, never a 0
                    results = [exc] * len(todo)
            for (i, _, status), result in zip(todo, results, strict=True):
                scores[i] = self._to_score(result, status)
        return scores

    def _to_score(self, result: Any, status: Status) -> Score:
        if isinstance(result, Exception):
            return failure_score("reward model", result)
        raw = float(result[self._params["head_index"]])
        if not math.isfinite(raw):
            return error_score(f"the reward model returned {raw}")
        value = raw if self._params["normalize"] == "none" else 1.0 / (1.0 + math.exp(-raw))
        info: dict[str, Any] = {"raw": raw}
        if status is Status.NO_ANSWER:
            info["error"] = "the thinking never closes: scored as an empty answer"
        return Score(value, status, info=info)


def _prompt_messages(prompt: Any) -> list[dict[str, str]]:
    """The prompt as chat messages with string contents (a string prompt is one user message)."""
    if prompt is None:
        return []
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, dict):
        prompt = [prompt]
    if not isinstance(prompt, list):
        raise TypeError(f"prompt must be a string or a list of messages, got {type(prompt).__name__}")
    out = []
    for msg in prompt:
        if not isinstance(msg, dict):
            raise TypeError(f"a chat message must be a dict, got {type(msg).__name__}")
        content = msg.get("content")
        if isinstance(content, list):
            content = "".join(
                p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
        if not isinstance(content, str):
            raise TypeError(f"message content must be a string, got {type(content).__name__}")
        out.append({"role": str(msg.get("role", "user")), "content": content})
    return out
