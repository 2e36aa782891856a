"""Time series read with the keyset filter ``<type>.time>BOOKMARK`` (contract section 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from enectiva.times import TimeFormatError, format_timestamp, parse_timestamp
from tap_enectiva.client import EnectivaStream, utc_time

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class KeysetStream(EnectivaStream):
    """Incremental on ``time``, one bookmark per partition, sorted so a run can resume.

    The first page filters ``time>BOOKMARK`` (``time>=start_date`` before any bookmark)
    and ``time<end_date``, sorted by time; later pages follow ``links.next``.
    """

    replication_key = "time"
    is_sorted = True

    def get_url_params(self, context: Context | None, next_page_token: Any) -> dict[str, Any]:
        if next_page_token:
            return {}
        kind = self.operation.filter_type
        filters = []
        bookmark = self.bookmark(context)
        start = self._enectiva_tap.start_date
        if bookmark is not None and (start is None or bookmark >= start):
            filters.append(f"{kind}.time>{format_timestamp(bookmark)}")
        elif start is not None:
            filters.append(f"{kind}.time>={format_timestamp(start)}")
        if self._enectiva_tap.end_date is not None:
            filters.append(f"{kind}.time<{format_timestamp(self._enectiva_tap.end_date)}")
        return {"filter[]": filters, "sort": "time"}

    def bookmark(self, context: Context | None) -> Any:
        """The partition's last emitted time, or None."""
        state = self.get_context_state(context)
        if state.get("replication_key") != self.replication_key:
            return None
        try:
            return parse_timestamp(state.get("replication_key_value"))
        except TimeFormatError:
            return None

    def time_record(self, row: dict[str, Any]) -> dict[str, Any]:
        """The resource as a record with its time in UTC."""
        record = self.resource_record(row)
        record["time"] = utc_time(record["time"])
        return record
