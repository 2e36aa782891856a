"""``meters``: the customer's meters; parent of ``readings`` and ``meter_deltas``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_enectiva.client import EnectivaStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class MetersStream(EnectivaStream):
    """``GET /meters`` (deactivated ones too with ``include_deactivated``)."""

    name = "meters"
    operation_id = "listMeters"
    primary_keys = ("id",)
    replication_key = None

    def get_url_params(self, context: Context | None, next_page_token: Any) -> dict[str, Any]:
        return {"include_deactivated": "true"} if self.config.get("include_deactivated") else {}

    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        record = self.resource_record(row)
        wanted = self._enectiva_tap.meter_ids
        if wanted is not None and record["id"] not in wanted:
            return None
        record["entity_id"] = related_id(row, "entity")
        return record

    def get_child_context(self, record: dict[str, Any], context: Context | None) -> Context:
        # The children's state partition is the meter id alone (resumable, stable);
        # what they also need of the meter is looked up on the tap.
        self._enectiva_tap.remember_meter(record)
        return {"meter_id": record["id"]}


def related_id(resource: dict[str, Any], name: str) -> str | None:
    """The id of a to-one relationship, or None."""
    relation = (resource.get("relationships") or {}).get(name) or {}
    data = relation.get("data")
    return str(data["id"]) if isinstance(data, dict) and data.get("id") is not None else None
