"""Stream schemas: the contract's ``*Attributes`` components plus ids (contract section 6)."""

from __future__ import annotations

from typing import Any

from singer_sdk.schema.source import SchemaSource
from typing_extensions import override

from enectiva.contract import component_schema

_ID = {"type": "string"}
_OPTIONAL_STRING = {"type": ["string", "null"]}
#: Deltas' month as a date (contract section 6): the tap derives it from the local ``time``.
_MONTH = {"month": {"type": "string", "format": "date"}}

#: Stream name -> (attributes component, fields the tap adds, fields that are required).
STREAM_SCHEMAS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "meters": ("MeterAttributes", {"id": _ID, "entity_id": _OPTIONAL_STRING}, ("id",)),
    "entities": ("EntityAttributes", {"id": _ID, "parent_id": _OPTIONAL_STRING}, ("id",)),
    "readings": (
        "ReadingAttributes",
        {"id": _ID, "meter_id": _ID, "import_id": _OPTIONAL_STRING, "suit": _OPTIONAL_STRING},
        ("id", "meter_id"),
    ),
    "data_points": ("DataPointAttributes", {"id": _ID, "data_series_id": _ID}, ("id",)),
    "meter_deltas": (
        "DeltaAttributes",
        {"id": _ID, "meter_id": _ID, "time_zone": _OPTIONAL_STRING, **_MONTH},
        ("meter_id", "month"),
    ),
    "entity_deltas": (
        "DeltaAttributes",
        {"id": _ID, "entity_id": _ID, **_MONTH},
        ("entity_id", "month"),
    ),
    "virtual_meter_deltas": (
        "DeltaAttributes",
        {"id": _ID, "virtual_meter_id": _ID, **_MONTH},
        ("virtual_meter_id", "month"),
    ),
}


def stream_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of a stream's records."""
    component, added, required = STREAM_SCHEMAS[name]
    schema = component_schema(component)
    properties = {**added, **schema.get("properties", {})}
    return {
        "type": "object",
        "properties": properties,
        "required": sorted({*schema.get("required", ()), *required}),
    }


def record_fields(name: str) -> tuple[str, ...]:
    """The attribute names a stream copies from a resource (its component's properties)."""
    return tuple(component_schema(STREAM_SCHEMAS[name][0]).get("properties", {}))


class ContractSchema(SchemaSource[str]):
    """Schema source backed by ``enectiva/openapi.yaml`` (keys are stream names)."""

    @override
    def fetch_schema(self, key: str) -> dict[str, Any]:
        return stream_schema(key)


CONTRACT = ContractSchema()
