"""`offgate serve`: the collector, a stateless aiohttp service in front of PostgreSQL.

It keeps nothing itself: tokens, devices and records live in the database, so any number
of collector processes, on any machines, can serve one database behind a load balancer.
Each request's database work (and the inflating and validating of a batch) runs in a
small thread pool, so a slow database never blocks the event loop. Every refusal is a 4xx
with a JSON ErrorBody whose code names the kind of bad input, and stores nothing; a
database that does not answer is a 503 the agent retries later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from fleet.ingest import RecordsRefused, apply_batch
from fleet.registry import Device, Refused, Registry
from fleet.wire import (
    ENROLL_PATH,
    HEALTH_PATH,
    INGEST_PATH,
    MAX_BODY_BYTES,
    MAX_ENROLL_BYTES,
    MAX_INFLATED_BYTES,
    POLICY_PATH,
    Batch,
    EnrollRequest,
    ErrorCode,
)
from offgate.stopping import on_stop_signals
from offgate.store import Store, StoreError
from offgate.store.policies import NO_POLICY_VERSION, CentralPolicies

log = logging.getLogger("offgate.collector")

DATABASE_WORKERS = 4  # database connections per collector process
RETRY_AFTER_S = 5
_REFUSAL_STATUS = {
    ErrorCode.UNAUTHENTICATED: 401, ErrorCode.TOKEN_UNKNOWN: 401, ErrorCode.DEVICE_REVOKED: 403,
    ErrorCode.TOKEN_EXPIRED: 403, ErrorCode.TOKEN_USED_UP: 403, ErrorCode.TOKEN_REVOKED: 403,
}
_HTTP_ERROR_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 413: ErrorCode.TOO_LARGE}
_STORE = web.AppKey("store", Store)
_POOL = web.AppKey("pool", ThreadPoolExecutor)


class Problem(Exception):
    """A request refused: the status, the wire's ErrorCode and a sentence for the agent's log."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def error_response(status: int, code: str, message: str) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def create_app(store: Store, pool: ThreadPoolExecutor) -> web.Application:
    # The request size limit is the compressed one; the inflated size is checked while inflating.
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_errors_as_json])
    app[_STORE] = store
    app[_POOL] = pool
    app.router.add_post(ENROLL_PATH, _enroll)
    app.router.add_post(INGEST_PATH, _ingest)
    app.router.add_get(POLICY_PATH, _policy)
    app.router.add_get(HEALTH_PATH, _health)
    return app


@web.middleware
async def _errors_as_json(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        log.warning("%s %s refused (%s): %s", request.method, request.path, problem.code, problem)
        return error_response(problem.status, problem.code, str(problem))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_ERROR_CODES.get(exc.status, "http_error")
        message = exc.reason
        if exc.status == 413:
            message = f"the body is over the collector's limit of {MAX_BODY_BYTES} bytes"
        return error_response(exc.status, code, message)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, ErrorCode.INTERNAL, "the collector failed on this request (its log says why): "
                                                       "try again later")


async def _in_pool[T](request: web.Request, work: Callable[[Store], T]) -> T:
    store = request.app[_STORE]
    try:
        return await asyncio.get_running_loop().run_in_executor(request.app[_POOL], _on_store, store, work)
    except StoreError as exc:
        log.error("%s", exc)
        raise Problem(503, ErrorCode.STORE_UNAVAILABLE, "the collector cannot reach its database: try again later") \
            from None


def _on_store[T](store: Store, work: Callable[[Store], T]) -> T:
    try:
        return work(store)
    except StoreError:
        # This thread's connection may be dead (the server restarted): the next request opens a new one.
        with contextlib.suppress(StoreError):
            store.close()
        raise


async def _health(request: web.Request) -> web.Response:
    await _in_pool(request, lambda store: store.schema_version())
    return web.json_response({"status": "ok"})


async def _enroll(request: web.Request) -> web.Response:
    body = await _body(request, MAX_ENROLL_BYTES)
    enrolment = _validated(EnrollRequest, body)

    def enroll(store: Store) -> dict[str, Any]:
        try:
            return Registry(store).enroll(enrolment).model_dump()
        except Refused as refused:
            raise Problem(_REFUSAL_STATUS[refused.code], refused.code, str(refused)) from None

    answer = await _in_pool(request, enroll)
    log.info("enrolled device %s (owner %s, agent %s)", answer["device_name"], enrolment.owner or "-",
             enrolment.agent_version)
    return web.json_response(answer, status=201)


