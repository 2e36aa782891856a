"""Sinks: each record becomes one request, handed to the delivery engine at once.

The SDK's batching (drain when full, every 5 minutes, at the end) would cap the requests in
flight, so the sinks are :class:`~singer_sdk.sinks.RecordSink` s that build the request and
submit it; acknowledgements and STATE are the engine's and the watermark's business.
"""

from __future__ import annotations

import decimal
import typing as t
from datetime import datetime, tzinfo
from urllib.parse import quote

import jsonschema
import msgspec
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import RecordSink

from enectiva import contract, rules
from enectiva.times import TimeFormatError, format_offset, parse_timestamp
from target_enectiva.delivery import Job
from target_enectiva.kinds import DELETED_AT_FIELD, INVOICE_METER_FIELD, Kind

if t.TYPE_CHECKING:
    from target_enectiva.target import TargetEnectiva

#: Attributes that the API sets itself; never sent.
SERVER_ATTRIBUTES = frozenset({"suspicious"})
#: Request bodies are encoded with msgspec: compact UTF-8 JSON, a few times cheaper than json.
_BODY_ENCODER = msgspec.json.Encoder()


class InvalidRecordError(Exception):
    """A record that breaks a rule of the contract (found before any request)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


class RequestPlan:
    """How records of one kind become requests (URLs precomputed per sink)."""

    def __init__(
        self,
        kind: Kind,
        stream: str,
        *,
        api_url: str,
        customer_id: str,
        sender: str,
        default_tz: tzinfo | None,
        want_order: bool,
    ) -> None:
        self.kind = kind
        self.stream = stream
        self.api_url = api_url.rstrip("/")
        self.customer_id = customer_id
        self.sender = sender
        self.default_tz = default_tz
        self.want_order = want_order
        self.attribute_names = tuple(n for n in kind.attribute_names if n not in SERVER_ATTRIBUTES)
        self.sends_sender = "sender" in self.attribute_names
        self.create = contract.operation(kind.create_operation)
        self.delete = contract.operation(kind.delete_operation) if kind.delete_operation else None
        self.latest = contract.operation(kind.latest_operation) if kind.latest_operation else None
        self.create_url = (
            None
            if "{meterId}" in self.create.path
            else self.api_url + self.create.url_path(customerId=customer_id)
        )

    def key_of(self, record: dict[str, t.Any]) -> str:
        """How messages name a record: its key fields (suit shown when given)."""
        parts = []
        for name in self.kind.key_fields:
            value = record.get(name)
            if name == "suit" and value is None:
                continue
            parts.append(f"{name}={value if value is not None else '?'}")
        return " ".join(parts)

    def job_for(self, record: dict[str, t.Any]) -> Job:
        """The request for a record; :class:`InvalidRecordError` names the broken rule."""
        key = self.key_of(record)
        deleted_at = record.get(DELETED_AT_FIELD)
        attributes = {
            name: _plain(record[name])
            for name in self.attribute_names
            if record.get(name) is not None
        }
        if deleted_at:
            return self._delete_job(record, attributes, key)
        if self.sends_sender and "sender" not in attributes:
            attributes["sender"] = self.sender
        violations = rules.check_input(
            self.kind.api_type,
            attributes,
            customer_uuid=self.customer_id,
            default_tz=self.default_tz,
        )
        meter_id = None
        if self.create_url is None:
            meter_id = record.get(INVOICE_METER_FIELD)
            if not isinstance(meter_id, str) or not meter_id:
                violations.append(
                    rules.Violation(INVOICE_METER_FIELD, "is required (the invoice's meter)")
                )
        if violations:
            raise InvalidRecordError(key, _reason(violations))
        times = self._normalise_times(attributes)
        body = {"data": {"type": self.kind.api_type, "attributes": attributes}}
        if meter_id is not None:
            url = self.api_url + self.create.url_path(meterId=meter_id)
            lane: tuple[str, ...] = (self.kind.name, meter_id)
        else:
            assert self.create_url is not None
            url = self.create_url
            lane = (self.kind.name, *rules.series_key(attributes))
        job = Job(
            stream=self.stream,
            kind=self.kind,
            method=self.create.method,
            url=url,
            body=_BODY_ENCODER.encode(body),
            lane=lane,
            key=key,
            record=record,
        )
        if self.want_order and self.latest is not None and self.kind.order_field:
            job.order_value = times.get(self.kind.order_field)
            job.latest_url = self.api_url + self.latest.url_path(
                customerId=self.customer_id, importId=lane[1], suit=lane[2]
            )
        return job

    def _delete_job(self, record: dict[str, t.Any], attributes: dict[str, t.Any], key: str) -> Job:
        if self.delete is None:
            raise InvalidRecordError(key, f"{self.kind.name} cannot be deleted")
        relevant = set(self.kind.key_fields)
        violations = [
            v
            for v in rules.check_input(
                self.kind.api_type,
                attributes,
                customer_uuid=self.customer_id,
                default_tz=self.default_tz,
            )
            if v.attribute in relevant
        ]
        if violations:
            raise InvalidRecordError(key, _reason(violations))
        self._normalise_times(attributes)
        import_id, suit = rules.series_key(attributes)
        path = self.delete.url_path(customerId=self.customer_id, importId=import_id, suit=suit)
        query = "&".join(
            f"{name}={quote(str(attributes[name]), safe='')}" for name in self.kind.time_fields
        )
        return Job(
            stream=self.stream,
            kind=self.kind,
            method=self.delete.method,
            url=f"{self.api_url}{path}?{query}",
            body=None,
            lane=(self.kind.name, import_id, suit),
            key=key,
            record=record,
        )

    def _normalise_times(self, attributes: dict[str, t.Any]) -> dict[str, datetime]:
        """Parsed instants; a time without offset is rewritten with ``input_time_zone``'s."""
        parsed = {}
        for name in self.kind.time_fields:
            value = attributes.get(name)
            if value is None:
                continue
            moment = parse_timestamp(value, self.default_tz)
            parsed[name] = moment
            if self.default_tz is not None and not _has_offset(value):
                attributes[name] = format_offset(moment)
        return parsed


