"""``readings``: a meter's valid readings, one bookmark per meter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_enectiva.streams.meters import MetersStream
from tap_enectiva.streams.series import KeysetStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ReadingsStream(KeysetStream):
    """``GET /meters/{meterId}/readings``; records carry the meter's import id and suit."""

    name = "readings"
    operation_id = "listReadings"
    parent_stream_type = MetersStream
    primary_keys = ("meter_id", "time")

    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        meter_id = context["meter_id"] if context else None
        meter = self._enectiva_tap.meter(meter_id)
        record = self.time_record(row)
        record["meter_id"] = meter_id
        record["import_id"] = meter.get("import_id")
        record["suit"] = meter.get("suit")
        return record
