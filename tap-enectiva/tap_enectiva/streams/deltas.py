"""Monthly deltas of meters, entities and virtual meters, re-reading a look-back window.

Delta times are local month starts without offset (contract section 6); records add the
same month as a date in ``month`` (``YYYY-MM-01``) so warehouses type it. Several energies
share a month, so the first page filters ``time>=START`` and later pages follow
``links.next``; the bookmark is the latest month seen, and each run starts
``deltas_lookback_months`` before it because the current month grows and past months
can change. Records are keyed by owner, energy and month, so re-read rows replace.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from enectiva.times import TimeFormatError, add_months, format_local, month_start, parse_local
from tap_enectiva.client import EnectivaStream
from tap_enectiva.settings import config_ids, setting
from tap_enectiva.streams.entities import EntitiesStream
from tap_enectiva.streams.meters import MeterChildStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class DeltasStream(EnectivaStream):
    """Common behaviour of the three delta streams."""

    replication_key = "time"
    is_sorted = True
    # Re-read months lie before the bookmark on purpose: do not flag them as unsorted.
    check_sorted = False
    owner_key: str

    @override
    def get_url_params(self, context: Context | None, next_page_token: Any) -> dict[str, Any]:
        if next_page_token:
            return {}
        kind = self.operation.filter_type
        filters = []
        start = self.start_month(context)
        if start is not None:
            filters.append(f"{kind}.time>={format_local(start)}")
        end = self.end_date
        if end is not None:
            filters.append(f"{kind}.time<{format_local(end.astimezone(UTC))}")
        return {"filter[]": filters, "sort": "time"}

    def start_month(self, context: Context | None) -> datetime | None:
        """The one place a partition's first month is decided: the look-back window before
        the bookmark's month, not before start_date's."""
        start = self.start_date
        floor = month_start(start.astimezone(UTC).replace(tzinfo=None)) if start else None
        state = self.get_context_state(context)
        bookmark = None
        value = state.get("replication_key_value")
        if state.get("replication_key") == self.replication_key and isinstance(value, str):
            try:
                bookmark = parse_local(value)
            except TimeFormatError:
                bookmark = None
        if bookmark is None:
            return floor
        lookback = int(setting(self.config, "deltas_lookback_months"))
        begin = add_months(month_start(bookmark), -lookback)
        return max(begin, floor) if floor else begin

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        if not context:
            self.log("No ids configured: nothing to read for '%s'", self.name)
            return
        yield from super().get_records(context)

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        record = self.resource_record(row)
        record[self.owner_key] = context[self.owner_key] if context else None
        record["month"] = month_date(record["time"])
        return record


class MeterDeltasStream(MeterChildStream, DeltasStream):
    """``GET /meters/{meterId}/deltas``, months in the meter's time zone."""

    name = "meter_deltas"
    operation_id = "listMeterDeltas"
    owner_key = "meter_id"
    primary_keys = ("meter_id", "energy", "time")

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        record = super().post_process(row, context)
        if record is not None:
            record["time_zone"] = context["time_zone"] if context else None  # MeterContext
        return record


class EntityDeltasStream(DeltasStream):
    """``GET /entities/{entityId}/deltas``, one series per energy."""

    name = "entity_deltas"
    operation_id = "listEntityDeltas"
    parent_stream_type = EntitiesStream
    owner_key = "entity_id"
    primary_keys = ("entity_id", "energy", "time")


class VirtualMeterDeltasStream(DeltasStream):
    """``GET /virtual_meters/{virtualMeterId}/deltas`` for ``virtual_meter_ids``."""

    name = "virtual_meter_deltas"
    operation_id = "listVirtualMeterDeltas"
    owner_key = "virtual_meter_id"
    primary_keys = ("virtual_meter_id", "energy", "time")

    @property
    @override
    def partitions(self) -> list[dict] | None:
        ids = config_ids(self.config, "virtual_meter_ids")
        return [{"virtual_meter_id": i} for i in ids] or None


def month_date(time: Any) -> str | None:
    """A delta's local month start (``YYYY-MM-01T00:00:00``) as a date (``YYYY-MM-01``)."""
    try:
        return parse_local(time).date().isoformat()
    except TimeFormatError:
        return None
