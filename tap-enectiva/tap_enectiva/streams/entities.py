"""``entities``: the entity tree; parent of ``entity_deltas``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_enectiva.client import EnectivaStream
from tap_enectiva.streams.meters import related_id

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class EntitiesStream(EnectivaStream):
    """``GET /entities``."""

    name = "entities"
    operation_id = "listEntities"
    primary_keys = ("id",)
    replication_key = None

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        record = self.resource_record(row)
        if not self.owns(record["id"]):
            return None
        record["parent_id"] = related_id(row, "parent")
        return record

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> Context:
        return {"entity_id": record["id"]}
