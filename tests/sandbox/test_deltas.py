"""Monthly deltas: the docs' worked example, edges, entity and virtual-meter sums."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from enectiva_sandbox.deltas import interpolate, month_values, points_state_at

from tests.sandbox.conftest import Api, doc, path, valid
from tests.support.sandbox import Sandbox


def _t(text: str, tz: object = UTC) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=tz).timestamp())  # type: ignore[arg-type]


DOC_EXAMPLE = [
    ("2017-12-31T23:00:00", 820.0),
    ("2018-01-01T03:00:00", 824.0),
    ("2018-01-31T23:00:00", 978.0),
    ("2018-02-01T01:00:00", 980.0),
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Prague", "America/New_York"])
def test_docs_example_january_is_158_in_the_meters_own_wall_clock(zone: str) -> None:
    tz = UTC if zone == "UTC" else ZoneInfo(zone)
    points = [(_t(t, tz), s) for t, s in DOC_EXAMPLE]
    values = dict(month_values(points[0], points[-1], tz, points_state_at(points)))
    assert values == pytest.approx(
        {"2017-12-01T00:00:00": 1.0, "2018-01-01T00:00:00": 158.0, "2018-02-01T00:00:00": 1.0}
    )


def test_interpolation_and_single_reading() -> None:
    assert interpolate((0, 10.0), (10, 20.0), 5) == 15.0
    assert interpolate((0, 10.0), None, 5) == 10.0
    assert interpolate(None, (10, 20.0), 5) == 20.0
    one = (_t("2024-03-05T00:00:00"), 5.0)
    assert month_values(one, one, UTC, lambda t: 5.0) == [("2024-03-01T00:00:00", 0.0)]


def test_months_not_spanned_have_no_record_and_current_month_grows() -> None:
    points = [(_t("2024-01-20T00:00:00"), 0.0), (_t("2024-04-10T00:00:00"), 810.0)]
    values = month_values(points[0], points[-1], UTC, points_state_at(points))
    assert [m for m, _ in values] == [
        "2024-01-01T00:00:00",
        "2024-02-01T00:00:00",
        "2024-03-01T00:00:00",
        "2024-04-01T00:00:00",
    ]
    assert sum(v for _, v in values) == pytest.approx(810.0)
    assert values[-1][1] == pytest.approx(810.0 * 9 / 81)  # April: 9 of 81 days so far


def test_docs_example_through_http(writable: Sandbox) -> None:
    imp = Api(writable, writable.creds["import_token"])
    url = path("createReading", customerId=writable.creds["customer_id"])
    meter_id = None
    for time, state in DOC_EXAMPLE:
        answer = imp.post(url, doc("readings", time=time + "Z", state=state, import_id="doc-ex"))
        assert answer.status_code == 201
        meter_id = answer.json()["data"]["relationships"]["meter"]["data"]["id"]
    reader = Api(writable).reader()
    deltas_url = path("listMeterDeltas", meterId=meter_id)
    body = valid(reader.get(deltas_url), "listMeterDeltas")
    values = {d["attributes"]["time"]: d["attributes"]["value"] for d in body["data"]}
    assert values == pytest.approx(
        {"2017-12-01T00:00:00": 1.0, "2018-01-01T00:00:00": 158.0, "2018-02-01T00:00:00": 1.0}
    )
    assert {d["attributes"]["unit"] for d in body["data"]} == {"kWh"}
    january = reader.get(
        deltas_url,
        params=[
            ("filter[]", "meter_deltas.time>=2018-01-01T00:00:00"),
            ("filter[]", "meter_deltas.time<2018-02-01T00:00:00"),
        ],
    ).json()["data"]
    assert [d["attributes"]["value"] for d in january] == pytest.approx([158.0])
    # a correction moves the February boundary at once (no stale cache): 978 -> 982 at midpoint
    fix = doc("readings", time="2018-02-01T01:00:00Z", state=982.0, import_id="doc-ex")
    assert imp.post(url, fix).status_code == 201
    again = reader.get(deltas_url).json()["data"]
    assert [d["attributes"]["value"] for d in again] == pytest.approx([1.0, 159.0, 2.0])
    offset = reader.get(deltas_url, params={"filter[]": "meter_deltas.time>2018-01-01T00:00:00Z"})
    assert offset.status_code == 400  # delta filter values have no offset


def _month_sums(api: Api, meter_ids: list[str]) -> dict[tuple[str, str], float]:
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for meter_id in meter_ids:
        for d in api.get(path("listMeterDeltas", meterId=meter_id)).json()["data"]:
            sums[(d["attributes"]["time"], d["attributes"]["energy"])] += d["attributes"]["value"]
    return dict(sums)


def _all_deltas(api: Api, url: str, operation_id: str) -> list[dict]:
    out = []
    while url:
        body = valid(api.get(url), operation_id)
        out += body["data"]
        url = body["links"]["next"]
    return out


def test_entity_deltas_sum_consumption_meters_of_the_tree(shared: Sandbox, reader: Api) -> None:
    meters = reader.get(path("listMeters"), params={"include_deactivated": "true"}).json()["data"]
    consumption = [m["id"] for m in meters if m["attributes"]["direction"] == "consumption"]
    assert len(consumption) < len(meters)  # the PV plant (production) is left out
    root = shared.creds["entity_ids"][0]
    deltas = _all_deltas(reader, path("listEntityDeltas", entityId=root), "listEntityDeltas")
    got = {
        (d["attributes"]["time"], d["attributes"]["energy"]): d["attributes"]["value"]
        for d in deltas
    }
    assert got == pytest.approx(_month_sums(reader, consumption))
    assert {e for _, e in got} == {"EL", "HE", "WA", "GA"}
    times = [d["attributes"]["time"] for d in deltas]
    assert times == sorted(times)
    newest = reader.get(path("listEntityDeltas", entityId=root), params={"sort": "-time"}).json()
    assert newest["data"][0]["attributes"]["time"] == times[-1]


def test_virtual_meter_deltas_sum_members(shared: Sandbox, reader: Api) -> None:
    vm = shared.creds["virtual_meter_ids"][0]
    deltas = _all_deltas(
        reader, path("listVirtualMeterDeltas", virtualMeterId=vm), "listVirtualMeterDeltas"
    )
    got = {
        (d["attributes"]["time"], d["attributes"]["energy"]): d["attributes"]["value"]
        for d in deltas
    }
    members = [shared.creds["meter_ids"][0], shared.creds["meter_ids"][3]]
    assert got == pytest.approx(_month_sums(reader, members))
    assert reader.get(path("listVirtualMeterDeltas", virtualMeterId="1")).status_code == 404
