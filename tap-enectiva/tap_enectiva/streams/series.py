"""Time series read with the keyset filter ``<type>.time>BOOKMARK`` (contract section 3)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from typing_extensions import override

from enectiva.times import TimeFormatError, format_timestamp, parse_timestamp
from tap_enectiva.client import EnectivaStream, utc_time

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class Start(NamedTuple):
    """Where a partition's read begins: ``time>at`` (after a bookmark) or ``time>=at``."""

    operator: str
    at: datetime


class KeysetStream(EnectivaStream):
    """Incremental on ``time``, one bookmark per partition, sorted so a run can resume.

    The first page filters ``time>BOOKMARK`` (``time>=start_date`` before any bookmark)
    and ``time<end_date``, sorted by time; later pages follow ``links.next``.
    """

    replication_key = "time"
    is_sorted = True

    @override
    def get_url_params(self, context: Context | None, next_page_token: Any) -> dict[str, Any]:
        if next_page_token:
            return {}
        kind = self.operation.filter_type
        filters = []
        start = self.start(context)
        if start is not None:
            filters.append(f"{kind}.time{start.operator}{format_timestamp(start.at)}")
        if self.end_date is not None:
            filters.append(f"{kind}.time<{format_timestamp(self.end_date)}")
        return {"filter[]": filters, "sort": "time"}

    def start(self, context: Context | None) -> Start | None:
        """The one place a partition's first instant is decided: after its bookmark, or
        from ``start_date`` when there is no bookmark or it lies before ``start_date``."""
        bookmark = self.bookmark(context)
        start_date = self.start_date
        if bookmark is not None and (start_date is None or bookmark >= start_date):
            return Start(">", bookmark)
        if start_date is not None:
            return Start(">=", start_date)
        return None

    def bookmark(self, context: Context | None) -> datetime | None:
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