async def _ingest(request: web.Request) -> web.Response:
    credential = _bearer(request)
    body = await _body(request, MAX_BODY_BYTES)
    gzipped = _gzipped(request)

    def ingest(store: Store) -> dict[str, Any]:
        device = _authenticated(store, credential)
        batch = _validated(Batch, _inflated(body) if gzipped else body)
        try:
            applied = apply_batch(store, device, batch)
        except RecordsRefused as refused:
            raise Problem(422, ErrorCode.INVALID, f"{refused}: nothing was stored") from None
        if applied.impersonated:
            log.warning("device %s pushed records naming enrolled device(s) %s: stored as %s's", device.name,
                        ", ".join(applied.impersonated), device.name)
        policy_version = CentralPolicies(store).current_version()
        return applied.acknowledgement.model_copy(update={"policy_version": policy_version}).model_dump()

    return web.json_response(await _in_pool(request, ingest))


async def _policy(request: web.Request) -> web.Response:
    credential = _bearer(request)

    def current(store: Store) -> dict[str, Any]:
        _authenticated(store, credential)
        found = CentralPolicies(store).current()
        if found is None:
            return {"version": NO_POLICY_VERSION, "policy": None}
        return {"version": found.version, "policy": None if found.document is None else json.loads(found.document)}

    reply = await _in_pool(request, current)
    etag = f'"{reply["version"]}"'
    if etag in (tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")):
        return web.Response(status=304, headers={"ETag": etag})
    return web.json_response(reply, headers={"ETag": etag})


def _authenticated(store: Store, credential: str) -> Device:
    try:
        return Registry(store).authenticate(credential)
    except Refused as refused:
        raise Problem(_REFUSAL_STATUS[refused.code], refused.code, str(refused)) from None


def _bearer(request: web.Request) -> str:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Problem(401, ErrorCode.UNAUTHENTICATED, "no device credential: send Authorization: Bearer <credential>")
    return credential.strip()


async def _body(request: web.Request, limit: int) -> bytes:
    if request.content_type != "application/json":
        raise Problem(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                      f"the body must be application/json, not {request.content_type or 'untyped'}")
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, ErrorCode.TOO_LARGE, f"the body is over the limit of {limit} bytes")
    body = await request.read()
    if len(body) > limit:
        raise Problem(413, ErrorCode.TOO_LARGE, f"the body is over the limit of {limit} bytes")
    return body


def _gzipped(request: web.Request) -> bool:
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity"):
        raise Problem(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Content-Encoding {encoding!r}: send gzip or none")
    return encoding == "gzip"


def _inflated(body: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing only
    try:
        inflated = inflater.decompress(body, MAX_INFLATED_BYTES)
        if inflater.unconsumed_tail:
            raise Problem(413, ErrorCode.TOO_LARGE, f"the batch inflates to more than {MAX_INFLATED_BYTES} bytes")
        if not inflater.eof:
            raise Problem(400, ErrorCode.BAD_GZIP, "the gzip stream is cut short")
    except zlib.error as exc:
        raise Problem(400, ErrorCode.BAD_GZIP, f"the body is not valid gzip: {exc}") from None
    return inflated


def _validated[M: BaseModel](model: type[M], body: bytes) -> M:
    # Strict: a number where a text belongs (or the reverse) is refused, not converted.
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise _problem_from(exc) from None


def _problem_from(exc: ValidationError) -> Problem:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return Problem(400, ErrorCode.BAD_JSON, f"the body is not JSON: {first['msg']}")
    unknown = [error for error in errors if error["type"] == "extra_forbidden"]
    if unknown:
        return Problem(422, ErrorCode.UNKNOWN_FIELD, f"unknown field {_where(unknown[0])} "
                                                     f"({len(unknown)} unknown in all): nothing was stored")
    too_long = [error for error in errors if error["type"] == "too_long"]
    if too_long:
        return Problem(413, ErrorCode.TOO_LARGE, f"{_where(too_long[0])}: {too_long[0]['msg']}")
    return Problem(422, ErrorCode.INVALID, f"{_where(first)}: {first['msg']} ({len(errors)} problems in all): "
                                           "nothing was stored")


def _where(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "body"


async def start_collector(store: Store, host: str, port: int, ssl_context: ssl.SSLContext | None,
                          pool: ThreadPoolExecutor) -> web.AppRunner:
    """Serve on host:port (0: a free port); the caller calls the runner's cleanup()."""
    # No access log (one line per push is noise at fleet scale); refusals are logged.
    # auto_decompress off: the body is inflated here, with a limit, in the pool.
    runner = web.AppRunner(create_app(store, pool), access_log=None, auto_decompress=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    return runner


async def serve_until_stopped(store: Store, host: str, port: int, ssl_context: ssl.SSLContext | None,
                              started: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM; `started` is told the address once it listens."""
    stopped = asyncio.Event()
    on_stop_signals(asyncio.get_running_loop(), stopped.set)
    with ThreadPoolExecutor(DATABASE_WORKERS, thread_name_prefix="offgate-collector") as pool:
        runner = await start_collector(store, host, port, ssl_context, pool)
        try:
            bound_host, bound_port = runner.addresses[0][:2]
            started(f"{'https' if ssl_context else 'http'}://{bound_host}:{bound_port}")
            await stopped.wait()
        finally:
            await runner.cleanup()
