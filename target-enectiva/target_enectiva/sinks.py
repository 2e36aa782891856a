"""Sinks: each owns its record's whole preparation and hands the finished job on.

A record's steps, all here: the stream's record kind (chosen once per sink), the tap's SCHEMA
(opt-in, ``validate_records``), the attributes of the kind, the times (each parsed once; a
time without offset read in ``input_time_zone`` through the sink's
:class:`~enectiva.local_times.SeriesClock`, which settles DST gaps and repeated hours), the
contract's rules
(:func:`enectiva.rules.check_input`), then the request (:class:`~target_enectiva.plan.RequestPlan`).
A record breaking a rule goes to :class:`~target_enectiva.invalid.InvalidRecords`; a finished
:class:`~target_enectiva.plan.Job` goes to the outlet (the delivery engine, or a dry-run count).

The SDK's batching (drain when full, every 5 minutes, at the end) would cap the requests in
flight, so the sinks are :class:`~singer_sdk.sinks.RecordSink` s that hand each job on at once;
acknowledgements and STATE are the engine's and the watermark's business.
"""

from __future__ import annotations

import decimal
import typing as t
from datetime import datetime, tzinfo

import jsonschema
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import RecordSink
from typing_extensions import override

from enectiva import rules
from enectiva.local_times import DEFAULT_POLICY, AmbiguityPolicy, SeriesClock
from enectiva.times import TimeFormatError, attach_zone, format_offset, parse_written
from target_enectiva.invalid import InvalidRecordError, InvalidRecords
from target_enectiva.kinds import DELETED_AT_FIELD, INVOICE_METER_FIELD, Kind
from target_enectiva.outlet import Outlet
from target_enectiva.plan import Job, RequestPlan
from target_enectiva.report import Report
from target_enectiva.settings import TargetSettings

if t.TYPE_CHECKING:
    from singer_sdk.target_base import Target

#: Attributes that the API sets itself; never sent.
SERVER_ATTRIBUTES = frozenset({"suspicious"})
#: A record key shows each value up to this many characters (messages stay one short line).
KEY_VALUE_CHARS = 60

#: Each time field parsed once: the instant, or the error its value raised.
Instants = dict[str, datetime | TimeFormatError]
#: Times written without offset, read in ``input_time_zone``: (field, its instant), in order.
Zoned = list[tuple[str, datetime]]


@t.runtime_checkable
class SinkHost(t.Protocol):
    """What a sink takes from the target that built it (sinks never import ``target.py``)."""

    outlet: Outlet
    invalid: InvalidRecords
    report: Report


