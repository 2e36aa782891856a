"""The delivery engine: one HTTP request per record, concurrent across series, ordered within.

The SDK's batch sinks send a sink's records serially and only when it drains (when full,
every few minutes, at the end); latency-bound pushes need many requests in flight, so each
sink hands every checked record's :class:`~target_enectiva.plan.Job` to this engine as soon as
it is read. The engine runs an asyncio loop with one aiohttp session in a
background thread:

- one ordered *lane* per series ``(import_id, suit)`` (invoices: per meter): a lane sends its
  records one after another in input order; different lanes run concurrently;
- at most ``max_concurrency`` requests in flight; within that ceiling each credential (the
  import tokens; the login tokens with their access tokens) is paced by its
  :class:`~enectiva.policy.CredentialPolicy`, from budget headers or learned from 429s;
- what each answer means (retry with backoff, ``Retry-After``, renew the access token, switch
  to the second token, reject, stop) is decided by :mod:`enectiva.policy`; the engine only
  sends, sleeps, counts and logs;
- backpressure: :meth:`Delivery.submit` blocks while ``capacity`` records are outstanding,
  until half of them are answered (the two threads then swap once per batch, not per record);
- hand-off in batches: jobs wait in an inbox that the loop empties in one wake-up.

Every finished record is acknowledged to the :class:`~target_enectiva.watermark.Watermark`,
which releases STATE; a record the API refuses goes to
:class:`~target_enectiva.invalid.InvalidRecords`. Nothing here calls back into the target.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import msgspec
from multidict import CIMultiDictProxy
from yarl import URL

from enectiva import auth, errors, media
from enectiva.credentials import AccessTokens, TokenPair
from enectiva.errors import Outcome
from enectiva.pacing import Pacer
from enectiva.policy import (
    Action,
    Answer,
    Attempts,
    CredentialPolicy,
    Decision,
    Limits,
    Request,
    TokenKind,
)
from enectiva.times import TimeFormatError, parse_timestamp
from target_enectiva import DEFAULT_SENDER, connection
from target_enectiva.errors import TargetError, certificate_refused
from target_enectiva.invalid import InvalidRecords
from target_enectiva.kinds import Kind
from target_enectiva.plan import Job
from target_enectiva.report import Report
from target_enectiva.watermark import Watermark

TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


@dataclass(frozen=True)
class DeliverySettings:
    """What the engine needs from the target's config."""

    import_token: str | None
    login_token: str | None
    access_token_url: str
    import_token_secondary: str | None = None
    login_token_secondary: str | None = None
    max_concurrency: int = 32
    request_timeout: float = 60.0
    max_retries: int = 8
    skip_already_imported: bool = False
    verify_tls: bool = True
    ca_bundle: str | None = None
    report_interval: float = 30.0
    sender: str = DEFAULT_SENDER
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def capacity(self) -> int:
        """Records outstanding before :meth:`Delivery.submit` blocks."""
        return 4 * max(1, self.max_concurrency)


