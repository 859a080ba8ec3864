"""The HTTP reward server: `verifiers serve --config CFG [--host 127.0.0.1] [--port 8000] [--token T] [--workers N]`.

    POST /get_reward   OpenRLHF's schema: {"query": [...], "prompts": [...], "labels": [...]}
                       -> {"rewards": [...], "scores": [...], "extra_logs": {component: [...]}}
    POST /score        ours: {"rows": [row, ...], "fields": {"reference": "answer"}?, "task": T?,
                       "prefix": P?}, rows as `verifiers score` reads them -> {"rows": [...]} as it
                       writes them (verifiers.rows: `line` is the row's 1-based place in the request;
                       a bad row becomes an error row, the others are still scored)
    GET  /health       {"status": "ok", "components": [...]} (no token needed)

Safe by default: it binds 127.0.0.1; with a token every POST needs `Authorization: Bearer <token>`
(401 otherwise). Bodies over `max_body_bytes` are 413, batches over `max_batch` items 413,
malformed JSON 400, wrong shapes 422, each with {"error": "..."} naming the problem; bad input is
never a 500. Scoring runs off the event loop, in threads or `workers` processes: requests that wait
while the scorers are busy are merged into one batch (the verifiers are batch-first), and several
scoring lanes run at once, so one slow batch never blocks the others or /health. In /get_reward a None reward is NaN (the `NaN` literal, which
Python's json and OpenRLHF's client read) unless `on_none` says otherwise (a number, or "raise":
503); in /score it is null. Scoring that fails as a whole (a worker process lost) is a 503.
"""

import asyncio
import errno
import hmac
import json
import os
import socket
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from verifiers.core import Sample, Score, exit_with_process
from verifiers.integrations.lazy import warm_up

MAX_BODY_BYTES = 32 << 20
MAX_BATCH = 8192


