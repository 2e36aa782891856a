"""The base stream: auth, error handling, retries and JSON:API list parsing.

A stream reads its settings from ``self.config`` (see :mod:`tap_enectiva.settings`) and
gets the run's one authenticator from the tap when it is created; it never reaches back
into the tap object.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import ParseResult

import requests
from singer_sdk import RESTStream, Tap
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.schema.source import StreamSchema
from typing_extensions import override

from enectiva.contract import Operation, operation
from enectiva.errors import Outcome, classify, parse_error
from enectiva.media import MEDIA_TYPE
from enectiva.times import TimeFormatError, format_timestamp, parse_timestamp
from tap_enectiva.errors import TapError, brief
from tap_enectiva.output import BufferedMsgSpecWriter
from tap_enectiva.paging import NextLinkPaginator, document
from tap_enectiva.retry import wait_seconds
from tap_enectiva.schemas import CONTRACT, record_fields
from tap_enectiva.settings import config_time, tls_verify, user_agent

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_enectiva.auth import AccessTokenAuthenticator, RunAuthenticator


class AccessTokenRefused(RetriableAPIError):
    """A 401 after which the token was renewed: retry at once with the new token."""


class EnectivaStream(RESTStream[ParseResult | None]):
    """A list endpoint of the contract, named by ``operation_id``."""

    operation_id: str
    schema = StreamSchema(CONTRACT)
    # Records are built field by field from the contract's schema: nothing to conform.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # One STATE per 1000 records (a full page) keeps interrupted runs cheap to resume.
    STATE_MSG_FREQUENCY = 1000

    def __init__(self, tap: Tap, *, authenticator: RunAuthenticator) -> None:
        super().__init__(tap)
        self._run_authenticator = authenticator
        # Records go straight to the tap's writer on the fast path (_write_record_message).
        self._message_writer = tap.message_writer
        self.requests_session.verify = tls_verify(self.config)  # proxies: trust_env
        self._fields = record_fields(self.name)

    # ---- settings ----

    @cached_property
    def start_date(self) -> datetime | None:
        return config_time(self.config, "start_date")

    @cached_property
    def end_date(self) -> datetime | None:
        return config_time(self.config, "end_date")

    # ---- requests ----

    @cached_property
    def operation(self) -> Operation:
        """The contract's operation behind this stream (path, scope, filter type)."""
        return operation(self.operation_id)

    @property
    @override
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/")

    @property
    @override
    def path(self) -> str:  # type: ignore[override]  # the SDK declares a writable str
        return self.operation.path

    @cached_property
    def _path_keys(self) -> dict[str, str]:
        """Context key -> the operation's path parameter (``meter_id`` -> ``meterId``)."""
        names = re.findall(r"\{([^}]+)\}", self.operation.path)
        return {_snake(name): name for name in names}

    @override
    def get_url(self, context: Context | None) -> str:
        context = context or {}
        params = {name: context[key] for key, name in self._path_keys.items() if key in context}
        return self.url_base + self.operation.url_path(**params)

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        return {"Accept": MEDIA_TYPE}

    @cached_property
    @override
    def user_agent(self) -> str:
        return user_agent(self.config)

    @property
    @override
    def timeout(self) -> float:  # type: ignore[override]  # the SDK's int would turn 0.5 into 0
        return float(self.config.get("request_timeout", 60))

    @property
    @override
    def authenticator(self) -> AccessTokenAuthenticator:
        return self._run_authenticator.get()

    @override
    def get_new_paginator(self) -> NextLinkPaginator:
        return NextLinkPaginator()

    @override
    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        if page.next_page_token:
            # links.next is absolute and carries the query of the next page.
            request.url = page.next_page_token.geturl()
            request.params = {}
        return request

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        # Performance: the SDK fetches a page only after the previous page's records are all
        # written, so the tap idles while the API works and the API idles while the tap
        # writes. Here one helper thread fetches page N+1 while page N's records are
        # processed (one request in flight at a time, same retries and paging). Streams
        # with children keep the SDK's loop: their children request while they are paused.
        if self.child_streams:
            yield from super().request_records(context)
            return
        paginator = self.get_new_paginator()
        # The SDK's private _request / _prepare_request: the same retries and request
        # building as its own loop, which offers no public hook for one page ahead.
        fetch = self.request_decorator(self._request)
        with (
            self.get_http_request_counter() as request_counter,
            ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-fetch") as pool,
        ):
            request_counter.with_context(context)

            def send() -> tuple[requests.PreparedRequest, requests.Response]:
                # Reads the paginator's current page, which stays put until this returns.
                prepared = self._prepare_request(context=context, page=paginator)
                return prepared, fetch(prepared, context)

            pending: Future | None = pool.submit(send)
            try:
                while pending is not None:
                    prepared, response = pending.result()
                    request_counter.increment()
                    self.update_sync_costs(prepared, response, context)
                    paginator.advance(response)
                    pending = None if paginator.finished else pool.submit(send)
                    yield from self.parse_response(response)
            finally:
                if pending is not None:
                    pending.cancel()

    # ---- answers ----

    @override
    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 300:
            self.authenticator.accepted(response.request)
            return
        error = parse_error(status, response.content)
        method = response.request.method or "GET"
        outcome = classify(status, error.code, kind=self.name, method=method)
        if outcome in (Outcome.RETRY, Outcome.RATE_LIMITED):
            raise RetriableAPIError(f"stream '{self.name}': {brief(error)}", response)
        if outcome is Outcome.RENEW_TOKEN:
            if self.authenticator.renew_after_refusal(response.request):
                raise AccessTokenRefused(f"stream '{self.name}': access token refused", response)
            raise TapError(
                f"stream '{self.name}': the access token was refused again after renewal "
                f"({brief(error)}); check login_token"
            )
        if status == 403:
            raise TapError(
                f"stream '{self.name}' needs the '{self.operation.scope}' scope, "
                "which the login_token does not grant (HTTP 403); deselect the stream "
                "or use a token with that scope"
            )
        raise FatalAPIError(
            f"stream '{self.name}': {brief(error)}; check the stream's ids and dates in the config"
        )

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        data = document(response).get("data")
        if isinstance(data, list):
            yield from data

    def resource_record(self, resource: dict[str, Any]) -> dict[str, Any]:
        """``id`` plus the contract's attributes of a JSON:API resource."""
        attributes = resource.get("attributes") or {}
        record = {name: attributes.get(name) for name in self._fields}
        record["id"] = str(resource["id"])
        return record

    # ---- retries (every request; the token exchange has the same policy) ----

    @override
    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_retries", 8)) + 1

    @override
    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        attempt = 0
        exc = yield 0.0  # primed by backoff before the first failure
        while True:
            attempt += 1
            if isinstance(exc, AccessTokenRefused):
                exc = yield 0.0
                continue
            exc = yield wait_seconds(attempt, getattr(exc, "response", None))

    @override
    def backoff_jitter(self, value: float) -> float:
        return value  # wait_seconds already adds jitter

    @override
    def backoff_handler(self, details: Details) -> None:
        exc = details.get("exception")
        self.log(
            "Retrying '%s' in %.1f s after try %d: %s",
            self.name,
            details.get("wait") or 0.0,
            details.get("tries") or 0,
            exc,
            level=logging.WARNING,
        )

    # ---- output: the per-record fast path ----

    @override
    def _write_record_message(self, record: dict[str, Any]) -> None:
        # Private SDK hook: the only place every selected record passes on its way out.
        # Performance: the SDK's path prunes deselected properties, conforms types and maps
        # every record, then builds a RecordMessage: most of a large sync's time. When none of
        # that can change the record (every property selected, no stream maps or flattening,
        # conformance off: records are built from the schema's fields), write it directly.
        if not self._records_pass_unchanged:
            super()._write_record_message(record)
            return
        self._record_writer.write_record(self.name, record, self._stream_version)
        self.state_manager.is_flushed = False

    @cached_property
    def _record_writer(self) -> BufferedMsgSpecWriter:
        assert isinstance(self._message_writer, BufferedMsgSpecWriter)
        return self._message_writer

    @cached_property
    def _records_pass_unchanged(self) -> bool:
        """Whether the SDK's record pipeline is the identity for this run's catalog."""
        maps = self.stream_maps
        return (
            isinstance(self._message_writer, BufferedMsgSpecWriter)
            and self.TYPE_CONFORMANCE_LEVEL is TypeConformanceLevel.NONE
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
            and not maps[0].flattening_enabled
            and all(self.mask[("properties", name)] for name in self.schema["properties"])
        )

    # ---- SDK plumbing ----

    @override
    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        if self.child_streams:
            yield from super().generate_child_contexts(record, context)

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        # The SDK logs a generic line before re-raising; our own errors say it all in one.
        if (
            level == logging.ERROR
            and message.startswith("An unhandled error occurred")
            and isinstance(sys.exc_info()[1], TapError | FatalAPIError)
        ):
            return
        super().log(message, *args, level=level, **kwargs)


def utc_time(value: str) -> str:
    """An API instant as RFC 3339 UTC with ``Z`` (lists already write it so: fast path)."""
    if len(value) == 20 and value[-1] == "Z":
        return value
    try:
        return format_timestamp(parse_timestamp(value, default_tz=UTC))
    except TimeFormatError:
        return value


def _snake(name: str) -> str:
    """A contract path parameter as a context key (``meterId`` -> ``meter_id``)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
