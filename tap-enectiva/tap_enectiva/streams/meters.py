"""``meters``: the customer's meters; parent of ``readings`` and ``meter_deltas``.

A meter's context (:class:`MeterContext`) carries what its child streams need of it; their
state keeps one bookmark per meter id (:class:`MeterChildStream`).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, TypedDict

from singer_sdk.helpers._state import increment_state
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from typing_extensions import override

from tap_enectiva.client import EnectivaStream
from tap_enectiva.settings import config_ids

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


class MeterContext(TypedDict):
    """What the child streams of a meter know of it: the partition of ``readings`` and
    ``meter_deltas``. Only ``meter_id`` keys their state (see :class:`MeterChildStream`)."""

    meter_id: str
    import_id: str | None
    suit: str | None
    time_zone: str | None


def meter_context(meter: dict[str, Any]) -> MeterContext:
    """A ``meters`` record as its children's context."""
    return {
        "meter_id": meter["id"],
        "import_id": meter.get("import_id"),
        "suit": meter.get("suit"),
        "time_zone": meter.get("time_zone"),
    }


class MetersStream(EnectivaStream):
    """``GET /meters`` (deactivated ones too with ``include_deactivated``)."""

    name = "meters"
    operation_id = "listMeters"
    primary_keys = ("id",)
    replication_key = None

    @cached_property
    def wanted_meter_ids(self) -> frozenset[str] | None:
        """``meter_ids`` of the config; None reads every meter."""
        return frozenset(config_ids(self.config, "meter_ids")) or None

    @override
    def get_url_params(self, context: Context | None, next_page_token: Any) -> dict[str, Any]:
        return {"include_deactivated": "true"} if self.config.get("include_deactivated") else {}

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        record = self.resource_record(row)
        wanted = self.wanted_meter_ids
        if (wanted is not None and record["id"] not in wanted) or not self.owns(record["id"]):
            return None
        record["entity_id"] = related_id(row, "entity")
        return record

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> MeterContext:
        return meter_context(record)


class MeterChildStream(EnectivaStream):
    """A stream read meter by meter, each meter's :class:`MeterContext` its partition.

    The state keeps one bookmark per meter id, in the same shape as when the context was
    the meter id alone (``{"context": {"meter_id": ...}, "replication_key": ...}``), so a
    STATE of earlier versions resumes. The two overrides below keep that bookmark
    resumable mid-run, which SDK 0.54.9 does not do for ``state_partitioning_keys``.
    """

    parent_stream_type = MetersStream
    state_partitioning_keys = ("meter_id",)
    # The SDK closes a partition's state (drops its signpost and starting value) only when
    # the partition is the whole context; the partition reader closes the meter's at its end
    # (EnectivaStream.end_partition).

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        # Private SDK hook: the SDK counts a stream with state_partitioning_keys as unsorted and
        # keeps its bookmark in progress markers until the run ends (a killed run would read
        # each meter again); records come sorted per meter, so the bookmark advances at once.
        if self.replication_method != REPLICATION_INCREMENTAL or not self.replication_key:
            super()._increment_stream_state(latest_record, context=context)
            return
        increment_state(
            self.get_context_state(context),
            latest_record=latest_record,
            replication_key=self.replication_key,
            is_sorted=self.is_sorted,
            check_sorted=self.check_sorted,
        )


def related_id(resource: dict[str, Any], name: str) -> str | None:
    """The id of a to-one relationship, or None."""
    relation = (resource.get("relationships") or {}).get(name) or {}
    data = relation.get("data")
    return str(data["id"]) if isinstance(data, dict) and data.get("id") is not None else None
