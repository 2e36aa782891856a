"""Time series read with the keyset filter ``<type>.time>BOOKMARK`` (contract section 3)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from typing_extensions import override

from enectiva.times import TimeFormatError, format_timestamp, parse_timestamp
from tap_enectiva.client import EnectivaStream, utc_time
from tap_enectiva.settings import lookback

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


class Start(NamedTuple):
    """Where a partition's read begins: ``time>at`` (after a bookmark) or ``time>=at``."""

    operator: str
    at: datetime


class KeysetStream(EnectivaStream):
    """Incremental on ``time``, one bookmark per partition, sorted so a run can resume.

    The first page filters ``time>BOOKMARK-lookback_days`` (``time>=start_date`` before any
    bookmark) and ``time<end_date``, sorted by time; later pages follow ``links.next``.
    Records re-read inside the look-back window come again under the same primary key
    (late and corrected ones included); they leave the bookmark where it is.
    """

    replication_key = "time"
    is_sorted = True
    #: The latest record of the page being written (note_written / close_page).
    _page_latest: dict[str, Any] | None = None

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
        """The one place a partition's first instant is decided: after its bookmark less
        ``lookback_days``, never before ``start_date``; from ``start_date`` when there is no
        bookmark (a first run has no look-back)."""
        bookmark = self.bookmark(context)
        start_date = self.start_date
        if bookmark is not None:
            after = bookmark - lookback(self.config)
            if start_date is None or after >= start_date:
                return Start(">", after)
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

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        # Private SDK hook. A record at or before the bookmark was re-read in the look-back
        # window: the bookmark never moves backwards, so it stays. Later records come sorted
        # and advance it as usual (the SDK's sort check still guards them).
        state = self.get_context_state(context)
        if state.get("replication_key") == self.replication_key and not is_after_value(
            latest_record.get("time"), state.get("replication_key_value")
        ):
            return
        super()._increment_stream_state(latest_record, context=context)

    @override
    def note_written(self, record: dict[str, Any], context: Context | None) -> None:
        # Performance: record by record, the bookmark ends at the page's latest time (it
        # never moves back, see _increment_stream_state), so the page's latest record moves
        # it once, at close_page, at a thousandth of the cost. A time that is not UTC text
        # (never written by this tap) takes the SDK's way at once, to the same end.
        time = record.get("time")
        if not _utc_text(time):
            super().note_written(record, context)
            return
        latest = self._page_latest
        if latest is None or time > latest["time"]:
            self._page_latest = record

    @override
    def close_page(self, context: Context | None) -> None:
        latest, self._page_latest = self._page_latest, None
        if latest is not None:
            self._increment_stream_state(latest, context=context)

    def time_record(self, row: dict[str, Any]) -> dict[str, Any]:
        """The resource as a record with its time in UTC."""
        record = self.resource_record(row)
        record["time"] = utc_time(record["time"])
        return record


def is_after_value(time: Any, bookmark: Any) -> bool:
    """Whether a record's time lies after a bookmark value (both as written in records; an
    unreadable one counts as after, so the SDK's own bookkeeping decides about it).

    Performance: called per record. Times the tap writes are UTC ``YYYY-MM-DDTHH:MM:SSZ``,
    whose text order is their time order, so most comparisons need no parsing.
    """
    if _utc_text(time) and _utc_text(bookmark):
        return bool(time > bookmark)
    try:
        return parse_timestamp(time) > parse_timestamp(bookmark)
    except TimeFormatError:
        return True


def _utc_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 20 and value[-1] == "Z" and value[10] == "T"
