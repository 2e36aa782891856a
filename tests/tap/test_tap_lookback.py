"""``lookback_days``: late and corrected readings come again; the bookmark never moves back.

The real ``tap-enectiva`` CLI against sandbox processes (contract section 7).
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from late_data import import_late_and_corrected, instant
from tap_runner import TapRun, discover, parse_messages, run_tap, select, tap_args

from tests.support.sandbox import Sandbox, tap_config

LOOKBACK_DAYS = 2
SERIES_STREAMS = {"readings": "meter_id", "data_points": "data_series_id"}


def day_start(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT00:00:00Z")


def config_for(sb: Sandbox, **overrides: Any) -> dict[str, Any]:
    return tap_config(
        sb, start_date=day_start(5), data_series_ids=sb.creds["data_series_ids"], **overrides
    )


def bookmarks(state: dict[str, Any], stream: str) -> dict[str, str]:
    """Partition id -> bookmark of one stream in a STATE value."""
    key = SERIES_STREAMS[stream]
    partitions = state.get("bookmarks", {}).get(stream, {}).get("partitions", [])
    return {
        p["context"][key]: p["replication_key_value"]
        for p in partitions
        if p.get("replication_key_value")
    }


def keys(records: list[dict[str, Any]], stream: str) -> list[tuple[str, str]]:
    return [(r[SERIES_STREAMS[stream]], r["time"]) for r in records]


def window(sb: Sandbox, stream: str, marks: dict[str, str], days: float) -> set[tuple[str, str]]:
    """Keys of the valid stored records after each partition's bookmark less ``days``."""
    owner = SERIES_STREAMS[stream]
    return {
        (r[owner], r["time"])
        for r in sb.records(stream)
        if r[owner] in marks
        and not r["suspicious"]
        and instant(r["time"]) > instant(marks[r[owner]]) - timedelta(days=days)
    }


def ok(run: TapRun) -> TapRun:
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def test_late_and_corrected_readings_come_again_only_with_a_lookback(
    make_sandbox: Any, tmp_path: Path
) -> None:
    sb = make_sandbox(seed="demo", page_size=50)
    plain = config_for(sb)
    looking = config_for(sb, lookback_days=LOOKBACK_DAYS)
    catalog = select(discover(tmp_path, plain), set(SERIES_STREAMS))
    first = ok(run_tap(tmp_path, plain, catalog=catalog))
    state = first.last_state

    # Same state, no new data: only the window comes again, and the bookmarks stay.
    again = ok(run_tap(tmp_path, looking, catalog=catalog, state=state))
    for stream in SERIES_STREAMS:
        marks = bookmarks(state, stream)
        assert marks, stream
        got = keys(again.records(stream), stream)
        assert len(got) == len(set(got)), f"{stream}: a key emitted twice"
        assert set(got) == window(sb, stream, marks, LOOKBACK_DAYS), stream
        assert len(got) < len(first.records(stream)), f"{stream}: more than the window"
        assert bookmarks(again.last_state, stream) == marks, f"{stream}: bookmark moved"
    assert ok(run_tap(tmp_path, plain, catalog=catalog, state=state)).records("readings") == []

    # A late reading (an older time, between two stored ones) and a correction (same
    # import_id, suit and time, another state) behind a meter's bookmark.
    late = import_late_and_corrected(sb, first.records("readings"))

    without = ok(run_tap(tmp_path, plain, catalog=catalog, state=state))
    assert without.records("readings") == [], "without a look-back they stay behind the bookmark"

    second = ok(run_tap(tmp_path, looking, catalog=catalog, state=state))
    got = {(r["meter_id"], r["time"]): r for r in second.records("readings")}
    assert len(got) == len(second.records("readings")), "one record per primary key"
    assert got[(late.meter_id, late.late_time)]["state"] == late.late_state
    assert got[(late.meter_id, late.corrected_time)]["state"] == late.corrected_state
    assert set(got) == window(sb, "readings", bookmarks(state, "readings"), LOOKBACK_DAYS)
    assert bookmarks(second.last_state, "readings") == bookmarks(state, "readings")


def test_lookback_applies_to_bookmarks_not_to_start_date(make_sandbox: Any, tmp_path: Path):
    sb = make_sandbox(seed="demo", page_size=50)
    config = config_for(sb, lookback_days=LOOKBACK_DAYS)
    catalog = select(discover(tmp_path, config), {"readings"})
    run = ok(run_tap(tmp_path, config, catalog=catalog))
    times = [r["time"] for r in run.records("readings")]
    assert min(times) == config["start_date"], "a first run starts at start_date, no earlier"


def test_killed_lookback_run_resumes_without_losing_or_moving_bookmarks_back(
    make_sandbox: Any, tmp_path: Path
) -> None:
    sb = make_sandbox(seed="demo", page_size=50)
    start = day_start(30)
    # A first run up to 15 days ago, then a run whose look-back window alone holds > 1000
    # readings of the 15-minute meter: the tap writes a STATE every 1000 records, so one
    # comes from inside the window (the bookmark must stay) and one after it (it advances).
    lookback_days = 11
    first_config = tap_config(sb, start_date=start, end_date=day_start(15))
    config = tap_config(sb, start_date=start, lookback_days=lookback_days)
    catalog = select(discover(tmp_path, config), {"readings"})
    state = ok(run_tap(tmp_path, first_config, catalog=catalog)).last_state
    before = bookmarks(state, "readings")

    proc = subprocess.Popen(
        tap_args(tmp_path, config, state=state, catalog=catalog),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    seen = 0
    for line in proc.stdout:
        lines.append(line)
        if '"RECORD"' in line:
            seen += 1
        elif '"STATE"' in line and seen >= 2000:
            break
    proc.kill()  # SIGKILL
    proc.wait()
    assert proc.returncode == -9, "the tap ended before the kill"
    messages = parse_messages("".join(lines))
    killed = keys([m["record"] for m in messages if m["type"] == "RECORD"], "readings")
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    marks = [bookmarks(s, "readings") for s in [state, *states]]
    assert len(states) >= 2, "a STATE inside the window and one after it"
    for earlier, later in pairwise(marks):
        assert all(later[m] >= mark for m, mark in earlier.items()), "a bookmark moved back"
    resume_from = marks[-1]
    assert any(resume_from[m] > before[m] for m in before), "the kill came after some progress"

    resumed = ok(run_tap(tmp_path, config, catalog=catalog, state=states[-1]))
    again = keys(resumed.records("readings"), "readings")
    assert len(again) == len(set(again)), "no key twice in one run"
    lookback = timedelta(days=lookback_days)
    early = [
        (m, t)
        for m, t in again
        if m in resume_from and instant(t) <= instant(resume_from[m]) - lookback
    ]
    assert not early, f"read before the resumed bookmark's window: {early[:3]}"
    truth = window(sb, "readings", before, lookback_days)
    assert truth - set(killed) - set(again) == set(), "a reading was lost"
    latest = {m: max(t for k, t in truth if k == m) for m in before}
    final = bookmarks(resumed.last_state, "readings")
    assert {m: final[m] for m in before} == latest


@pytest.mark.parametrize("value", [-1, "two"])
def test_a_bad_lookback_is_refused_in_one_line(sandbox: Sandbox, tmp_path: Path, value: Any):
    run = run_tap(tmp_path, config_for(sandbox, lookback_days=value), timeout=60)
    assert run.returncode != 0
    (line,) = [x for x in run.stderr.splitlines() if x.startswith("tap-enectiva: error:")]
    assert "invalid config" in line and "lookback_days" in line, line
    assert "Traceback" not in run.stderr
