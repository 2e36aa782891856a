"""Lists: pages and links.next, keyset filters, sort, include_deactivated, entities."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.sandbox.conftest import Api, error, path, valid
from tests.support.sandbox import Sandbox

PAGE = 50  # the shared sandbox's page size


def all_pages(api: Api, url: str, operation_id: str) -> list[dict]:
    records, pages = [], 0
    while url:
        body = valid(api.get(url), operation_id)
        assert len(body["data"]) <= PAGE
        records += body["data"]
        url = body["links"]["next"]
        pages += 1
        assert pages < 10_000
    return records


def test_meters_active_by_default_deactivated_on_request(shared: Sandbox, reader: Api) -> None:
    active = valid(reader.get(path("listMeters")), "listMeters")
    assert active["links"]["next"] is None
    every = valid(
        reader.get(path("listMeters"), params={"include_deactivated": "true"}), "listMeters"
    )
    ids = {m["id"] for m in every["data"]}
    assert ids == set(shared.creds["meter_ids"])
    inactive = [m for m in every["data"] if not m["attributes"]["active"]]
    assert len(inactive) == 1 and inactive[0]["attributes"]["deactivated_at"]
    assert {m["id"] for m in active["data"]} == ids - {inactive[0]["id"]}
    assert not ids & set(shared.creds["virtual_meter_ids"])
    assert reader.get(path("listMeters"), params={"include_deactivated": "yes"}).status_code == 400


def test_meter_and_entity_resources(shared: Sandbox, reader: Api) -> None:
    meter = valid(reader.get(path("getMeter", meterId=shared.creds["meter_ids"][0])), "getMeter")
    attributes = meter["data"]["attributes"]
    assert attributes["energy"] == "EL" and attributes["unit"] == "kWh"
    assert attributes["time_zone"] == "Europe/Prague"
    assert len(attributes["code"].split("-")) == 5
    entities = valid(reader.get(path("listEntities")), "listEntities")["data"]
    assert [e["id"] for e in entities] == shared.creds["entity_ids"]
    roots = [e for e in entities if e["relationships"]["parent"]["data"] is None]
    assert len(roots) == 1
    one = valid(reader.get(path("getEntity", entityId=entities[1]["id"])), "getEntity")
    assert one["data"]["relationships"]["parent"]["data"]["id"] == roots[0]["id"]
    for op, param in (("getMeter", "meterId"), ("getEntity", "entityId")):
        for bad in ("999999", "abc"):
            answer = reader.get(path(op, **{param: bad}))
            assert answer.status_code == 404 and error(answer)["code"] == "not_found"


def test_readings_pages_follow_links_next(shared: Sandbox, reader: Api) -> None:
    meter = shared.creds["meter_ids"][2]  # daily water meter
    url = path("listReadings", meterId=meter)
    records = all_pages(reader, url, "listReadings")
    times = [r["attributes"]["time"] for r in records]
    assert len(records) > 3 * PAGE
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(t.endswith("Z") for t in times)
    stored = [r for r in shared.records("readings") if r["meter_id"] == meter]
    assert [r["id"] for r in records] == [r["id"] for r in stored if not r["suspicious"]]
    second = reader.get(url, params={"page": 2}).json()
    assert second["data"] == records[PAGE : 2 * PAGE]
    assert second["links"]["next"].startswith(shared.url) and "page=3" in second["links"]["next"]
    beyond = reader.get(url, params={"page": 10_000}).json()
    assert beyond["data"] == [] and beyond["links"]["next"] is None


def test_keyset_filters_with_offsets_and_sort(shared: Sandbox, reader: Api) -> None:
    meter = shared.creds["meter_ids"][2]
    url = path("listReadings", meterId=meter)
    everything = all_pages(reader, url, "listReadings")
    pivot = everything[10]["attributes"]["time"]  # ...Z
    # the same instant written with a +02:00 offset, "+" percent-encoded as %2B
    hour = int(pivot[11:13])
    plus2 = f"{pivot[:11]}{hour + 2:02d}{pivot[13:19]}+02:00" if hour < 22 else pivot
    filtered = reader.get(f"{url}?filter[]={quote('readings.time>' + plus2, safe='')}").json()
    assert filtered["data"][0]["id"] == everything[11]["id"]
    inclusive = reader.get(url, params={"filter[]": f"readings.time>={pivot}"}).json()
    assert inclusive["data"][0]["id"] == everything[10]["id"]
    upper = everything[14]["attributes"]["time"]
    window = reader.get(
        url, params=[("filter[]", f"readings.time>{pivot}"), ("filter[]", f"readings.time<{upper}")]
    ).json()
    assert [r["id"] for r in window["data"]] == [r["id"] for r in everything[11:14]]
    assert window["links"]["next"] is None
    descending = reader.get(url, params={"sort": "-time"}).json()["data"]
    assert descending[0]["id"] == everything[-1]["id"]
    raw_plus = reader.get(f"{url}?filter[]=readings.time>{plus2}")  # "+" decodes as a space
    assert raw_plus.status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"filter[]": "readings.time<=2024-01-01T00:00:00Z"},
        {"filter[]": "meters.time>2024-01-01T00:00:00Z"},
        {"filter[]": "readings.time>2024-01-01T00:00:00"},
        {"filter[]": "readings.state>1"},
        {"page": "0"},
        {"page": "x"},
        {"page": "9" * 5000},
        {"sort": "state"},
        {"unknown": "1"},
        [("filter[]", "readings.time>2024-01-01T00:00:00Z")] * 4,
    ],
)
def test_bad_list_parameters_are_400(shared: Sandbox, reader: Api, params: object) -> None:
    answer = reader.get(path("listReadings", meterId=shared.creds["meter_ids"][0]), params=params)
    assert answer.status_code == 400, answer.text
    valid(answer, "listReadings")


def test_list_of_unknown_meter_is_404(reader: Api) -> None:
    assert reader.get(path("listReadings", meterId="424242")).status_code == 404


def test_suspicious_seed_reading_is_not_listed(shared: Sandbox, reader: Api) -> None:
    meter = shared.creds["meter_ids"][0]
    suspicious = [
        r for r in shared.records("readings") if r["meter_id"] == meter and r["suspicious"]
    ]
    assert len(suspicious) == 1
    at = suspicious[0]["time"]
    around = reader.get(
        path("listReadings", meterId=meter), params={"filter[]": f"readings.time>={at}"}
    ).json()["data"]
    assert around and around[0]["attributes"]["time"] > at


def test_data_points_list(shared: Sandbox, reader: Api) -> None:
    series = shared.creds["data_series_ids"][0]
    records = all_pages(reader, path("listDataPoints", dataSeriesId=series), "listDataPoints")
    assert len(records) == 90 * 24 + 1
    assert records[0]["attributes"]["unit"] == "°C"
    after = reader.get(
        path("listDataPoints", dataSeriesId=series),
        params={"filter[]": f"data_series.time>{records[-2]['attributes']['time']}"},
    ).json()["data"]
    assert [p["id"] for p in after] == [records[-1]["id"]]
    assert reader.get(path("listDataPoints", dataSeriesId="1")).status_code == 404


def test_unknown_path_and_method(shared: Sandbox, reader: Api) -> None:
    answer = reader.get("/nothing/here")
    assert answer.status_code == 404 and answer.json()["errors"][0]["status"] == "404"
    assert reader.request("PUT", path("listMeters")).status_code == 405