class BadRequest(Exception):
    """A client error: status code and a message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- scoring (in threads or processes)

_process_reward = None


def _init_process(config: str | dict, owner: int) -> None:
    global _process_reward
    exit_with_process(owner)  # a SIGKILLed server must not leave its scoring processes behind
    from verifiers.composite import load_reward

    _process_reward = load_reward(config)
    warm_up(_process_reward)


def _score_in_process(samples: list[Sample]) -> list[Score]:
    return _process_reward.score_batch(samples)


class RewardService:
    """The reward behind the server.

    Requests wait in one queue; `lanes` scorers each take everything waiting (up to `max_merge`
    samples) and score it as one batch, in a thread or, with `workers` > 1, in a worker process. Under
    load, concurrent requests merge into large batches (the verifiers are batch-first); when idle, a
    request is scored at once. A slow batch holds one lane; the others go on serving.
    """

    def __init__(
        self,
        config: str | os.PathLike[str] | Mapping[str, Any],
        workers: int = 1,
        lanes: int | None = None,
        max_merge: int = 4096,
    ) -> None:
        from verifiers.composite import load_reward

        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.config = str(Path(config).resolve()) if isinstance(config, (str, os.PathLike)) else dict(config)
        self.reward = load_reward(self.config)  # validates the config before the server binds
        self.components = list(getattr(self.reward, "components", {}))
        self.workers = workers
        self.lanes = lanes or (2 * workers if workers > 1 else 8)  # threads: enough that slow batches leave lanes free
        self.max_merge = max_merge
        self._executor: Executor
        if workers > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            ctx = mp.get_context("forkserver" if os.name == "posix" else "spawn")
            self._executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_process,
                                                 initargs=(self.config, os.getpid()))
            self._score = _score_in_process
        else:
            warm_up(self.reward)
            self._executor = ThreadPoolExecutor(self.lanes, thread_name_prefix="serve")
            self._score = self.reward.score_batch
        self._queues: dict[asyncio.AbstractEventLoop, asyncio.Queue] = {}  # one per event loop serving
        self._tasks: list[asyncio.Task] = []

    async def score(self, samples: list[Sample]) -> list[Score]:
        """Score samples (merged with whatever else is waiting); same order as given."""
        if not samples:
            return []
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:  # made in the serving event loop, on first use
            queue = self._queues[loop] = asyncio.Queue()
            self._tasks += [loop.create_task(self._lane(queue)) for _ in range(self.lanes)]
        future = loop.create_future()
        await queue.put((samples, future))
        return await future

    def pending(self) -> int:
        """Requests waiting for a scorer."""
        return sum(q.qsize() for q in list(self._queues.values()))

    async def _lane(self, queue: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            size = len(batch[0][0])
            while size < self.max_merge and not queue.empty():
                item = queue.get_nowait()
                batch.append(item)
                size += len(item[0])
            merged = [s for samples, _ in batch for s in samples]
            try:
                scores = await loop.run_in_executor(self._executor, self._score, merged)
                if len(scores) != len(merged):
                    raise RuntimeError(f"the reward returned {len(scores)} scores for {len(merged)} samples")
            except Exception as exc:  # an infrastructure failure: every request in the batch hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            at = 0
            for samples, future in batch:
                if not future.done():  # a client that went away leaves a cancelled future
                    future.set_result(scores[at : at + len(samples)])
                at += len(samples)

    def close(self) -> None:
        for task in self._tasks:
            try:
                task.get_loop().call_soon_threadsafe(task.cancel)
            except RuntimeError:  # that loop has ended, and its tasks with it
                pass
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.reward.close()


# ---------------------------------------------------------------- request checks


def _check_list(body: Mapping[str, Any], key: str, required: bool) -> list | None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest(422, f"missing field {key!r}: expected a list")
        return None
    if not isinstance(value, list):
        raise BadRequest(422, f"field {key!r} must be a list, got {type(value).__name__}")
    return value


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise BadRequest(400, "malformed JSON: nested too deeply") from None


def get_reward_request(body: Any, max_batch: int) -> tuple[list, list, list]:
    """OpenRLHF's request -> (queries, prompts, labels), checked; BadRequest names a wrong shape."""
    if not isinstance(body, dict):
        raise BadRequest(422, f"the body must be a JSON object with 'query', 'prompts', 'labels'; got {type(body).__name__}")
    queries = _check_list(body, "query", True)
    n = len(queries)
    if n > max_batch:
        raise BadRequest(413, f"{n} queries in one request; the limit is {max_batch}")
    prompts = _check_list(body, "prompts", False)
    labels = _check_list(body, "labels", False)
    prompts = [None] * n if prompts is None else prompts
    labels = [None] * n if labels is None else labels
    if len(prompts) != n or len(labels) != n:
        raise BadRequest(422, f"got {n} queries, {len(prompts)} prompts and {len(labels)} labels; they must match")
    for name, values in (("query", queries), ("prompts", prompts)):
        for i, v in enumerate(values):
            if not isinstance(v, str) and not (name == "prompts" and v is None):
                raise BadRequest(422, f"{name}[{i}] must be a string, got {type(v).__name__}")
    for i, v in enumerate(labels):
        if isinstance(v, bool) or not (v is None or isinstance(v, (str, int, float, dict, list))):
            raise BadRequest(422, f"labels[{i}] must be a string, a number or a test suite, got {type(v).__name__}")
    return queries, prompts, labels


def score_request(body: Any, max_batch: int) -> tuple[list, dict[str, str], str | None, str]:
    """Our /score request -> (rows, field map, task, prefix); BadRequest names a wrong shape."""
    from verifiers.rows import SAMPLE_FIELDS, output_clash

    if isinstance(body, list):
        body = {"rows": body}
    if not isinstance(body, dict):
        raise BadRequest(422, f"the body must be {{'rows': [...]}} or a list of rows, got {type(body).__name__}")
    rows = _check_list(body, "rows", True)
    if len(rows) > max_batch:
        raise BadRequest(413, f"{len(rows)} rows in one request; the limit is {max_batch}")
    fields = body.get("fields") or {}
    if not isinstance(fields, dict) or not all(
        k in SAMPLE_FIELDS and isinstance(v, str) and v for k, v in fields.items()
    ):
        raise BadRequest(422, f"'fields' must map some of {', '.join(SAMPLE_FIELDS)} to source keys, got {fields!r}")
    task, prefix = body.get("task"), body.get("prefix", "")
    if task is not None and not isinstance(task, str):
        raise BadRequest(422, f"'task' must be a string (the route for every row), got {type(task).__name__}")
    if not isinstance(prefix, str):
        raise BadRequest(422, f"'prefix' must be a string, got {type(prefix).__name__}")
    for i, row in enumerate(rows):
        clash = output_clash(row, prefix)
        if clash is not None:
            raise BadRequest(422, f"rows[{i}] has a column {clash!r} that the output would overwrite; "
                                  f"send a prefix for the output columns, e.g. \"prefix\": \"score_\"")
    return rows, fields, task, prefix


