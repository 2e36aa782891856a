"""The OpenAPI document is well-formed and the helpers read it right."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from enectiva import contract


def test_every_component_schema_is_valid_json_schema() -> None:
    for name in contract.spec()["components"]["schemas"]:
        Draft202012Validator.check_schema(contract.component_schema(name))


def test_operations_cover_the_contract_tables() -> None:
    ops = contract.operations()
    assert ops["createReading"].path == "/import/readings/{customerId}"
    assert ops["createReading"].token == "import"
    assert ops["createAccessToken"].token == "login"
    assert ops["listReadings"].scope == "readings"
    assert ops["listReadings"].filter_type == "readings"
    assert ops["createReceivedInvoice"].token == "access"
    assert ops["createReceivedInvoice"].scope == "received_invoices"
    # every access-token operation names its scope
    for op in ops.values():
        if op.token == "access":
            assert op.scope, op.operation_id


def test_url_path_percent_encodes_segments() -> None:
    op = contract.operation("latestReading")
    path = op.url_path(customerId="c", importId="a/b c", suit="ü")
    assert path == "/import/readings/c/a%2Fb%20c/%C3%BC/latest"
    assert op.path_regex.match(path)


@pytest.mark.parametrize(
    ("operation_id", "status", "schema"),
    [
        ("createReading", 201, "ImportedReadingDocument"),
        ("createReading", 409, "ErrorDocument"),
        ("listMeters", 200, "MeterList"),
        ("deleteReadingById", 204, None),
    ],
)
def test_response_schema_names(operation_id: str, status: int, schema: str | None) -> None:
    assert contract.response_schema_name(operation_id, status) == schema
