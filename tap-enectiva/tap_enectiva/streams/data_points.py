"""``data_points``: points of the data series named in ``data_series_ids``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_enectiva.settings import config_ids
from tap_enectiva.streams.series import KeysetStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class DataPointsStream(KeysetStream):
    """``GET /data_series/{dataSeriesId}/data_points``, one bookmark per series."""

    name = "data_points"
    operation_id = "listDataPoints"
    primary_keys = ("data_series_id", "time")

    @property
    @override
    def partitions(self) -> list[dict] | None:
        ids = config_ids(self.config, "data_series_ids")
        return [{"data_series_id": i} for i in ids] or None

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        if not context:
            self.log("No data_series_ids configured: nothing to read for '%s'", self.name)
            return
        yield from super().get_records(context)

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        record = self.time_record(row)
        record["data_series_id"] = context["data_series_id"] if context else None
        return record
