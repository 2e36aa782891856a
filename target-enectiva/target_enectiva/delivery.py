"""The delivery engine: one HTTP request per record, concurrent across series, ordered within.

The SDK's batch sinks send a sink's records serially and only when it drains (when full,
every few minutes, at the end); latency-bound pushes need many requests in flight, so each
sink hands every checked record's :class:`~target_enectiva.plan.Job` to this engine as soon as
it is read. The engine runs an asyncio loop with one aiohttp session in a
background thread:

- one ordered *lane* per series ``(import_id, suit)`` (invoices: per meter): a lane sends its
  records one after another in input order; different lanes run concurrently;
- an adaptive limit on requests in flight (:class:`~target_enectiva.limiter.AdaptiveLimit`);
- retries with backoff for 5xx, timeouts and dropped connections (bounded by ``max_retries``),
  ``Retry-After`` for 429s, access-token renewal before expiry and after a 401 (invoices);
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
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import msgspec
from yarl import URL

from enectiva import auth, errors, media
from enectiva.errors import Outcome
from enectiva.times import TimeFormatError, parse_timestamp
from target_enectiva import DEFAULT_SENDER, connection
from target_enectiva.errors import TargetError, certificate_refused
from target_enectiva.invalid import InvalidRecords
from target_enectiva.limiter import AdaptiveLimit
from target_enectiva.plan import Job
from target_enectiva.report import Report
from target_enectiva.tokens import AccessTokens
from target_enectiva.watermark import Watermark

TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


@dataclass(frozen=True)
class DeliverySettings:
    """What the engine needs from the target's config."""

    import_token: str | None
    login_token: str | None
    access_token_url: str
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
        self._header_cache: tuple[str, dict[str, str], dict[str, str]] | None = None
        self._fatal: str | None = None
        self._loop = _new_event_loop()
        self._thread = threading.Thread(target=self._run, name="enectiva-delivery", daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        self._limit = AdaptiveLimit(settings.max_concurrency)
        self._tokens = AccessTokens(self._exchange_login_token, max_retries=settings.max_retries)
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
        status, body = await self._call(job, job.method, job.url, job.body)
        error = errors.parse_error(status, body) if status >= 300 else None
        outcome = errors.classify(
            status, error.code if error else None, kind=job.kind.api_type, method=job.method
        )
        if outcome is Outcome.OK:
            if job.is_delete:
                self._done(job, "deleted")
                return
            if status == 201 and _is_suspicious(body):
                self._report.add(job.stream, "suspicious")
            self._done(job, "updated" if status == 200 else "created")
        elif outcome is Outcome.DUPLICATE:
            self._done(job, "already_present")
        elif outcome is Outcome.ALREADY_DELETED:
            self._done(job, "already_deleted")
        elif outcome is Outcome.REJECT:
            reason = f"refused by the API: {error}"
            if self._invalid is None:
                raise TargetError(f"stream {job.stream}, record {job.key}: {reason}")
            # stops the run (on_invalid: fail), or writes and counts the reject
            self._invalid.refuse(job.stream, job.key, reason, job.record, status=status)
            self._acknowledge(job)
        else:
            raise TargetError(self._fatal_message(job, error or errors.parse_error(status, body)))

    def _fatal_message(self, job: Job, error: errors.ApiError) -> str:
        token = "login_token" if job.kind.token == "access" else "import_token"
        hint = {
            401: f"check {token}",
            403: f"use the customer's own {token} with the needed scope",
            404: "check customer_id",
            406: "the API refused the media type",
            415: "the API refused the media type",
        }.get(error.status, "stopping")
        return f"stream {job.stream}, record {job.key}: {error}; {hint}"

    async def _latest_of(self, job: Job) -> datetime | None:
        """The series' latest order value, asked once per series."""
        if job.lane in self._latest:
            return self._latest[job.lane]
        assert job.latest_url is not None
        status, body = await self._call(job, "GET", job.latest_url, None)
        value: datetime | None = None
        if status == 200:
            try:
                attributes = json.loads(body)["data"]["attributes"]
                value = parse_timestamp(attributes[job.kind.order_field or ""])
            except (ValueError, KeyError, TypeError, TimeFormatError):
                value = None
        else:
            error = errors.parse_error(status, body)
            outcome = errors.classify(status, error.code, kind=job.kind.api_type, method="GET")
            if outcome is Outcome.FATAL or status not in (404,):
                raise TargetError(self._fatal_message(job, error))
        self._latest[job.lane] = value
        return value

    async def _call(self, job: Job, method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
        """Send until the answer is final: retries, 429 pauses and token renewals."""
        failures = 0
        throttles = 0
        refusals = 0
        uses_access = job.kind.token == "access"
        while True:
            epoch = await self._limit.acquire()
            try:
                # the token is taken once a slot is free, so waiting for one cannot stale it
                token = await self._tokens.get() if uses_access else self._import_token()
                status, retry_after, answer = await self._request(method, url, body, token)
            except aiohttp.ClientConnectorCertificateError as exc:
                raise TargetError(
                    f"stream {job.stream}, record {job.key}: {certificate_refused(exc)}"
                ) from None
            except TRANSPORT_ERRORS as exc:
                status, retry_after, answer = 0, None, _describe(exc)
            finally:
                self._limit.release()
            if status == 0:
                failures += 1
                self._give_up_after(failures, job, answer.decode("utf-8", "replace"))
                self._report.add(job.stream, "retried")
                await asyncio.sleep(errors.backoff_delay(failures))
                continue
            if status == 429:
                throttles += 1
                self._report.add(job.stream, "throttled")
                self._report.add(job.stream, "retried")
                wait = errors.retry_after_seconds(retry_after)
                self._limit.throttled(
                    epoch, wait if wait is not None else errors.backoff_delay(throttles)
                )
                continue
            if status >= 500 or status == 408:
                failures += 1
                self._give_up_after(failures, job, str(errors.parse_error(status, answer)))
                self._report.add(job.stream, "retried")
                await asyncio.sleep(errors.backoff_delay(failures))
                continue
            if uses_access and status == 401:
                # contract section 5: renew once more on a 401 (the token may have expired
                # in flight); a renewed token refused while fresh stops the run
                refusals += 1
                if refusals <= self.settings.max_retries + 1 and (
                    await self._tokens.renew_after_refusal(token)
                ):
                    self._report.add(job.stream, "retried")
                    continue
                return status, answer
            if uses_access:
                self._tokens.accepted(token)
            if 200 <= status < 300:
                self._limit.succeeded()
            return status, answer

    def _give_up_after(self, failures: int, job: Job, last: str) -> None:
        if failures > self.settings.max_retries:
            raise TargetError(
                f"stream {job.stream}, record {job.key}: gave up after "
                f"{self.settings.max_retries} retries ({last})"
            )

    def _import_token(self) -> str:
        return self.settings.import_token or ""

    async def _request(
        self, method: str, url: str, body: bytes | None, token: str
    ) -> tuple[int, str | None, bytes]:
        assert self._session is not None
        # also on the bodyless token exchange: aiohttp would send another default type
        headers = self._headers(token, typed=body is not None or method == "POST")
        async with self._session.request(
            method, URL(url, encoded=True), data=body, headers=headers
        ) as response:
            answer = await response.read()
            return response.status, response.headers.get("Retry-After"), answer

    def _headers(self, token: str, *, typed: bool) -> dict[str, str]:
        """Request headers for a token, built once per token (aiohttp copies them)."""
        cached = self._header_cache
        if cached is None or cached[0] != token:
            plain = auth.bearer(token)
            typed_headers = {**plain, "Content-Type": media.MEDIA_TYPE}
            cached = self._header_cache = (token, plain, typed_headers)
        return cached[2] if typed else cached[1]

    async def _exchange_login_token(self) -> tuple[int, str | None, bytes]:
        try:
            return await self._request(
                "POST", self.settings.access_token_url, None, self.settings.login_token or ""
            )
        except aiohttp.ClientConnectorCertificateError as exc:
            raise TargetError(f"access token exchange: {certificate_refused(exc)}") from None
        except TRANSPORT_ERRORS as exc:
            return 0, None, _describe(exc)


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (less CPU per request), else the standard loop."""
    try:
        import uvloop
    except ImportError:  # e.g. on Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _describe(exc: BaseException) -> bytes:
    """A failed transport as the body of a pseudo-answer with status 0."""
    return connection.describe(exc).encode()


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
