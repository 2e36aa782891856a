"""Import endpoints: create, duplicate, correction, suspicious, latest, delete, upserts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enectiva.errors import DUPLICATE, NOT_FOUND, OVERLAP
from tests.sandbox.conftest import Api, doc, error, path, valid
from tests.support.sandbox import Sandbox


@pytest.fixture(scope="module")
def sb(writable: Sandbox) -> Sandbox:
    return writable


@pytest.fixture(scope="module")
def imp(sb: Sandbox) -> Api:
    return Api(sb, sb.creds["import_token"])


def _url(sb: Sandbox, operation_id: str, **params: str) -> str:
    return path(operation_id, customerId=sb.creds["customer_id"], **params)


def reading(time: str, state: float, import_id: str = "imp-1", **more: object) -> dict:
    return doc("readings", time=time, state=state, import_id=import_id, **more)


def test_reading_creates_its_meter_then_duplicate_and_correction(sb: Sandbox, imp: Api) -> None:
    url = _url(sb, "createReading")
    created = imp.post(url, reading("2024-03-01T10:00:00.750+01:00", 10.5, unit="m3"))
    assert created.status_code == 201
    body = valid(created, "createReading")["data"]
    assert body["attributes"]["time"] == "2024-03-01T09:00:00Z"  # truncated, UTC
    assert body["attributes"]["suit"] == "default" and body["attributes"]["suspicious"] is False
    meter_id = body["relationships"]["meter"]["data"]["id"]
    reader = Api(sb).reader()
    meter = valid(reader.get(path("getMeter", meterId=meter_id)), "getMeter")["data"]
    assert (
        meter["attributes"].items()
        >= {
            "energy": "EL",
            "time_zone": "UTC",
            "unit": "m3",
            "measurement": "readings",
            "import_id": "imp-1",
            "suit": "default",
        }.items()
    )
    assert meter["relationships"]["entity"]["data"]["id"] == sb.creds["entity_ids"][0]

    duplicate = imp.post(url, reading("2024-03-01T09:00:00Z", 10.5, sender="other"))
    assert duplicate.status_code == 409
    assert error(duplicate)["code"] == DUPLICATE

    corrected = imp.post(url, reading("2024-03-01T09:00:00Z", 11.0))
    assert corrected.status_code == 201
    assert corrected.json()["data"]["id"] == body["id"]
    stored = [r for r in sb.records("readings") if r["import_id"] == "imp-1"]
    assert [(r["time"], r["state"]) for r in stored] == [("2024-03-01T09:00:00Z", 11.0)]


def test_suspicious_readings_are_stored_not_listed_but_latest(sb: Sandbox, imp: Api) -> None:
    url = _url(sb, "createReading")
    assert imp.post(url, reading("2024-01-01T00:00:00Z", 100, "sus", unit="kWh")).ok
    assert imp.post(url, reading("2024-01-02T00:00:00Z", 101, "sus")).ok
    jump = imp.post(url, reading("2024-01-03T00:00:00Z", 101 * 1001, "sus"))
    assert jump.status_code == 201 and jump.json()["data"]["attributes"]["suspicious"] is True
    unit = imp.post(url, reading("2024-01-04T00:00:00Z", 102, "sus", unit="MWh"))
    assert unit.status_code == 201 and unit.json()["data"]["attributes"]["suspicious"] is True
    latest = imp.get(_url(sb, "latestReading", importId="sus", suit="default"))
    assert valid(latest, "latestReading")["data"]["attributes"]["time"] == "2024-01-04T00:00:00Z"
    meter_id = unit.json()["data"]["relationships"]["meter"]["data"]["id"]
    listed = Api(sb).reader().get(path("listReadings", meterId=meter_id)).json()["data"]
    assert [r["attributes"]["state"] for r in listed] == [100, 101]
    assert all(r["attributes"]["unit"] == "kWh" for r in listed)
    assert sum(r["suspicious"] for r in sb.records("readings") if r["import_id"] == "sus") == 2


@pytest.mark.parametrize(
    ("attributes", "attribute"),
    [
        ({"state": 1, "import_id": "x"}, "time"),
        ({"time": "2024-01-01T00:00:00", "state": 1, "import_id": "x"}, "time"),
        ({"time": "2999-01-01T00:00:00Z", "state": 1, "import_id": "x"}, "time"),
        ({"time": "2024-01-01T00:00:00Z", "state": "1", "import_id": "x"}, "state"),
        ({"time": "2024-01-01T00:00:00Z", "state": 1, "import_id": "a b"}, "import_id"),
        ({"time": "2024-01-01T00:00:00Z", "state": 1, "import_id": "x", "suit": ""}, "suit"),
        ({"time": "2024-01-01T00:00:00Z", "state": 1, "import_id": "x" * 256}, "import_id"),
        (
            {
                "time": "2024-01-01T00:00:00Z",
                "state": 1,
                "import_id": "x",
                "customer_uuid": ("00000000-0000-4000-8000-000000000000"),
            },
            "customer_uuid",
        ),
    ],
)
def test_invalid_readings_are_400_naming_the_attribute(
    sb: Sandbox, imp: Api, attributes: dict, attribute: str
) -> None:
    answer = imp.post(_url(sb, "createReading"), doc("readings", **attributes))
    assert answer.status_code == 400, answer.text
    valid(answer, "createReading")
    assert error(answer)["source"]["pointer"] == f"/data/attributes/{attribute}"


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '{"data": []}',
        '{"data": {"type": "profiles", "attributes": {}}}',
        '{"data": {"type": "readings"}}',
        '{"data": {"type": "readings", "attributes": {"time": "2024-01-01T00:00:00Z", '
        '"state": NaN, "import_id": "x"}}}',
        '{"data": {"type": "readings", "attributes": {"time": "2024-01-01T00:00:00Z", '
        '"state": 1e999, "import_id": "x"}}}',
        '{"data": {"type": "readings", "attributes": {"time": "2024-01-01T00:00:00Z", '
        '"state": 1' + "0" * 400 + ', "import_id": "x"}}}',
        "",
    ],
)
def test_malformed_bodies_are_400_never_500(sb: Sandbox, imp: Api, body: str) -> None:
    answer = imp.post(_url(sb, "createReading"), body.encode())
    assert answer.status_code == 400, answer.text
    valid(answer, "createReading")


def test_delete_reading_by_id_and_by_time(sb: Sandbox, imp: Api) -> None:
    url = _url(sb, "createReading")
    first = imp.post(url, reading("2024-05-01T00:00:00+02:00", 1, "del")).json()["data"]
    assert imp.post(url, reading("2024-05-02T00:00:00Z", 2, "del")).ok
    assert imp.delete(_url(sb, "deleteReadingById", id=first["id"])).status_code == 204
    gone = imp.delete(_url(sb, "deleteReadingById", id=first["id"]))
    assert gone.status_code == 404 and error(gone)["code"] == NOT_FOUND
    by_time = _url(sb, "deleteReadingByTime", importId="del", suit="default")
    # "+" must arrive percent-encoded; requests encodes params properly
    answer = imp.delete(by_time, params={"time": "2024-05-02T02:00:00+02:00"})
    assert answer.status_code == 204
    assert imp.delete(by_time, params={"time": "2024-05-02T00:00:00Z"}).status_code == 404
    assert imp.delete(by_time).status_code == 400
    assert imp.delete(by_time, params={"time": "yesterday"}).status_code == 400
    latest = imp.get(_url(sb, "latestReading", importId="del", suit="default"))
    assert latest.status_code == 404 and error(latest)["code"] == NOT_FOUND
    assert [r for r in sb.records("readings") if r["import_id"] == "del"] == []


def test_import_ids_with_slashes_and_custom_suits(sb: Sandbox, imp: Api) -> None:
    created = imp.post(
        _url(sb, "createReading"), reading("2024-01-01T00:00:00Z", 5, "a/b", suit="s1")
    )
    assert created.status_code == 201
    latest = imp.get(_url(sb, "latestReading", importId="a/b", suit="s1"))
    assert latest.status_code == 200 and latest.json()["data"]["attributes"]["suit"] == "s1"
    assert imp.get(_url(sb, "latestReading", importId="a/b", suit="default")).status_code == 404


def test_data_points_name_their_series(sb: Sandbox, imp: Api) -> None:
    url = _url(sb, "createDataPoint")
    point = doc("data_points", time="2024-02-01T00:00:00Z", value=3.5, import_id="dp", unit="°C")
    created = imp.post(url, point)
    assert created.status_code == 201
    series_id = valid(created, "createDataPoint")["data"]["relationships"]["data_series"]["data"][
        "id"
    ]
    assert imp.post(url, point).status_code == 409
    other_unit = doc("data_points", time="2024-02-02T00:00:00Z", value=4, import_id="dp", unit="K")
    assert imp.post(url, other_unit).json()["data"]["attributes"]["suspicious"] is True
    listed = Api(sb).reader().get(path("listDataPoints", dataSeriesId=series_id))
    assert [p["attributes"]["value"] for p in valid(listed, "listDataPoints")["data"]] == [3.5]
    latest = imp.get(_url(sb, "latestDataPoint", importId="dp", suit="default"))
    assert valid(latest, "latestDataPoint")["data"]["attributes"]["value"] == 4
    by_time = _url(sb, "deleteDataPointByTime", importId="dp", suit="default")
    assert imp.delete(by_time, params={"time": "2024-02-02T00:00:00Z"}).status_code == 204
    point_id = created.json()["data"]["id"]
    assert imp.delete(_url(sb, "deleteDataPointById", id=point_id)).status_code == 204
    assert imp.delete(_url(sb, "deleteDataPointById", id=point_id)).status_code == 404


def test_profiles_upsert_overlap_latest_and_delete(sb: Sandbox, imp: Api) -> None:
    url = _url(sb, "upsertProfile")

    def profile(start: str, end: str, value: float) -> dict:
        return doc("profiles", **{"from": start, "to": end}, value=value, import_id="prof")

    created = imp.post(url, profile("2024-01-01T00:00:00Z", "2024-01-01T00:15:00Z", 1.0))
    assert created.status_code == 201
    valid(created, "upsertProfile")
    updated = imp.post(url, profile("2024-01-01T01:00:00+01:00", "2024-01-01T00:15:00Z", 2.0))
    assert (
        updated.status_code == 200 and updated.json()["data"]["id"] == created.json()["data"]["id"]
    )
    assert (
        imp.post(url, profile("2024-01-01T00:15:00Z", "2024-01-01T00:30:00Z", 1)).status_code == 201
    )
    overlap = imp.post(url, profile("2024-01-01T00:10:00Z", "2024-01-01T00:20:00Z", 1))
    assert overlap.status_code == 409 and error(overlap)["code"] == OVERLAP
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert imp.post(url, profile("2024-02-01T00:00:00Z", future, 1)).status_code == 400
    backwards = imp.post(url, profile("2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z", 1))
    assert backwards.status_code == 400
    latest = valid(
        imp.get(_url(sb, "latestProfile", importId="prof", suit="default")), "latestProfile"
    )
    assert latest["data"]["attributes"]["from"] == "2024-01-01T00:15:00Z"
    meter_id = latest["data"]["relationships"]["meter"]["data"]["id"]
    meter = Api(sb).reader().get(path("getMeter", meterId=meter_id)).json()["data"]
    assert meter["attributes"]["measurement"] == "profiles"
    by_range = _url(sb, "deleteProfileByRange", importId="prof", suit="default")
    partial = {"from": "2024-01-01T00:00:00Z", "to": "2024-01-01T00:10:00Z"}
    assert imp.delete(by_range, params=partial).status_code == 404
    exact = {"from": "2024-01-01T00:00:00Z", "to": "2024-01-01T00:15:00Z"}
    assert imp.delete(by_range, params=exact).status_code == 204
    assert imp.delete(_url(sb, "deleteProfileById", id=latest["data"]["id"])).status_code == 204
    assert imp.delete(_url(sb, "deleteProfileById", id=latest["data"]["id"])).status_code == 404
    assert [p for p in sb.records("profiles") if p["import_id"] == "prof"] == []


def test_invoices_duplicate_overlap_unknown_meter(sb: Sandbox) -> None:
    api = Api(sb).reader()
    meter = sb.creds["meter_ids"][1]
    url = path("createReceivedInvoice", meterId=meter)
    january = {"from": "2024-01-01", "to": "2024-01-31", "cost": 120.5, "note": "jan"}
    created = api.post(url, doc("received_invoices", **january))
    assert created.status_code == 201
    valid(created, "createReceivedInvoice")
    again = api.post(url, doc("received_invoices", **january))
    assert again.status_code == 409 and error(again)["code"] == DUPLICATE
    overlapping = {"from": "2024-01-31", "to": "2024-02-28", "consumption": 3.0}
    answer = api.post(url, doc("received_invoices", **overlapping))
    assert answer.status_code == 409 and error(answer)["code"] == OVERLAP
    unknown = api.post(
        path("createReceivedInvoice", meterId="999999"), doc("received_invoices", **january)
    )
    assert unknown.status_code == 404 and error(unknown)["code"] == NOT_FOUND
    neither = api.post(url, doc("received_invoices", **{"from": "2024-03-01", "to": "2024-03-31"}))
    assert neither.status_code == 400
    today = datetime.now(UTC).date().isoformat()
    late = api.post(url, doc("received_invoices", **{"from": "2024-04-01", "to": today, "cost": 1}))
    assert late.status_code == 400 and error(late)["source"]["pointer"] == "/data/attributes/to"
    negative = api.post(
        url, doc("received_invoices", **{"from": "2024-05-01", "to": "2024-05-02", "cost": -1})
    )
    assert negative.status_code == 400
    stored = [i for i in sb.records("invoices") if i["meter_id"] == meter]
    assert [(i["from"], i["to"], i["cost"], i["note"]) for i in stored] == [
        ("2024-01-01", "2024-01-31", 120.5, "jan")
    ]