class Delivery:
    """The engine; :meth:`start`, :meth:`submit` from the main thread, then :meth:`finish`."""

    def __init__(
        self,
        settings: DeliverySettings,
        *,
        report: Report,
        watermark: Watermark,
        invalid: InvalidRecords | None = None,
        logger: logging.Logger,
    ) -> None:
        """``invalid``: who refuses records the API rejects (None: each stops the run)."""
        self.settings = settings
        self._report = report
        self._watermark = watermark
        self._invalid = invalid
        self._logger = logger
        self._room = threading.Condition()
        # outstanding = submitted - finished; each counter has one writer, so no lock per record
        self._submitted = 0  # main thread only
        self._finished = 0  # engine thread only
        self._wake_at: int | None = None  # the main thread waits for outstanding <= this
        self._inbox: deque[Job] = deque()
        self._inbox_scheduled = False
        self._header_cache: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
        self._fatal: str | None = None
        self._loop = _new_event_loop()
        self._thread = threading.Thread(target=self._run, name="enectiva-delivery", daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        limits = Limits(max_retries=settings.max_retries)
        self._import = CredentialPolicy(
            "import_token",
            TokenPair(
                settings.import_token or "", settings.import_token_secondary, setting="import_token"
            ),
            limits=limits,
            pacer=_pacer(),
        )
        self._access = CredentialPolicy(
            "login_token",
            AccessTokens(
                TokenPair(
                    settings.login_token or "",
                    settings.login_token_secondary,
                    setting="login_token",
                )
            ),
            limits=limits,
            pacer=_pacer(),
        )
        report.add_credentials(self._import, self._access)
        self._in_flight = asyncio.Semaphore(max(1, settings.max_concurrency))
        self._exchange_lock = asyncio.Lock()
        self._requests: dict[tuple[str, str], Request] = {}
        self._lanes: dict[tuple[str, ...], deque[Job]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._latest: dict[tuple[str, ...], datetime | None] = {}

    # ---------- main thread ----------

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def submit(self, job: Job) -> None:
        """Queue a record for delivery; blocks while the engine is full (backpressure)."""
        if self._submitted - self._finished >= self.settings.capacity:
            # hysteresis: resume at half capacity, so the threads swap once per batch
            self._wait_until_outstanding(self.settings.capacity // 2)
        if self._fatal is not None:
            raise TargetError(self._fatal)
        job.seq = self._watermark.register()
        self._submitted += 1
        self._inbox.append(job)
        if not self._inbox_scheduled:
            # one loop wake-up per batch: jobs queued before it runs ride along
            self._inbox_scheduled = True
            self._loop.call_soon_threadsafe(self._take_inbox)

    def finish(self, timeout: float | None = None) -> None:
        """Wait until every record is answered (or a fatal error), then stop the engine."""
        self._wait_until_outstanding(0, timeout)
        self.close()
        if self._fatal is not None:
            raise TargetError(self._fatal)

    def _wait_until_outstanding(self, at_most: int, timeout: float | None = None) -> None:
        """Block until at most ``at_most`` records are unanswered, or a fatal error."""
        with self._room:
            self._wake_at = at_most  # set before the check: the engine then cannot miss us
            try:
                self._room.wait_for(
                    lambda: self._submitted - self._finished <= at_most or self._fatal is not None,
                    timeout,
                )
            finally:
                self._wake_at = None

    def close(self) -> None:
        """Stop the engine without waiting for outstanding records (idempotent)."""
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join()

    @property
    def fatal(self) -> str | None:
        return self._fatal

    # ---------- engine thread ----------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        connector = connection.connector(
            verify_tls=self.settings.verify_tls,
            ca_bundle=self.settings.ca_bundle,
            limit=self.settings.max_concurrency + 4,
            keepalive_timeout=30,
        )
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout)
        headers = {"Accept": media.MEDIA_TYPE, "User-Agent": self.settings.sender}
        async with connection.client_session(  # through HTTPS_PROXY unless NO_PROXY
            self.settings.access_token_url,
            connector=connector,
            timeout=timeout,
            headers=headers,
            raise_for_status=False,
        ) as session:
            self._session = session
            progress = asyncio.create_task(self._log_progress())
            self._ready.set()
            await self._stop.wait()
            progress.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(progress, *self._tasks, return_exceptions=True)

    async def _log_progress(self) -> None:
        while True:
            await asyncio.sleep(self.settings.report_interval)
            self._report.log(self._logger, final=False)

    def _take_inbox(self) -> None:
        self._inbox_scheduled = False  # cleared before emptying: a later job schedules anew
        inbox = self._inbox
        while inbox:
            self._accept(inbox.popleft())

    def _accept(self, job: Job) -> None:
        if self._fatal is not None:
            return
        queue = self._lanes.get(job.lane)
        if queue is not None:
            queue.append(job)
            return
        queue = deque([job])
        self._lanes[job.lane] = queue
        task = self._loop.create_task(self._run_lane(job.lane, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_lane(self, lane: tuple[str, ...], queue: deque[Job]) -> None:
        job: Job | None = None
        try:
            while queue and self._fatal is None:
                job = queue[0]
                await self._deliver(job)
                queue.popleft()
        except TargetError as exc:
            self._set_fatal(str(exc))
        except Exception as exc:  # a bug must still stop the run with one line
            where = f"stream {job.stream}, record {job.key}: " if job else ""
            self._set_fatal(f"{where}unexpected {type(exc).__name__}: {exc}")
        finally:
            if self._lanes.get(lane) is queue:
                del self._lanes[lane]

    def _set_fatal(self, message: str) -> None:
        if self._fatal is None:
            self._fatal = auth.redact(message, list(self.settings.secrets))
        with self._room:
            self._room.notify_all()  # wake a blocked submitter (or finish) so it sees the error

    def _done(self, job: Job, counter: str) -> None:
        self._report.add(job.stream, counter)
        self._acknowledge(job)

    def _acknowledge(self, job: Job) -> None:
        self._watermark.ack(job.seq)
        self._finished += 1
        wake_at = self._wake_at
        if wake_at is not None and self._submitted - self._finished <= wake_at:
            with self._room:
                self._room.notify_all()

    async def _deliver(self, job: Job) -> None:
        if (
            self.settings.skip_already_imported
            and not job.is_delete
            and job.latest_url is not None
            and job.order_value is not None
        ):
            latest = await self._latest_of(job)
            if latest is not None and job.order_value < latest:
                self._done(job, "skipped")
                return
        self._report.add(job.stream, "sent")
        request = self._request_of(job.kind, job.method)
        decision, status, body = await self._call(job, request, job.url, job.body)
        action = decision.action
        if action is Action.DONE:
            outcome = decision.outcome
            if outcome is Outcome.DUPLICATE:
                self._done(job, "already_present")
            elif outcome is Outcome.ALREADY_DELETED:
                self._done(job, "already_deleted")
            elif job.is_delete:
                self._done(job, "deleted")
            else:
                if status == 201 and _is_suspicious(body):
                    self._report.add(job.stream, "suspicious")
                self._done(job, "updated" if status == 200 else "created")
        elif action is Action.REJECT:
            if self._invalid is None:
                raise TargetError(f"stream {job.stream}, record {job.key}: {decision.reason}")
            # stops the run (on_invalid: fail), or writes and counts the reject
            self._invalid.refuse(job.stream, job.key, decision.reason, job.record, status=status)
            self._acknowledge(job)
        else:
            raise TargetError(f"stream {job.stream}, record {job.key}: {decision.reason}")

    async def _latest_of(self, job: Job) -> datetime | None:
        """The series' latest order value, asked once per series (a 404: none yet)."""
        if job.lane in self._latest:
            return self._latest[job.lane]
        assert job.latest_url is not None
        request = self._request_of(job.kind, "GET")
        decision, status, body = await self._call(job, request, job.latest_url, None)
        value: datetime | None = None
        if decision.action is Action.DONE:
            try:
                attributes = json.loads(body)["data"]["attributes"]
                value = parse_timestamp(attributes[job.kind.order_field or ""])
            except (ValueError, KeyError, TypeError, TimeFormatError):
                value = None
        elif not (decision.action is Action.REJECT and status == 404):
            raise TargetError(f"stream {job.stream}, record {job.key}: {decision.reason}")
        self._latest[job.lane] = value
        return value

    def _request_of(self, kind: Kind, method: str) -> Request:
        """What the policy needs to know about a request (one object per kind and method)."""
        key = (kind.name, method)
        request = self._requests.get(key)
        if request is None:
            token: TokenKind = "access" if kind.token == "access" else "import"
            request = self._requests[key] = Request(token, method, kind.api_type)
        return request

    async def _call(
        self, job: Job, request: Request, url: str, body: bytes | None
    ) -> tuple[Decision, int, bytes]:
        """Send until the policy's decision is final (DONE, REJECT or STOP): the policy
        (:mod:`enectiva.policy`) decides retries, 429 pauses, renewals and token switches and
        paces the credential; this loop only sends, sleeps and counts."""
        policy = self._access if request.token == "access" else self._import
        attempts = Attempts()
        clock = time.time
        in_flight = self._in_flight
        while True:
            await in_flight.acquire()  # max_concurrency: the ceiling of requests in flight
            try:
                slot = policy.reserve(clock())
                try:
                    while (wait := policy.start(slot, clock())) > 0:
                        await asyncio.sleep(wait)
                    grant = policy.grant(clock())
                    if grant is None:  # access tokens: exchange the login token first
                        policy.cancel(slot)
                        await self._exchange(job)
                        continue
                    try:
                        status, headers, answer = await self._send(
                            request.method, url, body, grant.secret
                        )
                    except aiohttp.ClientConnectorCertificateError as exc:
                        raise TargetError(
                            f"stream {job.stream}, record {job.key}: {certificate_refused(exc)}"
                        ) from None
                    except TRANSPORT_ERRORS as exc:
                        status, answer = 0, b""
                        decision = policy.failed(
                            slot, request, grant, _describe(exc), attempts, clock()
                        )
                    else:
                        decision = policy.answered(
                            slot,
                            request,
                            grant,
                            _answer(status, headers, answer),
                            attempts,
                            clock(),
                        )
                except BaseException:
                    policy.cancel(slot)  # no-op once answered
                    raise
            finally:
                in_flight.release()
            action = decision.action
            if action is Action.DONE or action is Action.REJECT or action is Action.STOP:
                return decision, status, answer
            if decision.warning:
                self._warn(decision.warning)
            self._report.add(job.stream, "retried")
            if status == 429:
                self._report.add(job.stream, "throttled")
            if decision.delay > 0:
                await asyncio.sleep(decision.delay)

    async def _exchange(self, job: Job) -> None:
        """Obtain an access token with the login token in use (one exchange at a time; the
        others wait and then use its token). Runs in the caller's in-flight slot."""
        policy = self._access
        async with self._exchange_lock:
            clock = time.time
            if policy.grant(clock()) is not None:
                return  # another request exchanged meanwhile
            attempts = Attempts()
            while True:
                slot = policy.reserve(clock())
                try:
                    while (wait := policy.start(slot, clock())) > 0:
                        await asyncio.sleep(wait)
                    login = policy.login()
                    try:
                        status, headers, body = await self._send(
                            "POST", self.settings.access_token_url, None, login.secret
                        )
                    except aiohttp.ClientConnectorCertificateError as exc:
                        raise TargetError(
                            f"access token exchange: {certificate_refused(exc)}"
                        ) from None
                    except TRANSPORT_ERRORS as exc:
                        body = b""
                        decision = policy.failed(
                            slot, EXCHANGE, login, _describe(exc), attempts, clock()
                        )
                    else:
                        decision = policy.answered(
                            slot, EXCHANGE, login, _answer(status, headers, body), attempts, clock()
                        )
                except BaseException:
                    policy.cancel(slot)
                    raise
                if decision.warning:
                    self._warn(decision.warning)
                if decision.action is Action.DONE:
                    try:
                        token = auth.parse_access_token_document(json.loads(body))
                    except ValueError as exc:
                        raise TargetError(
                            f"access token exchange: unreadable answer ({exc})"
                        ) from None
                    policy.obtained(login, token)
                    return
                if decision.action is Action.STOP:
                    raise TargetError(
                        f"stream {job.stream}, record {job.key}: access token exchange: "
                        f"{decision.reason}"
                    )
                if decision.delay > 0:
                    await asyncio.sleep(decision.delay)

    def _warn(self, message: str) -> None:
        """A token switch, said once (the policy words it: settings, never tokens)."""
        self._logger.warning(auth.redact(message, list(self.settings.secrets)))

    async def _send(
        self, method: str, url: str, body: bytes | None, token: str
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        assert self._session is not None
        # also on the bodyless token exchange: aiohttp would send another default type
        headers = self._headers(token, typed=body is not None or method == "POST")
        async with self._session.request(
            method, URL(url, encoded=True), data=body, headers=headers
        ) as response:
            answer = await response.read()
            return response.status, response.headers, answer

    def _headers(self, token: str, *, typed: bool) -> dict[str, str]:
        """Request headers for a token, built once per token (aiohttp copies them)."""
        cached = self._header_cache.get(token)
        if cached is None:
            if len(self._header_cache) >= 8:  # access tokens are renewed: keep a few
                self._header_cache.clear()
            plain = auth.bearer(token)
            cached = self._header_cache[token] = (
                plain,
                {**plain, "Content-Type": media.MEDIA_TYPE},
            )
        return cached[1] if typed else cached[0]


#: ``POST /access_tokens`` as the policy sees it.
EXCHANGE = Request("login", "POST")


def _answer(status: int, headers: CIMultiDictProxy[str], body: bytes) -> Answer:
    """An answer as the policy reads it (the error body is parsed only for errors)."""
    if status < 300:
        return Answer(status, headers=headers)
    error = errors.parse_error(status, body)
    detail = f"{error.detail} ({error.pointer})" if error.pointer else error.detail
    return Answer(status, error.code, detail, headers)


def _pacer() -> Pacer:
    """One credential's pacer. Unpaced until the API says otherwise (the first answer's
    budget headers, or a first 429: at most ``max_concurrency`` requests are in flight then),
    instead of the pacer's slow start: an API without a rate limit never slows the target."""
    return Pacer(start_rate=UNPACED, max_rate=UNPACED)


#: Starts per second before any limit is met (far above what one process sends).
UNPACED = math.inf


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (less CPU per request), else the standard loop."""
    try:
        import uvloop
    except ImportError:  # e.g. on Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _describe(exc: BaseException) -> str:
    """A failed transport in a few words (the policy's reason when it gives up)."""
    return connection.describe(exc)


class _AnswerAttributes(msgspec.Struct):
    suspicious: Any = None


class _AnswerResource(msgspec.Struct):
    attributes: _AnswerAttributes


class _AnswerDocument(msgspec.Struct):
    data: _AnswerResource


# decodes only data.attributes.suspicious of an answer, skipping the rest (cheaper than json)
_ANSWER = msgspec.json.Decoder(_AnswerDocument)


def _is_suspicious(body: bytes) -> bool:
    try:
        return _ANSWER.decode(body).data.attributes.suspicious is True
    except msgspec.DecodeError:  # ValidationError included: not the expected shape
        return False