class RecordPreparation:
    """A record of one kind -> its :class:`Job`, or :class:`InvalidRecordError` (no SDK here)."""

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
        ambiguous: AmbiguityPolicy = DEFAULT_POLICY,
        report: Report | None = None,
    ) -> None:
        self.kind = kind
        self.stream = stream
        self.customer_id = customer_id
        self.sender = sender
        self.default_tz = default_tz
        #: Reads times without offset (None: no ``input_time_zone``, such times are refused).
        #: It sees this stream's records in input order; each series' previous instant is
        #: what ``ambiguous_local_times: infer`` decides a repeated hour by.
        self.clock = (
            SeriesClock(default_tz, ambiguous)
            if default_tz is not None and kind.time_fields
            else None
        )
        #: Counts records whose time ``infer`` chose (the summary's ``inferred``).
        self.report = report
        self.plan = RequestPlan(
            kind, stream, api_url=api_url, customer_id=customer_id, want_order=want_order
        )
        self.attribute_names = tuple(n for n in kind.attribute_names if n not in SERVER_ATTRIBUTES)
        self.sends_sender = "sender" in self.attribute_names
        self.time_fields = kind.time_fields
        self.key_fields = frozenset(kind.key_fields)

    @classmethod
    def from_settings(
        cls, kind: Kind, stream: str, settings: TargetSettings, report: Report | None = None
    ) -> RecordPreparation:
        return cls(
            kind,
            stream,
            api_url=settings.api_url,
            customer_id=settings.customer_id,
            sender=settings.sender,
            default_tz=settings.input_time_zone,
            want_order=settings.skip_already_imported,
            ambiguous=settings.ambiguous_local_times,
            report=report,
        )

    def key_of(self, record: dict[str, t.Any]) -> str:
        """How messages name a record: its key fields (suit shown when given)."""
        parts = []
        for name in self.kind.key_fields:
            value = record.get(name)
            if name == "suit" and value is None:
                continue
            shown = "?" if value is None else str(value)
            if len(shown) > KEY_VALUE_CHARS:
                shown = shown[: KEY_VALUE_CHARS - 1] + "…"
            parts.append(f"{name}={shown}")
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
        instants, zoned, inferred = self.read_times(attributes)
        if zoned is not None:
            _write_offsets(attributes, zoned, self.default_tz)
        violations = rules.check_input(
            self.kind.api_type,
            attributes,
            customer_uuid=self.customer_id,
            default_tz=self.default_tz,
            instants=instants,
        )
        meter_id = None
        if self.plan.per_meter:
            meter_id = record.get(INVOICE_METER_FIELD)
            if not isinstance(meter_id, str) or not meter_id:
                violations.append(
                    rules.Violation(INVOICE_METER_FIELD, "is required (the invoice's meter)")
                )
        if violations:
            raise InvalidRecordError(key, _reason(violations))
        self._accepted(attributes, instants, inferred)
        order_value = None
        if self.plan.latest is not None and self.kind.order_field:
            found = instants.get(self.kind.order_field)
            order_value = found if isinstance(found, datetime) else None
        return self.plan.create_job(
            attributes, key=key, record=record, meter_id=meter_id, order_value=order_value
        )

    def read_times(self, attributes: dict[str, t.Any]) -> tuple[Instants, Zoned | None, bool]:
        """Each time field parsed once; those written without offset read in the zone.

        Returns the instants, the zoned times (rewritten with their offset before the rules
        are checked: the rules judge times by ``instants``, and the schema's fast check then
        passes a valid record instead of falling back to the slow validator) and whether
        ``ambiguous_local_times: infer`` chose an occurrence. The first time field is the
        record's own time; a later one (a profile's ``to``) follows it: at a repeated hour it
        is read after the record's own instant, not after the previous record. A time in a DST
        gap, or a repeated one under ``refuse``, becomes the field's error (the record is
        invalid). Times with an offset are instants: the clock is never asked about them.
        """
        instants: Instants = {}
        zoned: Zoned | None = None
        inferred = False
        own: datetime | None = None  # the record's own instant, once read
        series: tuple[str, str] | None = None
        for name in self.time_fields:
            value = attributes.get(name)
            if value is None:
                continue
            try:
                moment = parse_written(value)
                if moment.tzinfo is None:
                    if self.clock is None:
                        moment = attach_zone(moment, self.default_tz)  # no zone: refused
                    else:
                        if series is None:
                            series = rules.series_key(attributes)
                        moment, chose = self.clock.read(moment, series, after=own)
                        inferred = inferred or chose
                    zoned = [(name, moment)] if zoned is None else [*zoned, (name, moment)]
            except TimeFormatError as exc:
                instants[name] = exc
                continue
            instants[name] = moment
            if own is None:
                own = moment
        return instants, zoned, inferred

    def _accepted(self, attributes: dict[str, t.Any], instants: Instants, inferred: bool) -> None:
        """A record passed every check: its series' next record follows its own time.

        Called only then (the contract leaves records refused as invalid out of ``infer``);
        times with an offset count too. A dict store: cheap on the per-record path.
        """
        if self.clock is None:
            return
        own = instants.get(self.time_fields[0])
        if isinstance(own, datetime):
            self.clock.keep(rules.series_key(attributes), own)
        if inferred and self.report is not None:
            self.report.add(self.stream, "inferred")

    def _delete_job(self, record: dict[str, t.Any], attributes: dict[str, t.Any], key: str) -> Job:
        if self.plan.delete is None:
            raise InvalidRecordError(key, f"{self.kind.name} cannot be deleted")
        instants, zoned, inferred = self.read_times(attributes)
        if zoned is not None:
            _write_offsets(attributes, zoned, self.default_tz)
        violations = [
            v
            for v in rules.check_input(
                self.kind.api_type,
                attributes,
                customer_uuid=self.customer_id,
                default_tz=self.default_tz,
                instants=instants,
            )
            if v.attribute in self.key_fields
        ]
        if violations:
            raise InvalidRecordError(key, _reason(violations))
        self._accepted(attributes, instants, inferred)
        return self.plan.delete_job(attributes, key=key, record=record)