class EnectivaSink(RecordSink):
    """Loads one stream as one record kind."""

    # The contract check (check_input) validates every record; the SDK's validation of the
    # tap's own SCHEMA is opt-in (``validate_records``), as it is most of the per-record CPU.
    @property
    def validate_schema(self) -> bool:  # type: ignore[override]
        return bool(self.config.get("validate_records", False))

    def __init__(
        self,
        target: TargetEnectiva,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.target = target
        kind = target.kind_of(stream_name)
        assert kind is not None
        self.plan = target.request_plan(kind, stream_name)
        self._rejected: dict | None = None  # refused by validate_records: not to be loaded

    def _validate_and_parse(self, record: dict) -> dict:
        # The SDK logs a traceback and raises a message naming neither stream nor record;
        # a record breaking the tap's SCHEMA is refused like any other invalid record.
        if self._validator is not None:
            try:
                self._validator.validate(record)
            except InvalidRecord as exc:
                self._rejected = record
                self.target.refuse(
                    self.stream_name, self.plan.key_of(record), _schema_reason(exc), record
                )
        return record

    def _remove_sdc_metadata_from_record(self, record: dict) -> None:
        # The SDK strips every _sdc_* field; _sdc_deleted_at says "delete", so keep it.
        deleted_at = record.get(DELETED_AT_FIELD)
        super()._remove_sdc_metadata_from_record(record)
        if deleted_at is not None:
            record[DELETED_AT_FIELD] = deleted_at

    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: t.Any) -> None:
        # Keep times as the strings received: the SDK would turn a time without offset into
        # a naive datetime; the contract's rules (and input_time_zone) decide instead.
        return

    def process_record(self, record: dict, context: dict) -> None:
        if record is self._rejected:
            self._rejected = None
            return
        self.target.load(self.plan, record)


class SkippedStreamSink(RecordSink):
    """A stream that maps to no record kind, skipped because ``unknown_streams: skip``."""

    @property
    def validate_schema(self) -> bool:  # type: ignore[override]
        return False

    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: t.Any) -> None:
        return

    def process_record(self, record: dict, context: dict) -> None:
        return


def _plain(value: t.Any) -> t.Any:
    """The Singer readers parse JSON fractions as Decimal; the API takes floats."""
    return float(value) if isinstance(value, decimal.Decimal) else value


def _has_offset(value: t.Any) -> bool:
    try:
        parse_timestamp(value)
    except TimeFormatError:
        return False
    return True


def _reason(violations: list[rules.Violation]) -> str:
    return "; ".join(str(v) for v in violations)


def _schema_reason(exc: InvalidRecord) -> str:
    """``InvalidRecord`` without the field it is about; jsonschema's error (its cause) has it."""
    cause = exc.__cause__
    if isinstance(cause, jsonschema.ValidationError):
        where = ".".join(str(p) for p in cause.absolute_path)
        return f"breaks its SCHEMA: {where + ': ' if where else ''}{cause.message}"
    return f"breaks its SCHEMA: {exc.error_message}"
