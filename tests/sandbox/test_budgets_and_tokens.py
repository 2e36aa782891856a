"""Contract section 8 (budget headers, two tokens per kind with windows) and the section 1/5
points revised with it: 401 naming the token kind needed, no 415 without a body, delta
filters on month labels, no deltas for a profile meter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from enectiva.auth import access_token_path
from tests.sandbox.conftest import Api, doc, error, path, valid
from tests.support.sandbox import Sandbox

RATE = 4
BUDGET = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def _reading(n: int, import_id: str = "budget") -> dict:
    return doc("readings", time=f"2024-01-01T00:{n:02d}:00Z", state=float(n), import_id=import_id)


def _budget(answer: requests.Response) -> tuple[str, int, float]:
    h = answer.headers
    return h["X-RateLimit-Limit"], int(h["X-RateLimit-Remaining"]), float(h["X-RateLimit-Reset"])


@pytest.fixture(scope="module")
def limited() -> Iterator[Sandbox]:
    """A private demo sandbox with a small rate limit (a slow refill, so buckets drain)."""
    with Sandbox(seed="empty", rate_limit=RATE) as sb:
        yield sb


def _drain(api: Api, url: str) -> list[requests.Response]:
    """Answers until the first 429 (at most twice the capacity of requests)."""
    answers = []
    for n in range(2 * RATE + 2):
        answers.append(api.post(url, _reading(n, f"drain-{id(api)}")))
        if answers[-1].status_code == 429:
            break
    return answers


def test_budget_headers_count_down_on_2xx_4xx_and_429(limited: Sandbox) -> None:
    api = Api(limited, limited.creds["import_token"])
    url = path("createReading", customerId=limited.creds["customer_id"])
    answers = _drain(api, url)
    assert answers[-1].status_code == 429
    assert int(answers[-1].headers["Retry-After"]) >= 1
    first_limit, first_remaining, first_reset = _budget(answers[0])
    assert answers[0].status_code == 201
    assert first_limit == str(RATE)
    assert first_remaining == RATE - 1  # a full bucket, less this request
    assert 0 < first_reset <= 1  # one request short of full: 1/R seconds
    remaining = [_budget(a)[1] for a in answers]
    assert remaining == sorted(remaining, reverse=True)
    assert remaining[-1] == 0
    assert 0 < _budget(answers[-1])[2] <= 1  # the bucket holds less than one request
    # a 4xx answer carries them too (the bucket may still be empty: 429 or 404)
    missing = api.get(path("latestReading", customerId=limited.creds["customer_id"],
                           importId="none", suit="default"))  # fmt: skip
    assert missing.status_code in (404, 429)
    assert all(h in missing.headers for h in BUDGET)


def test_each_token_has_its_own_bucket(limited: Sandbox) -> None:
    creds = limited.creds
    url = path("createReading", customerId=creds["customer_id"])
    assert _drain(Api(limited, creds["import_token"]), url)[-1].status_code == 429
    second = Api(limited, creds["import_token_secondary"]).post(url, _reading(0, "second"))
    assert second.status_code == 201
    assert _budget(second)[1] == RATE - 1
    # the two login tokens: their access tokens count against separate buckets
    primary_reader = Api(limited).reader(creds["login_token"])
    statuses = [primary_reader.get(path("listMeters")).status_code for _ in range(2 * RATE)]
    assert 429 in statuses
    secondary_login = Api(limited).post(access_token_path(), token=creds["login_token_secondary"])
    assert secondary_login.status_code == 201
    assert _budget(secondary_login)[1] == RATE - 1


def test_stats_count_answers_and_429s_per_credential(limited: Sandbox) -> None:
    creds = limited.creds
    limited.reset_stats()
    answers = _drain(Api(limited, creds["import_token_secondary"]), path(
        "createReading", customerId=creds["customer_id"]))  # fmt: skip
    counts = limited.stats()["by_credential"][f"import_secondary@{creds['customer_id']}"]
    assert counts["answered"] == sum(1 for a in answers if a.status_code != 429)
    assert counts["rate_limited"] == sum(1 for a in answers if a.status_code == 429) == 1
    assert counts["first"] <= counts["last"]
    assert all(key.endswith(creds["customer_id"]) for key in limited.stats()["by_credential"])


def test_no_budget_headers_with_the_flag_nor_without_a_limit() -> None:
    with Sandbox(seed="empty", rate_limit=RATE, budget_headers=False) as sb:
        api = Api(sb, sb.creds["import_token"])
        answers = _drain(api, path("createReading", customerId=sb.creds["customer_id"]))
        assert answers[-1].status_code == 429
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert not any(h in a.headers for a in answers for h in BUDGET)
        sb.set_faults(budget_headers=True)
        assert all(h in api.get(path("listMeters")).headers for h in BUDGET)
        sb.set_faults(rate_limit=None)
        assert not any(h in api.get(path("listMeters")).headers for h in BUDGET)


def test_credentials_name_both_tokens_of_each_kind(shared: Sandbox) -> None:
    creds = shared.creds
    assert creds["tokens"]["import_primary"] == creds["import_token"]
    assert creds["tokens"]["import_secondary"] == creds["import_token_secondary"]
    assert creds["tokens"]["login_primary"] == creds["login_token"]
    assert creds["tokens"]["login_secondary"] == creds["login_token_secondary"]
    assert creds["tokens"]["login_limited"] == creds["login_token_limited"]
    assert len(set(creds["tokens"].values())) == 5
    assert creds["other_tokens"]["import_secondary"] == creds["other_import_token_secondary"]
    assert creds["other_tokens"]["login_secondary"] == creds["other_login_token_secondary"]
    assert {t["name"] for t in shared.tokens() if t["valid"]} == set(creds["tokens"])


@pytest.fixture(scope="module")
def expired() -> Iterator[Sandbox]:
    """Started with the primary import token and the secondary login token expired."""
    with Sandbox(seed="empty", expired_tokens=["import_primary", "login_secondary"]) as sb:
        yield sb


def test_a_token_outside_its_window_is_401_like_an_unknown_one(expired: Sandbox) -> None:
    creds = expired.creds
    url = path("createReading", customerId=creds["customer_id"])
    refused = Api(expired, creds["import_token"]).post(url, _reading(1))
    unknown = Api(expired, "imp_unknown").post(url, _reading(1))
    assert refused.status_code == unknown.status_code == 401
    assert error(refused)["detail"] == error(unknown)["detail"]
    assert creds["import_token"] not in refused.text
    assert Api(expired, creds["import_token_secondary"]).post(url, _reading(1)).status_code == 201
    api = Api(expired)
    assert api.post(access_token_path(), token=creds["login_token_secondary"]).status_code == 401
    assert api.post(access_token_path(), token=creds["login_token"]).status_code == 201
    states = {t["name"]: t for t in expired.tokens()}
    assert not states["import_primary"]["valid"] and states["import_primary"]["not_after"]
    assert states["import_secondary"]["valid"]


def test_a_window_not_yet_open_then_reopened(expired: Sandbox) -> None:
    creds = expired.creds
    url = path("createReading", customerId=creds["customer_id"])
    api = Api(expired, creds["import_token_secondary"])
    expired.set_token_window("import_secondary", not_before="2999-01-01T00:00:00Z")
    assert api.post(url, _reading(2)).status_code == 401
    expired.set_token_window("import_secondary")  # open on both sides
    assert api.post(url, _reading(2)).status_code == 201


def test_expiring_a_login_token_kills_its_access_tokens(writable: Sandbox) -> None:
    creds = writable.creds
    old = Api(writable).reader(creds["login_token_secondary"])
    other = Api(writable).reader(creds["login_token"])
    assert old.get(path("listMeters")).status_code == 200
    state = writable.expire_token("login_secondary")
    assert state["valid"] is False and state["kind"] == "login"
    refused = old.get(path("listMeters"))
    assert refused.status_code == 401
    assert (
        error(refused)["detail"] == error(Api(writable, "x.y.z").get(path("listMeters")))["detail"]
    )
    assert other.get(path("listMeters")).status_code == 200
    writable.set_token_window("login_secondary")  # valid again: so are its access tokens
    assert old.get(path("listMeters")).status_code == 200


def test_revoking_tokens_at_run_time(writable: Sandbox) -> None:
    creds = writable.creds
    url = path("createReading", customerId=creds["customer_id"])
    importer = Api(writable, creds["import_token_secondary"])
    assert importer.post(url, _reading(3, "revoke")).status_code == 201
    assert writable.revoke_token("import_secondary")["revoked"] is True
    assert importer.post(url, _reading(4, "revoke")).status_code == 401
    writable.set_token_window("import_secondary")  # a window never undoes a revocation
    assert importer.post(url, _reading(4, "revoke")).status_code == 401
    reader = Api(writable).reader(creds["other_login_token_secondary"])
    writable.revoke_token("login_secondary", customer_id=creds["other_customer_id"])
    assert reader.get(path("listMeters")).status_code == 401
    answer = requests.post(f"{writable.url}/_sandbox/tokens/no_such/revoke", timeout=10)
    assert answer.status_code == 404


def test_wrong_token_kind_is_401_naming_the_kind_needed(shared: Sandbox, reader: Api) -> None:
    creds = shared.creds
    read = Api(shared, creds["login_token_secondary"]).get(path("listMeters"))
    assert read.status_code == 401
    assert "access token" in error(read)["detail"]
    assert creds["login_token_secondary"] not in read.text
    url = path("createReading", customerId=creds["customer_id"])
    imported = reader.post(url, _reading(5))
    assert imported.status_code == 401
    assert "an access token is not an import token" in error(imported)["detail"]
    by_import = Api(shared, creds["import_token_secondary"]).get(path("listMeters"))
    assert by_import.status_code == 401
    assert "access token" in error(by_import)["detail"]


def test_a_request_without_a_body_is_never_415(shared: Sandbox) -> None:
    answer = Api(shared).post(
        access_token_path(),
        token=shared.creds["login_token"],
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 201
    url = path("createReading", customerId=shared.creds["customer_id"])
    empty = Api(shared, shared.creds["import_token"]).post(
        url, headers={"Content-Type": "application/json"}
    )
    assert empty.status_code == 400  # the body is missing, its type does not matter


def _months(api: Api, url: str, kind: str, *filters: str) -> list[str]:
    params: list[tuple[str, str]] | None = [("filter[]", f"{kind}.time{f}") for f in filters]
    months: set[str] = set()
    next_url: str | None = url
    while next_url:  # every page
        answer = api.get(next_url, params=params)
        assert answer.status_code == 200, answer.text
        months |= {d["attributes"]["time"] for d in answer.json()["data"]}
        next_url, params = answer.json()["links"]["next"], None
    return sorted(months)


@pytest.mark.parametrize(
    ("operation_id", "kind", "param", "which"),
    [
        ("listMeterDeltas", "meter_deltas", "meterId", "meter_ids"),  # New York meter
        ("listEntityDeltas", "entity_deltas", "entityId", "entity_ids"),  # zones mixed
    ],
)
def test_delta_filters_compare_month_labels(
    shared: Sandbox, reader: Api, operation_id: str, kind: str, param: str, which: str
) -> None:
    ident = shared.creds[which][3 if which == "meter_ids" else 0]
    url = path(operation_id, **{param: ident})
    every = _months(reader, url, kind)
    assert len(every) >= 5
    label = every[2]
    mid = label[:8] + "15T00:00:00"  # the middle of that month
    assert _months(reader, url, kind, f">={label}") == [m for m in every if m >= label]
    assert _months(reader, url, kind, f">{label}") == [m for m in every if m > label]
    assert _months(reader, url, kind, f"<{label}") == [m for m in every if m < label]
    # by label, not instant: a month starting before mid-month is left out by >= mid and
    # kept by < mid, whatever the zones of its meters
    assert _months(reader, url, kind, f">={mid}") == [m for m in every if m > label]
    assert _months(reader, url, kind, f"<{mid}") == [m for m in every if m <= label]


def test_a_profile_meter_has_no_deltas(writable: Sandbox) -> None:
    creds = writable.creds
    profile = doc(
        "profiles",
        **{"from": "2024-01-01T00:00:00Z", "to": "2024-01-01T00:15:00Z"},
        value=2.5,
        import_id="profile-deltas",
    )
    imported = Api(writable, creds["import_token"]).post(
        path("upsertProfile", customerId=creds["customer_id"]), profile
    )
    assert imported.status_code == 201, imported.text
    meter_id = imported.json()["data"]["relationships"]["meter"]["data"]["id"]
    reader = Api(writable).reader()
    meter = reader.get(path("getMeter", meterId=meter_id)).json()["data"]
    assert meter["attributes"]["measurement"] == "profiles"
    answer = reader.get(path("listMeterDeltas", meterId=meter_id))
    assert answer.status_code == 200
    assert valid(answer, "listMeterDeltas")["data"] == []
