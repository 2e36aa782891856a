"""A fault-injecting reverse proxy in front of a sandbox, for faults the sandbox lacks.

The sandbox injects 5xx *before* it processes a request, 429 *with* ``Retry-After`` and
dropped connections. This proxy adds, on a configurable share of requests:

- ``429_no_retry_after``: a 429 without ``Retry-After`` (the client must back off on its own);
- ``slow``: the request reaches the sandbox (and is stored) but the answer comes only after
  ``slow_seconds`` (set it beyond the client's ``request_timeout``);
- ``5xx_after``: the request is stored, then the client gets a 502 (a gateway losing the answer);
- ``reset``: the connection is closed before the request is forwarded.

It can also serve TLS (a self-signed certificate) in front of a plain-HTTP sandbox.
The admin API (``/_sandbox/``) passes through untouched.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import threading
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web

from enectiva.errors import error_document
from enectiva.media import MEDIA_TYPE

FAULT_KINDS = ("429_no_retry_after", "slow", "5xx_after", "reset")
HOP_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"}
)


class ChaosProxy:
    """Runs in a background thread with its own event loop; ``url`` once started."""

    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        rates: dict[str, float] | None = None,
        slow_seconds: float = 3.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.rates: dict[str, float] = dict(rates or {})
        self.slow_seconds = slow_seconds
        self.ssl_context = ssl_context
        self.counts: Counter[str] = Counter()
        self.requests = 0
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    # ---------- life cycle (test thread) ----------

    def start(self) -> ChaosProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def set_rates(self, **rates: float) -> None:
        """Change the share of requests getting each fault kind (0 turns one off)."""
        unknown = set(rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        self.rates.update(rates)

    def __enter__(self) -> ChaosProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------- event loop ----------

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=120), auto_decompress=False
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if self.ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _pick(self) -> str | None:
        draw = self._rng.random()
        for kind in FAULT_KINDS:
            share = self.rates.get(kind, 0.0)
            if draw < share:
                return kind
            draw -= share
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        admin = request.path.startswith("/_sandbox/")
        fault = None if admin else self._pick()
        if not admin:
            self.requests += 1
        if fault:
            self.counts[fault] += 1
        if fault == "429_no_retry_after":
            return _error(429, "injected rate limit without Retry-After (chaos proxy)")
        if fault == "reset":
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        body = await request.read()
        # Host is kept: the sandbox builds links.next from it, so pages come back here.
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        assert self._session is not None
        try:
            async with self._session.request(
                request.method,
                self.upstream + request.raw_path,
                headers=headers,
                data=body if body else None,
                allow_redirects=False,
            ) as answer:
                content = await answer.read()
                status = answer.status
                out_headers = {
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() not in HOP_HEADERS and k.lower() != "host"
                }
        except (TimeoutError, aiohttp.ClientError):
            # the sandbox dropped the connection (its own fault): pass the drop on
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError from None
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        if fault == "5xx_after":
            return _error(502, "injected bad gateway after the request was processed")
        return web.Response(body=content, status=status, headers=out_headers)


def _error(status: int, detail: str) -> web.Response:
    import json

    body = json.dumps(error_document(status, detail)).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": MEDIA_TYPE})


def stats_of(proxy: ChaosProxy) -> dict[str, Any]:
    return {"requests": proxy.requests, **{k: proxy.counts.get(k, 0) for k in FAULT_KINDS}}
