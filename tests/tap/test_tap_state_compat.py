"""A STATE written before the meter's context carried its import id, suit and time zone
still resumes: one bookmark per meter id, nothing emitted before it, the same shape written."""

from __future__ import annotations

from typing import Any

from tap_runner import discover, run_tap, select
from test_tap_cli import expected_readings, listed, reading_keys, recent_start

from tests.support.sandbox import Sandbox, tap_config

STATE_KEYS = {"context", "replication_key", "replication_key_value"}


def earlier_state(readings: dict[str, str], deltas: dict[str, str]) -> dict[str, Any]:
    """A STATE exactly as the tap wrote it before (partition context: the meter id alone)."""

    def partitions(bookmarks: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {"context": {"meter_id": meter}, "replication_key": "time", "replication_key_value": at}
            for meter, at in bookmarks.items()
        ]

    return {
        "bookmarks": {
            "readings": {"partitions": partitions(readings)},
            "meter_deltas": {"partitions": partitions(deltas)},
        }
    }


def test_state_of_the_earlier_version_resumes_per_meter(sandbox: Sandbox, tmp_path):
    config = tap_config(sandbox, deltas_lookback_months=0)
    meters = {m["id"] for m in listed(sandbox, "/meters")}
    everything = expected_readings(sandbox, meters, config["start_date"])
    # Each meter's bookmark in the middle of its readings (and of its delta months).
    reading_bookmarks = {}
    delta_bookmarks = {}
    for meter in sorted(meters):
        times = sorted(key[1] for key in everything if key[0] == meter)
        months = sorted(
            {d["attributes"]["time"] for d in listed(sandbox, f"/meters/{meter}/deltas")}
        )
        if times:
            reading_bookmarks[meter] = times[len(times) // 2]
        if months:
            delta_bookmarks[meter] = months[len(months) // 2]
    assert len(reading_bookmarks) >= 3 and len(delta_bookmarks) >= 3

    catalog = select(discover(tmp_path, config), {"meters", "readings", "meter_deltas"})
    state = earlier_state(reading_bookmarks, delta_bookmarks)
    run = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr

    got = reading_keys(run.records("readings"))
    expected = {key for key in everything if key[1] > reading_bookmarks.get(key[0], "")}
    assert len(got) == len(set(got))
    assert set(got) == expected, "everything after each meter's bookmark, nothing before"
    deltas = run.records("meter_deltas")
    assert deltas
    for record in deltas:
        assert record["time"] >= delta_bookmarks.get(record["meter_id"], ""), record

    # Every STATE keeps the earlier shape: one partition per meter, keyed by its id alone.
    for value in run.states:
        for stream in ("readings", "meter_deltas"):
            for partition in value["bookmarks"].get(stream, {}).get("partitions", []):
                assert list(partition["context"]) == ["meter_id"], partition
    final = run.last_state["bookmarks"]
    readings = final["readings"]["partitions"]
    assert sorted(p["context"]["meter_id"] for p in readings) == sorted(meters)
    for partition in readings:
        assert set(partition) <= STATE_KEYS, partition
        meter = partition["context"]["meter_id"]
        newest = max((t for m, t, *_ in everything if m == meter), default=None)
        assert partition.get("replication_key_value") == newest
    for partition in final["meter_deltas"]["partitions"]:
        assert set(partition) <= STATE_KEYS, partition


def test_every_state_is_resumable_in_the_middle_of_a_meter(sandbox: Sandbox, tmp_path):
    meters = sorted(m["id"] for m in listed(sandbox, "/meters"))
    config = tap_config(sandbox, meter_ids=meters[:2], start_date=recent_start(30))
    catalog = select(discover(tmp_path, config), {"meters", "readings"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr

    newest: dict[str, str] = {}  # each meter's last reading emitted so far
    states_inside_a_meter = 0
    for message in run.messages:
        if message["type"] == "RECORD" and message["stream"] == "readings":
            newest[message["record"]["meter_id"]] = message["record"]["time"]
        elif message["type"] == "STATE":
            partitions = message["value"]["bookmarks"].get("readings", {}).get("partitions", [])
            for partition in partitions:
                assert "progress_markers" not in partition, partition
                meter = partition["context"]["meter_id"]
                assert partition.get("replication_key_value") == newest.get(meter), partition
                states_inside_a_meter += "starting_replication_value" in partition
    assert states_inside_a_meter > 0, "some STATE came while a meter was being read"
