"""Media types, the three token kinds, scopes, customers, expiry, rate limits: in that order."""

from __future__ import annotations

import time

import jwt
import pytest

from enectiva.auth import access_token_path
from enectiva.errors import UNKNOWN_CUSTOMER
from tests.sandbox.conftest import Api, doc, error, path, valid
from tests.support.sandbox import Sandbox

READING = doc("readings", time="2024-01-01T00:00:00Z", state=1.0, import_id="auth-test")


def test_access_token_is_a_jwt_with_exp_and_scopes(shared: Sandbox) -> None:
    answer = Api(shared).post(access_token_path(), token=shared.creds["login_token"])
    assert answer.status_code == 201
    body = valid(answer, "createAccessToken")
    claims = jwt.decode(body["data"]["attributes"]["token"], options={"verify_signature": False})
    assert claims["exp"] > time.time()
    assert {"meters", "readings", "entity_deltas", "received_invoices"} <= set(claims["scp"])
    assert shared.creds["login_token"] not in body["data"]["attributes"]["token"]


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_accept_without_the_jsonapi_type_is_406(shared: Sandbox, accept: str | None) -> None:
    api = Api(shared, shared.creds["import_token"])
    headers = {"Accept": accept} if accept else {"Accept": ""}
    answer = api.get(path("listMeters"), headers=headers)
    assert answer.status_code == 406
    assert "Accept" in error(answer)["detail"]


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.api+json; ext=x"])
def test_a_body_of_another_media_type_is_415(shared: Sandbox, content_type: str) -> None:
    api = Api(shared, shared.creds["import_token"])
    url = path("createReading", customerId=shared.creds["customer_id"])
    answer = api.post(url, READING, headers={"Content-Type": content_type})
    assert answer.status_code == 415


def test_charset_utf8_is_accepted(writable: Sandbox) -> None:
    api = Api(writable, writable.creds["import_token"])
    url = path("createReading", customerId=writable.creds["customer_id"])
    headers = {"Content-Type": "application/vnd.api+json; charset=utf-8"}
    assert api.post(url, READING, headers=headers).status_code == 201


def test_media_type_is_checked_before_the_token(shared: Sandbox) -> None:
    answer = Api(shared, "nonsense").get(path("listMeters"), headers={"Accept": "text/html"})
    assert answer.status_code == 406


@pytest.mark.parametrize("token", [None, "nonsense", "login"])
def test_reads_need_an_access_token(shared: Sandbox, token: str | None) -> None:
    if token == "login":
        token = shared.creds["login_token"]
    answer = Api(shared, token).get(path("listMeters"))
    assert answer.status_code == 401
    if token == shared.creds["login_token"]:
        assert "access_tokens" in error(answer)["detail"]
        assert shared.creds["login_token"] not in answer.text


def test_unknown_login_token_is_401_and_import_token_403(shared: Sandbox) -> None:
    api = Api(shared)
    assert api.post(access_token_path(), token="login_unknown").status_code == 401
    assert api.post(access_token_path(), token=shared.creds["import_token"]).status_code == 403


def test_missing_scope_is_403_naming_it(shared: Sandbox) -> None:
    limited = Api(shared).reader(shared.creds["login_token_limited"])
    meter = shared.creds["meter_ids"][0]
    answer = limited.get(path("listReadings", meterId=meter))
    assert answer.status_code == 403
    assert "readings" in error(answer)["detail"]
    assert limited.get(path("listMeters")).status_code == 200
    invoice = doc("received_invoices", **{"from": "2024-01-01", "to": "2024-01-31", "cost": 1})
    answer = limited.post(path("createReceivedInvoice", meterId=meter), invoice)
    assert answer.status_code == 403
    assert "received_invoices" in error(answer)["detail"]


def test_import_token_of_another_customer_is_403(shared: Sandbox) -> None:
    api = Api(shared, shared.creds["other_import_token"])
    answer = api.post(path("createReading", customerId=shared.creds["customer_id"]), READING)
    assert answer.status_code == 403


def test_unknown_customer_is_404_but_only_after_auth(shared: Sandbox) -> None:
    url = path("createReading", customerId="00000000-0000-4000-8000-000000000000")
    answer = Api(shared, shared.creds["import_token"]).post(url, READING)
    assert answer.status_code == 404
    assert error(answer)["code"] == UNKNOWN_CUSTOMER
    assert Api(shared, "nonsense").post(url, READING).status_code == 401


def test_access_token_on_import_endpoint_is_401(shared: Sandbox, reader: Api) -> None:
    url = path("latestReading", customerId=shared.creds["customer_id"], importId="x", suit="y")
    assert reader.get(url).status_code == 401


def test_another_customers_meter_is_not_found(shared: Sandbox) -> None:
    other = Api(shared).reader(shared.creds["other_login_token"])
    answer = other.get(path("getMeter", meterId=shared.creds["meter_ids"][0]))
    assert answer.status_code == 404


def test_access_tokens_expire(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    sb = make_sandbox(seed="empty", token_lifetime=2)
    api = Api(sb).reader()
    assert api.get(path("listMeters")).status_code == 200
    claims = jwt.decode(api.token or "", options={"verify_signature": False})
    time.sleep(max(0.0, claims["exp"] - time.time()) + 1.1)
    answer = api.get(path("listMeters"))
    assert answer.status_code == 401
    assert "expired" in error(answer)["detail"]
    sb.set_faults(token_lifetime=300)
    fresh = Api(sb).reader()
    assert fresh.get(path("listMeters")).status_code == 200


def test_rate_limit_429_with_retry_after_first(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    sb = make_sandbox(seed="empty", rate_limit=5)
    api = Api(sb, sb.creds["import_token"])
    url = path("latestReading", customerId=sb.creds["customer_id"], importId="x", suit="y")
    statuses = [api.get(url).status_code for _ in range(12)]
    assert statuses.count(404) >= 5 and 429 in statuses
    limited = api.get(url)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"].isdigit() and int(limited.headers["Retry-After"]) >= 1
    valid(limited, "latestReading")
    # 429 comes before the media type and the token check
    assert api.get(url, headers={"Accept": "text/html"}).status_code == 429
    # per credential: another token has its own bucket
    other = Api(sb, sb.creds["other_import_token"])
    assert other.get(url).status_code == 403
    assert sb.stats()["rate_limited"] >= 2
    sb.set_faults(rate_limit=None)
    assert api.get(url).status_code == 404