class EnectivaSink(RecordSink):
    """Loads one stream as one record kind: prepares each record and hands its job on."""

    # The contract check (check_input) validates every record; the SDK's validation of the
    # tap's own SCHEMA is opt-in (``validate_records``), as it is most of the per-record CPU.
    @property
    @override
    def validate_schema(self) -> bool:
        return bool(self.config.get("validate_records", False))

    @override
    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        if not isinstance(target, SinkHost):
            raise TypeError(f"{type(target).__name__} provides no outlet and invalid records")
        settings = TargetSettings.from_config(self.config)
        kind = settings.kind_of(stream_name)
        if kind is None:  # the target routes only streams of a kind here
            raise TypeError(f"stream {stream_name} maps to no record kind")
        self.prepare = RecordPreparation.from_settings(
            kind, stream_name, settings, report=target.report
        )
        self._outlet = target.outlet
        self._invalid = target.invalid

    @override
    def _validate_and_parse(self, record: dict) -> dict:
        # Private SDK hook, the only caller of its SCHEMA validation and timestamp parsing:
        # both are done (or left out) by process_record, which names stream and record.
        return record

    @override
    def _remove_sdc_metadata_from_record(self, record: dict) -> None:
        # Private SDK hook: it strips every _sdc_* field; _sdc_deleted_at says "delete", keep it.
        deleted_at = record.get(DELETED_AT_FIELD)
        super()._remove_sdc_metadata_from_record(record)
        if deleted_at is not None:
            record[DELETED_AT_FIELD] = deleted_at

    @override
    def process_record(self, record: dict, context: dict) -> None:
        try:
            if self._validator is not None:
                self._check_schema(record)
            job = self.prepare.job_for(record)
        except InvalidRecordError as exc:
            self._invalid.refuse(self.stream_name, exc.key, exc.reason, record)
            return
        self._outlet.submit(job)

    def _check_schema(self, record: dict) -> None:
        """The tap's SCHEMA (``validate_records``), refused like any other broken rule."""
        assert self._validator is not None
        try:
            self._validator.validate(record)
        except InvalidRecord as exc:
            raise InvalidRecordError(self.prepare.key_of(record), _schema_reason(exc)) from None


class DiscardingSink(RecordSink):
    """A stream whose records are dropped: nothing validated, nothing loaded."""

    @property
    @override
    def validate_schema(self) -> bool:
        return False

    @override
    def _validate_and_parse(self, record: dict) -> dict:
        # Private SDK hook: the record is dropped, so nothing to validate or parse.
        return record

    @override
    def process_record(self, record: dict, context: dict) -> None:
        return


class SkippedStreamSink(DiscardingSink):
    """A stream that maps to no record kind, skipped because ``unknown_streams: skip``."""


def _plain(value: t.Any) -> t.Any:
    """The Singer readers parse JSON fractions as Decimal; the API takes floats."""
    return float(value) if isinstance(value, decimal.Decimal) else value


def _write_offsets(attributes: dict[str, t.Any], zoned: Zoned, zone: tzinfo | None) -> None:
    """Times read in ``input_time_zone`` are sent with that zone's offset (same wall clock)."""
    for name, moment in zoned:
        attributes[name] = format_offset(moment.astimezone(zone) if zone else moment)


def _reason(violations: list[rules.Violation]) -> str:
    return "; ".join(str(v) for v in violations)


def _schema_reason(exc: InvalidRecord) -> str:
    """``InvalidRecord`` without the field it is about; jsonschema's error (its cause) has it."""
    cause = exc.__cause__
    if isinstance(cause, jsonschema.ValidationError):
        where = ".".join(str(p) for p in cause.absolute_path)
        return f"breaks its SCHEMA: {where + ': ' if where else ''}{cause.message}"
    return f"breaks its SCHEMA: {exc.error_message}"
