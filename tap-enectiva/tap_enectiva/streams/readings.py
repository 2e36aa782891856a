"""``readings``: a meter's valid readings, one bookmark per meter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_enectiva.streams.meters import MeterChildStream
from tap_enectiva.streams.series import KeysetStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ReadingsStream(KeysetStream, MeterChildStream):
    """``GET /meters/{meterId}/readings``; records carry the meter's import id and suit.

    :class:`KeysetStream` comes first so its state hook (the bookmark never moves backwards)
    runs before :class:`MeterChildStream`'s per-meter one.
    """

    name = "readings"
    operation_id = "listReadings"
    primary_keys = ("meter_id", "time")

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        record = self.time_record(row)
        if context:  # the meter's MeterContext
            record["meter_id"] = context["meter_id"]
            record["import_id"] = context["import_id"]
            record["suit"] = context["suit"]
        else:
            record["meter_id"] = record["import_id"] = record["suit"] = None
        return record
