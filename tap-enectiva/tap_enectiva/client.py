"""The base stream: requests through the run's credential, answers, JSON:API lists, partitions.

A stream reads its settings from ``self.config`` (see :mod:`tap_enectiva.settings`) and
gets the run's shared parts (:class:`~tap_enectiva.run.RunShared`: authenticator, pacer,
sessions, partition reader) from the tap when it is created; it never reaches back into the
tap object. Partitions (a child's parent records, a stream's ``partitions``) are read
concurrently through :mod:`tap_enectiva.concurrency`; the hooks it calls are below.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import ParseResult

import requests
from singer_sdk import RESTStream, Tap, metrics
from singer_sdk.exceptions import (
    AbortedSyncFailedException,
    AbortedSyncPausedException,
    FatalAPIError,
)
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.schema.source import StreamSchema
from typing_extensions import override

from enectiva.contract import Operation, operation
from enectiva.media import MEDIA_TYPE
from enectiva.policy import Action, Answer, Decision, Request
from enectiva.times import TimeFormatError, format_timestamp, parse_timestamp
from tap_enectiva.auth import HeaderPerAttempt, Sent
from tap_enectiva.errors import TapError
from tap_enectiva.output import BufferedMsgSpecWriter
from tap_enectiva.paging import NextLinkPaginator, list_rows
from tap_enectiva.schemas import CONTRACT, record_fields
from tap_enectiva.settings import config_time, setting, user_agent
from tap_enectiva.state import IndexedStateManager

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_enectiva.concurrency import PartitionJob
    from tap_enectiva.run import RunShared


_HEADER_PER_ATTEMPT = HeaderPerAttempt()


class EnectivaStream(RESTStream[ParseResult | None]):
    """A list endpoint of the contract, named by ``operation_id``."""

    operation_id: str
    schema = StreamSchema(CONTRACT)
    # Records are built field by field from the contract's schema: nothing to conform.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # One STATE per 1000 records (a full page) keeps interrupted runs cheap to resume.
    STATE_MSG_FREQUENCY = 1000

    def __init__(self, tap: Tap, *, run: RunShared) -> None:
        super().__init__(tap)
        self._run = run
        # Records go straight to the tap's writer on the fast path (_write_record_message).
        self._message_writer = tap.message_writer
        self._fields = record_fields(self.name)
        self._schema_written = False
        #: ``time_extracted`` of the page being written (None: each record's own now).
        self._page_extracted: datetime | None = None
        #: The record and request counters of the partitions being read (begin_partition).
        self._counters: tuple[metrics.Counter, metrics.Counter] | None = None

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
        return float(setting(self.config, "request_timeout"))

    @property
    @override
    def authenticator(self) -> HeaderPerAttempt:
        # The SDK applies it when preparing a request; the token goes on at each attempt
        # (RunCredential.send). Building the run's credential here makes a bad api_url fail
        # before the first request is prepared.
        self._run.authenticator.get()
        return _HEADER_PER_ATTEMPT

    @property
    @override
    def requests_session(self) -> requests.Session:
        # One session per thread (shared by the streams): worker threads send requests too.
        return self._run.session()

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
    def request_decorator(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Bypassed: _request runs the credential policy's loop (enectiva.policy), which
        # decides every resend (5xx, 408, dropped connections, 429, a 401's renewal or
        # switch) with its own counters per request (429s apart from failures, which the
        # backoff decorator's one tries counter cannot tell) and books every try with the
        # credential's pacer.
        return func

    @override
    def _request(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        # The SDK's _request (authenticate, send, log, validate), as the one seam every
        # request of the run passes: the run's credential paces it, sends it with the
        # access token in use and resends it as the policy decides (contract sections 5, 8).
        return self._answer(self._send(prepared_request), context, log=True)

    def _send(self, prepared_request: requests.PreparedRequest) -> Sent:
        """The request through the run's credential, until its policy settles it."""
        return self._run.authenticator.get().send(
            self.requests_session,
            prepared_request,
            self._policy_request,
            timeout=self.timeout,
            allow_redirects=self.allow_redirects,
            label=self.name,
        )

    def _answer(self, sent: Sent, context: Context | None, *, log: bool) -> requests.Response:
        """The settled request's response, or its one-line error; its duration metric is
        logged here unless ``log`` is false and the request succeeded."""
        done = sent.decision.action is Action.DONE and sent.response is not None
        if sent.response is not None and (log or not done):
            self.log_request_duration(sent.response, context)
        if done:
            assert sent.response is not None
            return sent.response
        raise self.refusal_error(sent.answer, sent.decision)

    def log_request_duration(self, response: requests.Response, context: Context | None) -> None:
        """The SDK's ``http_request_duration`` metric line of one answer."""
        self._write_request_duration_log(
            endpoint=self.path, response=response, context=context, extra_tags=None
        )

    @cached_property
    def _policy_request(self) -> Request:
        """What the policy needs to know about this stream's reads."""
        return Request("access", "GET", kind=self.name, scope=self.operation.scope)

    # ---- partitions, read concurrently (tap_enectiva.concurrency) ----

    def owns(self, item_id: str) -> bool:
        """Whether this run's partition (``partition_count`` / ``partition_index``) reads
        the meter, entity, data series or virtual meter ``item_id``."""
        return self._run.partition.owns(item_id)

    @override
    def _sync_children(self, child_context: Context | None) -> None:
        # Past the SDK: it syncs each child partition here, one after another; the
        # partition reader fetches them concurrently instead (written by this thread).
        if child_context is None:
            super()._sync_children(child_context)
            return
        for child in self.child_streams:
            if child.selected or child.has_selected_descendents:
                self._run.reader.submit(child, child_context)  # type: ignore[arg-type]

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict, Any, Any]:
        # Private SDK hook: a stream with configured partitions reads them through the
        # partition reader instead of the SDK's loop over them; a parent drains its
        # children's partitions before its sync ends (the SDK's final STATE follows).
        reader = self._run.reader
        try:
            if context is None and self.parent_stream_type is None and self.partitions:
                for partition in self.partitions:
                    if self.owns(_partition_id(partition)):
                        reader.submit(self, partition)
                reader.drain()
                self._finalize_state(self.stream_state)
                self._write_state_message()
                return
            yield from super()._sync_records(context, write_messages=write_messages)
            reader.drain()
        except BaseException:
            reader.cancel()
            raise

    def begin_partition(self, job: PartitionJob) -> None:
        """Main thread: what the SDK's ``sync(context)`` does before reading a partition,
        SCHEMA once per run (the SDK repeats it per partition), and the first request,
        built here from the partition's bookmark (state is touched by this thread only)."""
        context = dict(self.preprocess_context(job.context))
        job.context = context
        if signpost := self.get_replication_key_signpost(context):
            self._write_replication_key_signpost(context, signpost)
        if self.selected and not self._schema_written:
            self._write_schema_message()
            self._schema_written = True
        # The SDK's _write_starting_replication_value, with its line per partition at DEBUG.
        self.state_manager.write_partition_starting_value(
            context,
            replication_method=self.replication_method,
            replication_key=self.replication_key,
            config=dict(self.config),
            compare_start_date_fn=self.compare_start_date,
        )
        job.data.update(
            first=self._prepare_request(context=context, page=self.get_new_paginator()),
            partition_context=self._get_state_partition_context(context) or {},
            index=0,
        )
        if self._counters is None:
            # One record and one request counter per stream for all its partitions, not the
            # SDK's pair per partition: two METRIC lines per meter drowned the log at
            # thousands of meters. They log every minute and when the partitions end.
            self._counters = (
                self.get_record_counter().__enter__(),
                self.get_http_request_counter().__enter__(),
            )
        job.data["counters"] = self._counters

    def fetch_pages(self, job: PartitionJob) -> Iterator[tuple[requests.PreparedRequest, Any]]:
        """Worker thread: the partition's pages in order, with the usual retries."""
        paginator = self.get_new_paginator()
        prepared = job.data["first"]
        while True:
            # _request's steps, its metric line left to the main thread (write_page): from
            # worker threads, the log handler's lock made each line cost ~0.2 ms.
            response = self._answer(self._send(prepared), job.context, log=False)
            paginator.advance(response)  # reads links.next only (see paging.next_link)
            yield prepared, response
            if paginator.finished:
                return
            # Later pages follow links.next: no state is read to build them.
            prepared = self._prepare_request(context=job.context, page=paginator)

    def write_page(self, job: PartitionJob, page: tuple[requests.PreparedRequest, Any]) -> int:
        """Main thread: the SDK's per-record steps of ``_sync_records`` for one page."""
        prepared, response = page
        context, data = job.context, job.data
        self.log_request_duration(response, context)
        records, requests_sent = data["counters"]
        requests_sent.increment()
        self.update_sync_costs(prepared, response, context)
        # One extraction time per page, its records' time_extracted. (A parent's page may
        # write other pages while it starts its children: each restores the one before.)
        before, self._page_extracted = self._page_extracted, datetime.now(UTC)
        try:
            written = self._write_rows(job, response)
        finally:
            self._page_extracted = before
        self.close_page(context)
        records.increment(written)
        return written

    def _write_rows(self, job: PartitionJob, response: Any) -> int:
        """The page's records, post-processed, written and noted for the bookmark; how many.

        Memory: each row is let go as soon as its record is written (parse_response), and a
        child's record as soon as its line is encoded: a page's records are never all held
        at once (a decoded page of 1,000 readings is ~6 times its JSON).
        """
        context, data = job.context, job.data
        selected = self.selected
        partition_context: dict[str, Any] = data["partition_context"]
        parent = bool(self.child_streams)
        limit = self.ABORT_AT_RECORD_COUNT
        # A child's records that pass unchanged go out in one write after the page (a
        # parent's records are written one by one: starting a child may write other pages).
        lines = None
        if selected and not parent and self._records_pass_unchanged:
            assert self._page_extracted is not None
            lines = self._record_writer.page_lines(
                self.name, self._stream_version, self._page_extracted
            )
        write = self._write_record_message if lines is None else lines.add
        written = 0
        for row in self.parse_response(response):
            if limit is not None:
                try:
                    self._check_max_record_limit(current_record_index=data["index"])
                except (AbortedSyncFailedException, AbortedSyncPausedException):
                    job.cancelled = True  # a dry run's limit: as the SDK, go on with others
                    break
            record = self.post_process(row, context)
            if record is None:
                continue
            if parent:
                self._process_record(
                    record, child_context=dict(context), partition_context=partition_context
                )
            else:
                for key, value in partition_context.items():
                    record.setdefault(key, value)
            data["index"] += 1
            if selected:
                write(record)
                self.note_written(record, context)
                written += 1
        if lines is not None:
            lines.write()
            self.state_manager.is_flushed = False
        return written

    def note_written(self, record: dict[str, Any], context: Context | None) -> None:
        """Main thread, a record written: move the partition's bookmark past it (the SDK's
        ``_increment_stream_state``; sorted streams move it once per page, see
        ``KeysetStream``). No STATE is written mid-page."""
        self._increment_stream_state(record, context=context)

    def close_page(self, context: Context | None) -> None:
        """Main thread, after a page's records were written and noted."""

    @property
    @override
    def state_manager(self) -> IndexedStateManager:
        # Performance: the SDK's manager scans every partition per look-up (see state.py).
        manager = self._state_manager
        if not isinstance(manager, IndexedStateManager):
            manager = self._state_manager = IndexedStateManager(
                tap_name=self.tap_name,
                stream_name=self.name,
                tap_state=self.tap_state,
                state_partitioning_keys=self.state_partitioning_keys,
                is_sorted=self.is_sorted,
                check_sorted=self.check_sorted,
            )
        return manager

    def end_partition(self, job: PartitionJob) -> None:
        """Main thread: close the partition's state (signpost, starting value)."""
        self.state_manager.finalize_state(self.get_context_state(job.context))

    def end_partitions(self) -> None:
        """Main thread, once every partition begun was written: the counters' last lines."""
        if self._counters is not None:
            for counter in self._counters:
                counter.exit()
            self._counters = None

    # ---- answers ----

    def refusal_error(self, answer: Answer, decision: Decision) -> Exception:
        """The one-line error of a read the policy did not settle (REJECT or STOP)."""
        if decision.action is Action.REJECT:  # a read has no record to reject: stop
            return FatalAPIError(
                f"stream '{self.name}': {answer.describe()}; "
                "check the stream's ids and dates in the config"
            )
        if answer.status == 403:
            return TapError(
                f"stream '{self.name}' needs the '{self.operation.scope}' scope, "
                "which the login_token does not grant (HTTP 403); deselect the stream "
                "or use a token with that scope"
            )
        if answer.status in (0, 408, 429) or answer.status >= 500:  # gave up resending
            return TapError(f"stream '{self.name}': {decision.reason}; retry later")
        return TapError(f"stream '{self.name}': {decision.reason}")

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        # Memory: each row is let go once the caller asked for the next one.
        rows = list_rows(response)
        rows.reverse()
        while rows:
            yield rows.pop()

    def resource_record(self, resource: dict[str, Any]) -> dict[str, Any]:
        """``id`` plus the contract's attributes of a JSON:API resource."""
        attributes = resource.get("attributes") or {}
        record = {name: attributes.get(name) for name in self._fields}
        record["id"] = str(resource["id"])
        return record

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
        self._record_writer.write_record(
            self.name, record, self._stream_version, self._page_extracted
        )
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
    def log_sync_costs(self) -> None:
        super().log_sync_costs()
        # Tap.sync_all is final; its last step calls this for every stream after every sync
        # ended: the run's summary goes out from the first such call.
        self._run.log_summary()

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


def _partition_id(context: dict[str, Any]) -> str:
    """The id a configured partition is about (``{"data_series_id": ...}``: its one value)."""
    return str(next(iter(context.values())))


def _snake(name: str) -> str:
    """A contract path parameter as a context key (``meterId`` -> ``meter_id``)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
