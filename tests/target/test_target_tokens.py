"""The delivery engine against a scripted server: access tokens (invoices) renewed before
expiry and after a 401, and the ceiling of requests in flight.

Contract section 5: clients renew before ``exp`` and once more on a 401. The engine runs
against a scripted local server, so the order of answers is exact. The token state machine
alone (reuse while fresh, renew when due, probation after a 401) is tested in
``tests/unit/test_credentials.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from target_enectiva import DEFAULT_SENDER
from target_enectiva.delivery import Delivery, DeliverySettings
from target_enectiva.errors import TargetError
from target_enectiva.kinds import KINDS
from target_enectiva.report import Report
from target_enectiva.sinks import RecordPreparation
from target_enectiva.watermark import Watermark

from enectiva import auth
from enectiva.errors import error_document
from enectiva.media import MEDIA_TYPE

CUSTOMER = "11111111-2222-4333-8444-555555555555"
SECRET = "test-signing-secret-of-32-bytes-at-least"
LOGIN_TOKEN = "login-token-for-tests-0123456789"


def token_document(lifetime: int) -> bytes:
    token, jti, _exp = auth.issue_access_token(
        SECRET, subject="u", customer=CUSTOMER, scopes=["received_invoices"], lifetime=lifetime
    )
    doc = {"data": {"type": "access_tokens", "id": jti, "attributes": {"token": token}}}
    return json.dumps(doc).encode()


# ---------- the engine against a scripted server ----------


class ScriptedApi:
    """Serves the token exchange and answers invoice POSTs from a script.

    ``script`` holds one ``(delay seconds, status)`` per invoice request, in arrival order;
    every Authorization token used is recorded in ``tokens_seen``.
    """

    def __init__(self, script: list[tuple[float, int]], *, lifetime: int) -> None:
        self.script = list(script)
        self.lifetime = lifetime
        self.exchanges = 0
        self.tokens_seen: list[str] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> ScriptedApi:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post(auth.access_token_path(), self._exchange)
        app.router.add_post("/meters/{meter}/invoices/received", self._invoice)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def _exchange(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == f"Bearer {LOGIN_TOKEN}"
        self.exchanges += 1
        return web.Response(body=token_document(self.lifetime), status=201, content_type=MEDIA_TYPE)

    async def _invoice(self, request: web.Request) -> web.Response:
        self.tokens_seen.append(request.headers["Authorization"].removeprefix("Bearer "))
        delay, status = self.script.pop(0)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1
        if status == 201:
            attributes = await request.json()
            doc = {"data": {"type": "received_invoices", "id": "1", **attributes["data"]}}
            return web.Response(body=json.dumps(doc), status=201, content_type=MEDIA_TYPE)
        detail = "the access token has expired: obtain a new one"
        return web.Response(
            body=json.dumps(error_document(status, detail)), status=status, content_type=MEDIA_TYPE
        )


@pytest.fixture
def deliver() -> Iterator[Any]:
    """Runs invoices through a real :class:`Delivery`; returns its report's counts."""
    engines: list[Delivery] = []

    def run(
        api: ScriptedApi, count: int = 1, *, meters: int = 1, max_concurrency: int = 1
    ) -> dict[str, int]:
        plan = RecordPreparation(
            KINDS["invoices"],
            "invoices",
            api_url=api.url,
            customer_id=CUSTOMER,
            sender=DEFAULT_SENDER,
            default_tz=None,
            want_order=False,
        )
        report = Report()
        settings = DeliverySettings(
            import_token=None,
            login_token=LOGIN_TOKEN,
            access_token_url=api.url + auth.access_token_path(),
            max_concurrency=max_concurrency,
            request_timeout=10,
            max_retries=2,
            secrets=(LOGIN_TOKEN,),
        )
        engine = Delivery(
            settings,
            report=report,
            watermark=Watermark(lambda _value: None),
            invalid=None,
            logger=logging.getLogger("test-target-tokens"),
        )
        engines.append(engine)
        engine.start()
        for n in range(count):
            meter = str(7 + n % meters)  # one lane per meter
            day = f"2020-01-{n + 1:02d}"
            record = {"meter_id": meter, "from": day, "to": day}
            engine.submit(plan.job_for({**record, "cost": 1.0}))
        engine.finish(timeout=60)
        return report.snapshot()["invoices"]

    yield run
    for engine in engines:
        engine.close()


def test_a_renewed_token_expiring_in_flight_is_renewed_again(deliver: Any) -> None:
    # 2 s tokens: the renewal is sent fresh, but the answer takes long enough for it to be
    # past half its lifetime (due) when its 401 comes back: renew again instead of stopping
    with ScriptedApi([(0, 401), (1.5, 401), (0, 201)], lifetime=2) as api:
        counts = deliver(api)
    assert counts["created"] == 1
    assert api.exchanges == 3
    assert len(set(api.tokens_seen)) == 3


def test_a_fresh_renewal_refused_again_stops_with_one_line(deliver: Any) -> None:
    with (
        ScriptedApi([(0, 401), (0, 401), (0, 201)], lifetime=300) as api,
        pytest.raises(TargetError) as caught,
    ):
        deliver(api)
    message = str(caught.value)
    assert "stream invoices" in message and "401" in message and "login_token" in message
    assert LOGIN_TOKEN not in message and not any(t in message for t in api.tokens_seen)
    assert api.exchanges == 2


def test_max_concurrency_is_the_ceiling_of_requests_in_flight(deliver: Any) -> None:
    # 24 lanes ready at once, answers held 50 ms: the engine keeps exactly 3 in flight
    with ScriptedApi([(0.05, 201)] * 24, lifetime=300) as api:
        counts = deliver(api, 24, meters=24, max_concurrency=3)
    assert counts["created"] == 24
    assert api.peak_in_flight == 3
