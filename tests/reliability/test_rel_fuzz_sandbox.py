"""The sandbox fuzzed from its own OpenAPI document (schemathesis): no 500s, and every answer
has a documented status, content type, headers and body schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from enectiva import contract
from enectiva.media import MEDIA_TYPE
from tests.support.sandbox import Sandbox

pytestmark = pytest.mark.slow
OPENAPI = Path(contract.__file__).with_name("openapi.yaml")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
_sandbox: Sandbox | None = None


def fuzzed_sandbox() -> Sandbox:
    """One writable demo sandbox for the whole module (started on first use)."""
    global _sandbox
    if _sandbox is None or not _sandbox.running:
        _sandbox = Sandbox(seed="demo", seed_size="3x2x3600", page_size=20).start()
    return _sandbox


@pytest.fixture(scope="module", autouse=True)
def _stop_sandbox():
    yield
    if _sandbox is not None:
        _sandbox.stop()


schema = schemathesis.openapi.from_path(OPENAPI)


def token_for(sb: Sandbox, path: str) -> str:
    if path.startswith("/import/"):
        return sb.creds["import_token"]
    if path == "/access_tokens":
        return sb.creds["login_token"]
    return _access_token(sb)


def _access_token(sb: Sandbox) -> str:
    import requests

    answer = requests.post(
        f"{sb.url}/access_tokens",
        headers={"Accept": MEDIA_TYPE, "Authorization": f"Bearer {sb.creds['login_token']}"},
        timeout=30,
    )
    return answer.json()["data"]["attributes"]["token"]


# One pytest item per operation, named by its label: schemathesis' own ``schema.parametrize()``
# gives every item the same node id, and pytest-xdist then runs only one of them.
OPERATIONS = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_sandbox_answers_match_the_contract(label: str) -> None:
    operation = OPERATIONS[label]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def check(case) -> None:
        call_and_validate(case)

    check()


def call_and_validate(case) -> None:
    """Send one generated request with the right token; every check must pass."""
    sb = fuzzed_sandbox()
    path = case.operation.path
    if case.path_parameters and "customerId" in case.path_parameters:
        case.path_parameters["customerId"] = sb.creds["customer_id"]
    headers = {
        "Accept": MEDIA_TYPE,
        "Authorization": f"Bearer {token_for(sb, path)}",
    }
    if case.body is not None and not isinstance(case.body, type(None)):
        headers["Content-Type"] = MEDIA_TYPE
    case.call_and_validate(base_url=sb.url, headers=headers, checks=CHECKS)
