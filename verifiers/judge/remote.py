"""The OpenAI-compatible HTTP backend: a judge served by vLLM, SGLang or any chat-completions server.

The server batches concurrent requests itself (continuous batching, prefix caching), so this
backend only keeps up to `max_concurrency` requests in flight, shared by every caller of the
verifier, with a timeout per request and retries with backoff on connection errors, timeouts,
429 and 5xx answers. Anything else (a 4xx, a malformed answer) fails that request at once. A
request that still fails is an Exception in its slot, which the verifier turns into a judge
outage (status error, value None).

- verdict mode: POST /chat/completions with the assistant pre-fill as the last message
  (`continue_final_message: true, add_generation_prompt: false`, which vLLM and SGLang honour),
  `max_tokens: 2`, `temperature: 0`, `logprobs: true`, `top_logprobs: 20`; log p(label) is read
  from the top tokens of the first generated token that is not whitespace (a Qwen2 or Llama 3
  tokenizer writes " " before a digit), "5" and " 5" both counting; labels outside the top 20
  get no probability.
- generate mode: POST /chat/completions with `n`, `temperature`, `max_tokens`; the texts of
  the choices come back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from verifiers.judge.prompts import JudgeRequest, logsumexp

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class RemoteError(RuntimeError):
    """The judge server could not answer a request."""


class OpenAIJudge:
    """Chat completions against `base_url` (e.g. http://127.0.0.1:8000/v1) for the served `model`."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_concurrency: int = 64,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        top_logprobs: int = 20,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        import httpx

        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, got {base_url!r}"
            )
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be a positive integer, got {max_attempts!r}")
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if extra_body is not None and not isinstance(extra_body, dict):
            raise ValueError(f"extra_body must be a mapping, got {type(extra_body).__name__}")
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "EMPTY")
        self.max_attempts, self.backoff_s = max_attempts, backoff_s
        self.top_logprobs = top_logprobs
        self.extra_body = dict(extra_body or {})
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {key}"},
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
        )
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="judge-http")
        self._closed = threading.Event()

    # ------------------------------------------------------------ the two calls

    def label_logprobs(self, requests: Sequence[JudgeRequest], labels: tuple[str, ...]) -> list[Any]:
        def one(request: JudgeRequest) -> list[float]:
            # Two tokens: tokenizers that split digits from the space (Qwen2, Llama 3) write " " first.
            body = self._body(request, max_tokens=2, temperature=0.0, n=1)
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
            answer = self._post(body)
            try:
                positions = answer["choices"][0]["logprobs"]["content"]
                verdict = next(p for p in positions if str(p["token"]).strip())
                pairs = [(str(t["token"]), float(t["logprob"])) for t in verdict["top_logprobs"]]
            except (KeyError, IndexError, TypeError, ValueError, StopIteration):
                raise RemoteError(
                    "the judge server's answer has no top_logprobs for a verdict token"
                ) from None
            return [logsumexp([lp for tok, lp in pairs if tok.strip() == label]) for label in labels]

        return self._map(one, requests)

    def generate(
        self, requests: Sequence[JudgeRequest], *, n: int, temperature: float, max_new_tokens: int
    ) -> list[Any]:
        def one(request: JudgeRequest) -> list[str]:
            answer = self._post(self._body(request, max_tokens=max_new_tokens, temperature=temperature, n=n))
            try:
                texts = [c["message"]["content"] or "" for c in answer["choices"]]
            except (KeyError, TypeError):
                raise RemoteError("the judge server's answer has no choices[].message.content") from None
            if request.prefill:
                texts = [request.prefill + t for t in texts]
            return texts

        return self._map(one, requests)

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._pool.shutdown(wait=True)
            self._client.close()

    # ------------------------------------------------------------ plumbing

    def _body(self, request: JudgeRequest, *, max_tokens: int, temperature: float, n: int) -> dict[str, Any]:
        messages = [dict(m) for m in request.messages]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "n": n,
        }
        if request.prefill:
            messages.append({"role": "assistant", "content": request.prefill})
            body.update(continue_final_message=True, add_generation_prompt=False)
        body.update(self.extra_body)
        return body

    def _map(self, fn: Callable[[JudgeRequest], Any], requests: Sequence[JudgeRequest]) -> list[Any]:
        if self._closed.is_set():
            raise RuntimeError("the judge's HTTP backend is closed")

        def safe(request: JudgeRequest) -> Any:
            try:
                return fn(request)
            except Exception as exc:  # one request's outage is that request's error, not the batch's
                return exc

        return list(self._pool.map(safe, requests))

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        problem = ""
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._client.post(self.url, json=body)
            except httpx.HTTPError as exc:  # connection refused, reset, timeout: retried
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUS:
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code != 200:
                raise RemoteError(
                    f"judge server {self.url} answered HTTP {response.status_code}: {response.text[:300]}"
                )
            try:
                answer = response.json()
            except ValueError:
                raise RemoteError(
                    f"judge server {self.url} answered with something that is not JSON"
                ) from None
            if not isinstance(answer, dict):
                raise RemoteError(f"judge server {self.url} answered with JSON that is not an object")
            return answer
        raise RemoteError(f"judge server {self.url} failed after {self.max_attempts} attempt(s): {problem}")

