"""The four record kinds the target loads and how each maps onto the contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from enectiva import contract, rules


@dataclass(frozen=True)
class Kind:
    """One record kind: its API type, operations and the fields that identify a record."""

    name: str  # the stream kind users name (readings, data_points, profiles, invoices)
    api_type: str  # the JSON:API type of the import body
    create_operation: str
    delete_operation: str | None  # None: this kind has no delete
    latest_operation: str | None  # None: never skipped by skip_already_imported
    key_fields: tuple[str, ...]  # what names a record in messages (and a delete)
    order_field: str | None  # compared with the latest record by skip_already_imported
    token: str  # "import" or "access"

    @property
    def input_component(self) -> str:
        return rules.INPUT_SCHEMAS[self.api_type]

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """The attributes a create body may carry (the contract's input properties)."""
        schema = contract.component_schema(self.input_component)
        return tuple(schema["properties"])

    @property
    def time_fields(self) -> tuple[str, ...]:
        return rules.TIME_FIELDS.get(self.api_type, ())

    @property
    def number_fields(self) -> tuple[str, ...]:
        return rules.NUMBER_FIELDS[self.api_type]


KINDS: dict[str, Kind] = {
    "readings": Kind(
        name="readings",
        api_type="readings",
        create_operation="createReading",
        delete_operation="deleteReadingByTime",
        latest_operation="latestReading",
        key_fields=("import_id", "suit", "time"),
        order_field="time",
        token="import",
    ),
    "data_points": Kind(
        name="data_points",
        api_type="data_points",
        create_operation="createDataPoint",
        delete_operation="deleteDataPointByTime",
        latest_operation="latestDataPoint",
        key_fields=("import_id", "suit", "time"),
        order_field="time",
        token="import",
    ),
    "profiles": Kind(
        name="profiles",
        api_type="profiles",
        create_operation="upsertProfile",
        delete_operation="deleteProfileByRange",
        latest_operation="latestProfile",
        key_fields=("import_id", "suit", "from", "to"),
        order_field="from",
        token="import",
    ),
    "invoices": Kind(
        name="invoices",
        api_type="received_invoices",
        create_operation="createReceivedInvoice",
        delete_operation=None,
        latest_operation=None,
        key_fields=("meter_id", "from", "to"),
        order_field=None,
        token="access",
    ),
}

#: The field of an invoice record naming its meter (the ``{meterId}`` of the path).
INVOICE_METER_FIELD = "meter_id"
#: The Singer metadata field that turns a record into a delete.
DELETED_AT_FIELD = "_sdc_deleted_at"


def kind_of(stream_name: str, stream_kinds: Mapping[str, str]) -> Kind | None:
    """The kind a stream loads as: its ``stream_kinds`` mapping first, then its own name."""
    return KINDS.get(stream_kinds.get(stream_name) or stream_name)
