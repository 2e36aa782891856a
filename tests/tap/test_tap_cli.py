"""The real ``tap-enectiva`` CLI against a sandbox process."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from late_data import import_reading
from tap_runner import discover, error_lines, parse_messages, run_tap, select, tap_args

from enectiva.media import MEDIA_TYPE
from tests.support.sandbox import Sandbox, tap_config

DAYS_BACK = 5


def recent_start(days: int = DAYS_BACK) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT00:00:00Z")


def full_config(sb: Sandbox, **overrides: Any) -> dict[str, Any]:
    settings = {
        "start_date": recent_start(),
        "data_series_ids": sb.creds["data_series_ids"],
        "virtual_meter_ids": sb.creds["virtual_meter_ids"],
        **overrides,
    }
    return tap_config(sb, **settings)


def listed(
    sb: Sandbox, path: str, *, login: str = "login_token", **params: Any
) -> list[dict[str, Any]]:
    """A list read by hand with ``page=N`` (independent of the tap's links.next paging), with
    the login token of the credentials' key ``login``."""
    token = requests.post(
        f"{sb.url}/access_tokens",
        headers={"Accept": MEDIA_TYPE, "Authorization": f"Bearer {sb.creds[login]}"},
        timeout=30,
    ).json()["data"]["attributes"]["token"]
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        doc = requests.get(
            f"{sb.url}{path}",
            params={**params, "page": page},
            headers={"Accept": MEDIA_TYPE, "Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        out += doc["data"]
        if not doc["links"]["next"]:
            return out
        page += 1


def expected_readings(sb: Sandbox, meter_ids: set[str], start: str) -> set[tuple]:
    return {
        (r["meter_id"], r["time"], r["state"], r["import_id"], r["suit"])
        for r in sb.records("readings")
        if r["meter_id"] in meter_ids and not r["suspicious"] and r["time"] >= start
    }


def reading_keys(records: list[dict[str, Any]]) -> list[tuple]:
    return [(r["meter_id"], r["time"], r["state"], r["import_id"], r["suit"]) for r in records]


@pytest.fixture(scope="module")
def full_run(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory):
    config = full_config(sandbox)
    sandbox.reset_stats()
    run = run_tap(tmp_path_factory.mktemp("full"), config)
    assert run.returncode == 0, run.stderr
    return sandbox, config, run, sandbox.stats()


def test_discovery_lists_every_stream_with_keys_and_no_secret(sandbox: Sandbox, tmp_path):
    config = full_config(sandbox)
    catalog = discover(tmp_path, config)
    entries = {e["tap_stream_id"]: e for e in catalog["streams"]}
    keys = {name: tuple(e["key_properties"]) for name, e in entries.items()}
    assert keys == {
        "meters": ("id",),
        "entities": ("id",),
        "readings": ("meter_id", "time"),
        "data_points": ("data_series_id", "time"),
        "meter_deltas": ("meter_id", "energy", "time"),
        "entity_deltas": ("entity_id", "energy", "time"),
        "virtual_meter_deltas": ("virtual_meter_id", "energy", "time"),
    }
    for name in ("readings", "data_points", "meter_deltas", "entity_deltas"):
        assert entries[name]["replication_key"] == "time"
    assert {"meter_id", "import_id", "suit", "state"} <= set(
        entries["readings"]["schema"]["properties"]
    )
    assert config["login_token"] not in json.dumps(catalog)


def test_readings_match_the_sandbox_across_pages(full_run):
    sb, config, run, stats = full_run
    sb_meters = {m["id"] for m in run.records("meters")}
    got = reading_keys(run.records("readings"))
    assert len(got) == len(set(got)), "no reading twice"
    expected = expected_readings(sb, sb_meters, config["start_date"])
    assert set(got) == expected
    per_meter = Counter(key[0] for key in got)
    assert max(per_meter.values()) > 50, "some meter needs several pages of 50"
    assert stats["by_operation_status"]["listReadings 200"] > len(per_meter)
    assert all(r["time"].endswith("Z") for r in run.records("readings"))


def test_meters_entities_and_deltas_match_the_api(full_run):
    sb, config, run, _ = full_run
    meters = {m["id"]: m for m in run.records("meters")}
    api_meters = listed(sb, "/meters")
    assert set(meters) == {m["id"] for m in api_meters}
    for resource in api_meters:
        record = meters[resource["id"]]
        assert record["entity_id"] == resource["relationships"]["entity"]["data"]["id"]
        for name, value in resource["attributes"].items():
            assert record[name] == value, (resource["id"], name)
    entities = {e["id"]: e for e in run.records("entities")}
    assert set(entities) == {e["id"] for e in listed(sb, "/entities")}
    assert any(e["parent_id"] for e in entities.values())

    month = config["start_date"][:7] + "-01T00:00:00"
    for meter_id, meter in meters.items():
        since = {"filter[]": f"meter_deltas.time>={month}"}
        api = listed(sb, f"/meters/{meter_id}/deltas", **since)
        got = [d for d in run.records("meter_deltas") if d["meter_id"] == meter_id]
        assert sorted((d["time"], d["energy"], d["value"]) for d in got) == sorted(
            (a["attributes"]["time"], a["attributes"]["energy"], a["attributes"]["value"])
            for a in api
        )
        assert all(d["time_zone"] == meter["time_zone"] for d in got)
    got_entity = Counter(d["entity_id"] for d in run.records("entity_deltas"))
    for entity_id in entities:
        since = {"filter[]": f"entity_deltas.time>={month}"}
        api = listed(sb, f"/entities/{entity_id}/deltas", **since)
        assert got_entity.get(entity_id, 0) == len(api)
    assert run.records("virtual_meter_deltas")
    assert all("+" not in d["time"] and "Z" not in d["time"] for d in run.records("entity_deltas"))


DELTA_STREAMS = ("meter_deltas", "entity_deltas", "virtual_meter_deltas")


def test_deltas_carry_month_as_a_date(sandbox: Sandbox, full_run, tmp_path):
    catalog = discover(tmp_path, full_config(sandbox))
    entries = {e["tap_stream_id"]: e for e in catalog["streams"]}
    _, _, run, _ = full_run
    for stream in DELTA_STREAMS:
        assert entries[stream]["schema"]["properties"]["month"] == {
            "type": "string",
            "format": "date",
        }, stream
        assert run.schema(stream)["schema"]["properties"]["month"]["format"] == "date"
        records = run.records(stream)
        assert records, stream
        for record in records:
            assert record["month"] == record["time"][:10], (stream, record)
            assert record["month"].endswith("-01"), (stream, record)


def test_data_points_match_the_sandbox(full_run):
    sb, config, run, _ = full_run
    got = {(d["data_series_id"], d["time"], d["value"]) for d in run.records("data_points")}
    expected = {
        (d["data_series_id"], d["time"], d["value"])
        for d in sb.records("data_points")
        if not d["suspicious"] and d["time"] >= config["start_date"]
    }
    assert got == expected
    assert len(got) == len(run.records("data_points"))


def test_meter_ids_and_include_deactivated(sandbox: Sandbox, tmp_path):
    catalog = select(discover(tmp_path, full_config(sandbox)), {"meters"})
    run_all = run_tap(tmp_path, full_config(sandbox, include_deactivated=True), catalog=catalog)
    assert run_all.returncode == 0, run_all.stderr
    everything = {m["id"]: m for m in run_all.records("meters")}
    assert set(everything) == set(sandbox.creds["meter_ids"])
    assert any(not m["active"] for m in everything.values())
    chosen = sorted(everything)[:2]
    run_some = run_tap(tmp_path, full_config(sandbox, meter_ids=chosen), catalog=catalog)
    assert sorted(m["id"] for m in run_some.records("meters")) == chosen


def test_incremental_rerun_emits_only_new_readings(make_sandbox, tmp_path):
    sb = make_sandbox(seed="demo", page_size=50)
    config = full_config(sb)
    catalog = select(discover(tmp_path, config), {"readings"})
    first = run_tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0, first.stderr
    assert first.records("readings")

    meter = next(r for r in first.records("readings"))
    latest = max(r["time"] for r in first.records("readings") if r["meter_id"] == meter["meter_id"])
    top = max(r["state"] for r in first.records("readings") if r["meter_id"] == meter["meter_id"])
    new_times = [
        (datetime.fromisoformat(latest) + timedelta(minutes=5 * (i + 1))).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        for i in range(3)
    ]
    for i, when in enumerate(new_times):
        import_reading(
            sb, time=when, state=top + i + 1, import_id=meter["import_id"], suit=meter["suit"]
        )

    second = run_tap(tmp_path, config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0, second.stderr
    assert [(r["meter_id"], r["time"]) for r in second.records("readings")] == [
        (meter["meter_id"], t) for t in new_times
    ]
    third = run_tap(tmp_path, config, catalog=catalog, state=second.last_state)
    assert third.records("readings") == []


def test_interrupted_run_resumes_from_its_last_state(make_sandbox, tmp_path):
    sb = make_sandbox(seed="demo", page_size=50)
    config = full_config(sb, start_date=recent_start(12))
    catalog = select(discover(tmp_path, config), {"readings"})
    args = tap_args(tmp_path, config, catalog=catalog)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    states_after_records = 0
    seen_records = 0
    for line in proc.stdout:
        lines.append(line)
        if '"RECORD"' in line:
            seen_records += 1
        elif '"STATE"' in line and seen_records > 1000:
            states_after_records += 1
            if states_after_records == 2:
                break
    proc.kill()
    proc.wait()
    messages = parse_messages("".join(lines))
    last_state_at = max(i for i, m in enumerate(messages) if m["type"] == "STATE")
    state = messages[last_state_at]["value"]
    before = reading_keys([m["record"] for m in messages[:last_state_at] if m["type"] == "RECORD"])
    after = reading_keys([m["record"] for m in messages[last_state_at:] if m["type"] == "RECORD"])
    meters = {m["id"] for m in listed(sb, "/meters")}
    expected = expected_readings(sb, meters, config["start_date"])
    assert 1000 < len(before) < len(expected), "the run was interrupted in the middle"

    resumed = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert resumed.returncode == 0, resumed.stderr
    again = reading_keys(resumed.records("readings"))
    assert not set(before) & set(again), "nothing emitted before the state comes again"
    assert set(before) | set(after) | set(again) == expected
    assert len(again) == len(set(again))


def test_limited_token_fails_naming_stream_and_scope(sandbox: Sandbox, tmp_path):
    config = full_config(sandbox, login_token=sandbox.creds["login_token_limited"])
    catalog = select(discover(tmp_path, config), {"meters", "readings"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode != 0
    assert error_lines(run.stderr) == [
        line for line in run.stderr.splitlines() if "error" in line.lower()
    ]
    (line,) = error_lines(run.stderr)
    assert "stream 'readings'" in line and "'readings' scope" in line
    assert "Traceback" not in run.stderr
    assert sandbox.creds["login_token_limited"] not in run.stderr + run.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"login_token": None}, "invalid config: 'login_token' is a required property"),
        ({"api_url": "http://127.0.0.1:9"}, "cannot reach api_url http://127.0.0.1:9"),
        ({"login_token": "login_wrong_token_123"}, "login_token was refused (HTTP 401"),
        ({"api_url": "not a url at all"}, "api_url 'not a url at all' is not an http(s) URL"),
    ],
)
def test_bad_config_gives_one_line_and_nonzero_exit(sandbox, tmp_path, change, expected):
    config = {k: v for k, v in {**full_config(sandbox), **change}.items() if v is not None}
    run = run_tap(tmp_path, config, timeout=60)
    assert run.returncode != 0
    lines = error_lines(run.stderr)
    assert len(lines) == 1, run.stderr
    assert expected in lines[0]
    assert "Traceback" not in run.stderr
    for secret in (sandbox.creds["login_token"], "login_wrong_token_123"):
        assert secret not in run.stderr + run.stdout