def _json_response(content: Any, status: int = 200, allow_nan: bool = False) -> Any:
    from starlette.responses import Response

    text = json.dumps(content, ensure_ascii=False, allow_nan=allow_nan, default=str)
    return Response(text, status_code=status, media_type="application/json")


# ---------------------------------------------------------------- the app


def create_app(
    service: RewardService,
    *,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_batch: int = MAX_BATCH,
    on_none: float | str = "nan",
) -> Any:
    """The FastAPI app serving `service` (see the module doc)."""
    from fastapi import FastAPI, Request

    from verifiers.rows import error_row, finite_json, row_to_sample, scored_row

    app = FastAPI(title="r1-verifiers reward server", docs_url=None, redoc_url=None, openapi_url=None)
    expected = None if token is None else f"Bearer {token}".encode()

    async def read_body(request: Request) -> Any:
        if expected is not None:
            got = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(got, expected):
                raise BadRequest(401, "missing or wrong bearer token (Authorization: Bearer <token>)")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body_bytes):
            raise BadRequest(413, f"request body of {length} bytes; the limit is {max_body_bytes}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise BadRequest(413, f"request body over the limit of {max_body_bytes} bytes")
            chunks.append(chunk)
        return _parse(b"".join(chunks))

    def error(exc: BadRequest) -> Any:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        response = _json_response({"error": str(exc)}, exc.status)
        if headers:
            response.headers.update(headers)
        return response

    @app.get("/health")
    async def health() -> Any:
        return _json_response({"status": "ok", "components": service.components, "workers": service.workers})

    @app.post("/get_reward")
    async def get_reward(request: Request) -> Any:
        from verifiers.integrations.openrlhf import openrlhf_result, queries_to_samples

        try:
            queries, prompts, labels = get_reward_request(await read_body(request), max_batch)
            samples = queries_to_samples(queries, prompts, labels)
        except BadRequest as exc:
            return error(exc)
        except ValueError as exc:
            return error(BadRequest(422, str(exc)))
        try:
            result = openrlhf_result(service.reward, await service.score(samples), on_none=on_none)
        except Exception as exc:  # an outage (or on_none="raise"): no reward for this batch, never a made-up one
            return _json_response({"error": f"scoring failed: {type(exc).__name__}: {exc}"}, 503)
        return _json_response(result, allow_nan=True)

    @app.post("/score")
    async def score(request: Request) -> Any:
        try:
            rows, fields, task, prefix = score_request(await read_body(request), max_batch)
        except BadRequest as exc:
            return error(exc)
        samples, errors = [], {}
        for i, row in enumerate(rows):
            try:
                samples.append(row_to_sample(row, fields, task))
            except ValueError as exc:
                errors[i] = f"line {i + 1}: {exc}"
        try:
            scores = iter(await service.score(samples))
        except Exception as exc:  # an outage: no scores for this batch
            return _json_response({"error": f"scoring failed: {type(exc).__name__}: {exc}"}, 503)
        out = [
            error_row(row, i + 1, errors[i], prefix=prefix) if i in errors
            else finite_json(scored_row(row, next(scores), i + 1, prefix))
            for i, row in enumerate(rows)
        ]
        return _json_response({"rows": out})

    return app


class CannotListen(RuntimeError):
    """The server cannot listen on its address (the port is in use, the host is not this machine's)."""


def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), ready for uvicorn; CannotListen says why not in one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn: "localhost" is IPv4
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart need not wait
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0-65535
        sock.close()
        reason = getattr(exc, "strerror", None) or str(exc)
        hint = "; another server holds it (pick another --port)" if exc.errno == errno.EADDRINUSE else ""
        raise CannotListen(f"cannot listen on {host}:{port}: {reason}{hint}") from None
    return sock


def serve(
    config: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    workers: int = 1,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_batch: int = MAX_BATCH,
    on_none: float | str = "nan",
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Run the server until interrupted (uvicorn). The config is loaded first (ConfigError), then the
    address bound (CannotListen: a port in use), then `on_listening` is called and requests are served."""
    import uvicorn

    service = RewardService(config, workers=workers)
    try:
        app = create_app(service, token=token, max_body_bytes=max_body_bytes, max_batch=max_batch, on_none=on_none)
        sock = listen_socket(host, port)  # bound here: uvicorn.run would exit the process (status 3) itself
        if on_listening is not None:
            on_listening()
        # keep-alive longer than uvicorn's 5 s: a client reusing a connection the server is closing gets a
        # reset (seen under load as httpx ReadError); 30 s makes that race rare
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=30))
        server.run(sockets=[sock])
    finally:
        service.close()
