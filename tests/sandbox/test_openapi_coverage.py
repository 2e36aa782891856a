"""The sandbox serves exactly the documented operations, and its answers fit their schemas."""

from __future__ import annotations

import pytest
from enectiva_sandbox.app import HANDLERS
from enectiva_sandbox.routing import Router

from enectiva import contract
from tests.sandbox.conftest import Api, doc, valid
from tests.support.sandbox import Sandbox

OPERATIONS = sorted(contract.operations())

BODIES = {
    "createReading": doc("readings", time="2024-01-01T00:00:00Z", state=1.5, import_id="cov"),
    "createDataPoint": doc("data_points", time="2024-01-01T00:00:00Z", value=2, import_id="cov"),
    "upsertProfile": doc(
        "profiles",
        **{"from": "2024-01-01T00:00:00Z", "to": "2024-01-01T01:00:00Z"},
        value=3,
        import_id="cov",
    ),
    "createReceivedInvoice": doc(
        "received_invoices", **{"from": "2023-01-01", "to": "2023-01-31"}, cost=10.0
    ),
}
QUERIES = {
    "deleteReadingByTime": {"time": "2024-01-01T00:00:00Z"},
    "deleteDataPointByTime": {"time": "2024-01-01T00:00:00Z"},
    "deleteProfileByRange": {"from": "2024-01-01T00:00:00Z", "to": "2024-01-01T01:00:00Z"},
}
# creates run before the latest/delete operations that need their records
ORDER = {"createAccessToken": 0, "createReading": 1, "createDataPoint": 1, "upsertProfile": 1}


def test_served_operations_are_exactly_the_documented_ones() -> None:
    assert set(HANDLERS) == set(contract.operations())
    routed = {r.operation.operation_id for rs in Router().routes.values() for r in rs}
    assert routed == set(contract.operations())


@pytest.fixture(scope="module")
def sb(writable: Sandbox) -> Sandbox:
    return writable


def _params(sb: Sandbox, op: contract.Operation) -> dict[str, str]:
    creds = sb.creds
    values = {
        "customerId": creds["customer_id"],
        "meterId": creds["meter_ids"][0],
        "entityId": creds["entity_ids"][0],
        "dataSeriesId": creds["data_series_ids"][0],
        "virtualMeterId": creds["virtual_meter_ids"][0],
        "importId": "cov",
        "suit": "default",
        "id": "999999999",
    }
    names = [p[1:-1] for p in op.path.split("/") if p.startswith("{")]
    return {n: values[n] for n in names}


def test_every_documented_operation_is_served_and_answers_its_schema(sb: Sandbox) -> None:
    # One test walks the operations in order (creates before latest and deletes), so that
    # test distribution over xdist workers cannot reorder them.
    api = Api(sb)
    order = sorted(OPERATIONS, key=lambda o: (ORDER.get(o, 2), o.startswith("delete"), o))
    for operation_id in order:
        op = contract.operation(operation_id)
        if op.token == "import":
            token = sb.creds["import_token"]
        elif op.token == "login":
            token = sb.creds["login_token"]
        else:
            token = api.access_token()
        answer = api.request(
            op.method,
            op.url_path(**_params(sb, op)),
            token=token,
            params=QUERIES.get(operation_id),
            json=BODIES.get(operation_id),
        )
        assert str(answer.status_code) in op.statuses, (operation_id, answer.text)
        assert answer.status_code < 300 or (
            operation_id.startswith("delete") and answer.status_code == 404
        ), (operation_id, answer.text)
        if answer.status_code != 204:
            assert answer.headers["content-type"] == "application/vnd.api+json", operation_id
            valid(answer, operation_id)


def test_error_answers_fit_the_error_schema(sb: Sandbox) -> None:
    api = Api(sb, "wrong")
    for operation_id in OPERATIONS:
        op = contract.operation(operation_id)
        answer = api.request(op.method, op.url_path(**_params(sb, op)))
        assert answer.status_code == 401
        valid(answer, operation_id)
    assert sb.stats()["invalid_responses"] == 0
