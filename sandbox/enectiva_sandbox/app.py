"""The ASGI application (Starlette requests/responses): one pipeline for every documented operation.

Order of checks (contract section 5): latency, 429 rate limit, injected 5xx, 406/415 media
type, 401/403 authentication (and 404 unknown customer), then the operation itself
(404/400/409). Injected drops close the connection without an answer, either before the
operation runs or after it (then the change is stored but the client never hears of it).
With a rate limit set, every answer carries the caller's budget headers (contract section 8).
The handlers' side of the pipeline is ``handler.py``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from starlette.datastructures import URL
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from enectiva import contract, media
from enectiva.errors import error_document
from enectiva_sandbox import admin, imports, reads, security
from enectiva_sandbox.deltas import DeltaCalculator
from enectiva_sandbox.faults import Budget, Faults, RateLimiter, Stats
from enectiva_sandbox.handler import Context, Handler
from enectiva_sandbox.jsonapi import Problem
from enectiva_sandbox.routing import Router
from enectiva_sandbox.store import Store

log = logging.getLogger("enectiva_sandbox")
_encode = msgspec.json.Encoder().encode


HANDLERS: dict[str, Handler] = {**security.HANDLERS, **reads.HANDLERS, **imports.HANDLERS}

#: An answer as sent: status, body bytes, extra headers.
Wire = tuple[int, bytes, dict[str, str]]
_MEDIA_TYPE = media.MEDIA_TYPE.encode("latin-1")
#: The request headers the pipeline reads.
_READ_HEADERS = tuple((n, n.encode()) for n in ("accept", "authorization", "content-type", "host"))


class Incoming:
    """An API request read straight from its ASGI scope.

    Not Starlette's ``Request``: its header and URL objects cost more than the rest of a
    reading POST (the sandbox must not be what the target's benchmark measures).
    """

    __slots__ = ("_receive", "headers", "method", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.method: str = scope["method"]
        # ASGI names are lower case; reversed: the first of repeated headers wins, as in
        # Starlette's Headers.get()
        raw = dict(reversed(scope["headers"]))
        self.headers = {
            name: raw[key].decode("latin-1") for name, key in _READ_HEADERS if key in raw
        }
        self._receive = receive

    async def body(self) -> bytes:
        """The whole body (read once); ClientDisconnect when the client went away."""
        chunks: list[bytes] = []
        while True:
            message = await self._receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    return b"".join(chunks)
            elif message["type"] == "http.disconnect":
                raise ClientDisconnect()

    def base_url(self, raw_path: str) -> str:
        """The absolute URL of ``raw_path`` (no query), as the client addressed us."""
        netloc = self.headers.get("host") or URL(scope=self.scope).netloc
        return f"{self.scope.get('scheme', 'http')}://{netloc}{raw_path}"


class Server:
    """The sandbox's state: store, settings, counters."""

    def __init__(
        self,
        store: Store,
        *,
        secret: str,
        page_size: int = 1000,
        faults: Faults | None = None,
        validate_responses: bool = False,
    ) -> None:
        missing = set(contract.operations()) ^ set(HANDLERS)
        if missing:
            raise RuntimeError(f"operations without handler or undocumented: {sorted(missing)}")
        self.store = store
        self.page_size = page_size
        self.faults = faults or Faults()
        self.validate_responses = validate_responses
        self.stats = Stats()
        self.limiter = RateLimiter()
        self.router = Router()
        self.auth = security.Authenticator(store, secret)
        self.deltas = DeltaCalculator(store)

    # ---------- the pipeline ----------

    async def handle(self, request: Incoming, raw_path: str) -> Wire | None:
        """Answer one API request (status, body, extra headers); None means: drop the connection."""
        op, params, known = self.router.match(raw_path, request.method)
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        budget: Budget | None = None
        key: str | None = None
        try:
            if faults.rate_limit:
                key = self.auth.credential_key(request.headers.get("authorization"))
                budget = self.limiter.take(key, faults.rate_limit)
                if budget.retry_after is not None:
                    raise _rate_limited(budget)
            status, doc = await self._outcome(request, op, params, known, raw_path)
            headers: dict[str, str] = {}
        except Problem as problem:
            status, doc, headers = problem.status, problem.document, problem.headers
        except _Drop:
            self.stats.dropped += 1
            return None
        if faults.drop_rate and request.method != "GET" and faults.pick_drop():
            self.stats.dropped += 1  # stored, but the client never hears of it
            return None
        if self.validate_responses and op is not None:
            status, doc, headers = self._validated(op, status, doc, headers)
        if budget is not None and faults.budget_headers:
            headers = {**headers, **budget.headers()}
        self.stats.count(op.operation_id if op else None, status)
        if key is not None:
            self.stats.count_credential(self.auth.credential_name(key), status)
        return status, (b"" if doc is None else _encode(doc)), headers

    async def _outcome(
        self,
        request: Incoming,
        op: contract.Operation | None,
        params: dict[str, str],
        known: bool,
        raw_path: str,
    ) -> tuple[int, dict[str, Any] | None]:
        """The operation's status and document once every check passed (or a Problem)."""
        headers = request.headers
        faults = self.faults
        failure = faults.pick_failure()
        if failure is not None:
            self.stats.failed += 1
            raise Problem(failure, "injected failure (sandbox --fail-rate)")
        if faults.drop_rate and faults.pick_drop():
            raise _Drop
        if op is None:
            if known:
                allowed = ", ".join(self.router.allowed_methods(raw_path))
                raise Problem(
                    405,
                    f"{request.method} is not allowed here (use {allowed})",
                    headers={"Allow": allowed},
                )
            raise Problem(404, f"no such path {raw_path}", code="not_found")
        if not media.accept_ok(headers.get("accept")):
            raise Problem(406, f"the Accept header must list {media.MEDIA_TYPE}")
        body = await request.body()
        # only a body has a media type: a request without one is never 415 (contract section 1)
        if body and not media.content_type_ok(headers.get("content-type")):
            raise Problem(415, f"the Content-Type must be {media.MEDIA_TYPE}")
        authorization = headers.get("authorization")
        caller = self.auth.check(op, authorization, params)
        ctx = Context(
            op=op,
            params=params,
            customer_id=caller.customer_id,
            token=security.bearer_token(authorization) or "",
            base=request.base_url(raw_path),
            query_string=request.scope.get("query_string", b"").decode("latin-1"),
            body=body,
        )
        return HANDLERS[op.operation_id](self, ctx)

    def _validated(
        self, op: contract.Operation, status: int, doc: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """Check an answer against its documented schema; a mismatch becomes a loud 500."""
        problems: list[str] = []
        if str(status) not in op.statuses and status not in (405, 500, 502, 503):
            problems.append(f"status {status} is not documented")
        else:
            name = contract.response_schema_name(op.operation_id, status)
            if name is None and doc is not None and status < 500:
                problems.append(f"status {status} documents no body")
            elif name is not None:
                errors = list(contract.validator(name).iter_errors(doc))
                problems += [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
        if status == 429 and not headers.get("Retry-After", "").isdigit():
            problems.append("429 without an integer Retry-After")
        if not problems:
            return status, doc, headers
        self.stats.invalid_responses += 1
        message = f"{op.operation_id} {status}: " + "; ".join(problems[:3])
        self.stats.response_errors.append(message)
        log.error("invalid response: %s", message)
        return 500, error_document(500, f"sandbox answer broke the contract: {message}"), {}


def _rate_limited(budget: Budget) -> Problem:
    wait = budget.retry_after
    return Problem(
        429,
        f"rate limit of {budget.limit:g} requests/s exceeded: retry in {wait} s",
        headers={"Retry-After": str(wait)},
    )


class _Drop(Exception):
    """Close the connection without answering."""


def build_app(server: Server) -> ASGIApp:
    """The ASGI application serving ``server``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # Every HTTP request goes to ``server``: no Starlette route table in front, whose
        # path regex would answer its own text/plain 404 for e.g. a decoded newline in a path.
        if scope["type"] != "http":
            return
        raw_path = scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        if not raw_path:
            raw_path = URL(scope=scope).path
        response: Response | None = None
        try:
            if raw_path.startswith("/_sandbox/"):
                response = await admin.handle(server, Request(scope, receive), raw_path)
            else:
                answer = await server.handle(Incoming(scope, receive), raw_path)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            doc = error_document(500, "unexpected sandbox error (see the server log)")
            server.stats.count(None, 500)
            answer = 500, _encode(doc), {}
        if response is not None:
            await response(scope, receive, send)
            return
        if answer is None:
            # uvicorn's request cycle, so that the drop can close the connection
            drop_connection(getattr(send, "__self__", None))
            return
        await send(
            {"type": "http.response.start", "status": answer[0], "headers": raw_headers(answer)}
        )
        await send({"type": "http.response.body", "body": answer[1]})

    return app


def raw_headers(answer: Wire) -> list[tuple[bytes, bytes]]:
    """The headers Starlette's ``Response`` would send for an answer (same names and order)."""
    status, body, headers = answer
    if not headers and body and status not in (204, 304):  # the usual answer
        return [
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", _MEDIA_TYPE),
        ]
    out = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if not (status < 200 or status in (204, 304)):
        out.append((b"content-length", str(len(body)).encode("latin-1")))
    if body:
        out.append((b"content-type", _MEDIA_TYPE))
    return out


def drop_connection(cycle: Any) -> None:
    """Close uvicorn's connection of a request cycle without answering."""
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: no uvicorn transport")
    cycle.disconnected = True  # so that uvicorn does not try to answer 500 on a closed socket
    transport.close()
