"""Local times at DST changes through the real CLI against a sandbox (contract section 5).

``input_time_zone`` reads times without offset; a time in the spring gap is an invalid record,
a repeated one follows ``ambiguous_local_times`` (``infer``: by the previous record of its
series in input order, deletes included, invalid records left out).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from target_cli_helpers import Run, record, run_target, schema, state

from tests.support.sandbox import Sandbox, target_config

PRAGUE = "Europe/Prague"
#: Clocks went back from 03:00 to 02:00 in Prague that night: 02:xx happened twice.
FALL_BACK = "2024-10-27"
DELETED = {"_sdc_deleted_at": "2024-11-01T00:00:00Z"}


def local_reading(import_id: str, wall: str, state_value: float, **extra: Any) -> dict[str, Any]:
    """A reading at ``wall`` (``HH:MM`` on the fall-back day), written without offset."""
    return {"time": f"{FALL_BACK}T{wall}:00", "state": state_value, "import_id": import_id, **extra}


def landed(sb: Sandbox, import_id: str) -> list[tuple[str, float]]:
    """(UTC time, state) of the stored readings of a series, in time order."""
    found = [r for r in sb.records("readings") if r.get("import_id") == import_id]
    return sorted((r["time"], r["state"]) for r in found)


def run_readings(
    tmp_path: Path, sb: Sandbox, records: list[dict[str, Any]], **settings: Any
) -> Run:
    config = target_config(sb, input_time_zone=PRAGUE, **settings)
    messages: list[dict[str, Any] | str] = [schema("readings")]
    messages += [record("readings", r) for r in records]
    messages.append(state({"done": True}))
    return run_target(tmp_path, config, messages)


def rejected(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def hourly_export(import_id: str, states: tuple[float, ...] = (1, 2, 3, 4, 5)) -> list[dict]:
    """An hourly naive export across the fall-back: 00:00, 01:00, 02:00, 02:00, 03:00."""
    walls = ("00:00", "01:00", "02:00", "02:00", "03:00")
    return [local_reading(import_id, wall, s) for wall, s in zip(walls, states, strict=True)]


# ---------- repeated hour ----------


def test_infer_lands_an_hourly_export_on_five_distinct_instants_and_counts_them(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    run = run_readings(tmp_path, empty_sandbox, hourly_export(ids))
    assert run.returncode == 0, run.stderr
    assert landed(empty_sandbox, ids) == [
        ("2024-10-26T22:00:00Z", 1),
        ("2024-10-26T23:00:00Z", 2),
        ("2024-10-27T00:00:00Z", 3),  # 02:00 CEST
        ("2024-10-27T01:00:00Z", 4),  # 02:00 CET
        ("2024-10-27T02:00:00Z", 5),
    ]
    counts = run.summary("readings")
    assert counts["created"] == 5
    assert counts["inferred"] == 2  # both 02:00 were placed by infer


def test_earliest_puts_both_repeated_hours_on_one_instant_the_second_corrects_it(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    run = run_readings(
        tmp_path, empty_sandbox, hourly_export(ids), ambiguous_local_times="earliest"
    )
    assert run.returncode == 0, run.stderr
    assert landed(empty_sandbox, ids) == [
        ("2024-10-26T22:00:00Z", 1),
        ("2024-10-26T23:00:00Z", 2),
        ("2024-10-27T00:00:00Z", 4),  # the first occurrence, corrected by the second record
        ("2024-10-27T02:00:00Z", 5),
    ]
    counts = run.summary("readings")
    # a correction (same time, another state) answers 201, replacing the value (contract 4)
    assert (counts["created"], counts["already_present"]) == (5, 0)
    assert "inferred" not in counts  # shown only when not zero


def test_latest_puts_both_repeated_hours_on_the_second_an_identical_one_is_a_duplicate(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    export = hourly_export(ids, states=(1, 2, 3, 3, 5))
    run = run_readings(tmp_path, empty_sandbox, export, ambiguous_local_times="latest")
    assert run.returncode == 0, run.stderr
    assert landed(empty_sandbox, ids) == [
        ("2024-10-26T22:00:00Z", 1),
        ("2024-10-26T23:00:00Z", 2),
        ("2024-10-27T01:00:00Z", 3),  # the second occurrence, twice (409 duplicate)
        ("2024-10-27T02:00:00Z", 5),
    ]
    counts = run.summary("readings")
    assert (counts["created"], counts["already_present"]) == (4, 1)


def test_refuse_rejects_the_repeated_hour_with_its_reason(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    rejects = tmp_path / "rejects.jsonl"
    run = run_readings(
        tmp_path,
        empty_sandbox,
        hourly_export(ids),
        ambiguous_local_times="refuse",
        on_invalid="reject",
        rejects_path=str(rejects),
    )
    assert run.returncode == 0, run.stderr
    assert [t for t, _ in landed(empty_sandbox, ids)] == [
        "2024-10-26T22:00:00Z",
        "2024-10-26T23:00:00Z",
        "2024-10-27T02:00:00Z",
    ]
    lines = rejected(rejects)
    assert [line["record"]["state"] for line in lines] == [3, 4]
    assert {line["reason"] for line in lines} == {
        "time 2024-10-27T02:00:00 occurs twice in Europe/Prague (clocks went back from 03:00 "
        "to 02:00); set ambiguous_local_times to infer, earliest or latest"
    }
    assert run.summary("readings")["rejected"] == 2


def test_infer_follows_offset_times_and_leaves_invalid_records_out(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    a, b = f"{ids}-a", f"{ids}-b"
    rejects = tmp_path / "rejects.jsonl"
    records = [
        # a: an invalid 02:00 is not "the previous record": the next 02:00 is the first one
        local_reading(a, "01:00", 1),
        local_reading(a, "02:00", "not a number"),
        local_reading(a, "02:00", 2),
        # b: a time with an offset is an instant, and the previous record of its series
        local_reading(b, "01:00", 1),
        {"time": "2024-10-27T02:00:00+02:00", "state": 2, "import_id": b},
        local_reading(b, "02:00", 3),
    ]
    run = run_readings(
        tmp_path, empty_sandbox, records, on_invalid="reject", rejects_path=str(rejects)
    )
    assert run.returncode == 0, run.stderr
    assert landed(empty_sandbox, a) == [("2024-10-26T23:00:00Z", 1), ("2024-10-27T00:00:00Z", 2)]
    assert landed(empty_sandbox, b) == [
        ("2024-10-26T23:00:00Z", 1),
        ("2024-10-27T00:00:00Z", 2),
        ("2024-10-27T01:00:00Z", 3),
    ]
    assert [line["record"]["state"] for line in rejected(rejects)] == ["not a number"]


def test_deletes_in_the_repeated_hour_follow_infer_within_their_series(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    assert run_readings(tmp_path, empty_sandbox, hourly_export(ids)).returncode == 0
    # deletes only: each one is the previous record of the next
    deletes = [
        local_reading(ids, wall, 0, **DELETED)
        for wall in ("01:00", "02:00", "02:00")  # 23:00Z, then 00:00Z, then 01:00Z
    ]
    run = run_readings(tmp_path, empty_sandbox, deletes)
    assert run.returncode == 0, run.stderr
    assert landed(empty_sandbox, ids) == [("2024-10-26T22:00:00Z", 1), ("2024-10-27T02:00:00Z", 5)]
    counts = run.summary("readings")
    assert (counts["deleted"], counts.get("already_deleted"), counts["inferred"]) == (3, 0, 2)


def test_profiles_across_the_repeated_hour_read_to_after_from(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    walls = [("01:00", "02:00"), ("02:00", "02:00"), ("02:00", "03:00")]
    messages: list[dict[str, Any] | str] = [schema("profiles")]
    messages += [
        record(
            "profiles",
            {
                "from": f"{FALL_BACK}T{a}:00",
                "to": f"{FALL_BACK}T{b}:00",
                "value": n,
                "import_id": ids,
            },
        )
        for n, (a, b) in enumerate(walls)
    ]
    config = target_config(empty_sandbox, input_time_zone=PRAGUE)
    run = run_target(tmp_path, config, messages)
    assert run.returncode == 0, run.stderr
    stored = [p for p in empty_sandbox.records("profiles") if p.get("import_id") == ids]
    assert sorted((p["from"], p["to"], p["value"]) for p in stored) == [
        ("2024-10-26T23:00:00Z", "2024-10-27T00:00:00Z", 0),
        ("2024-10-27T00:00:00Z", "2024-10-27T01:00:00Z", 1),
        ("2024-10-27T01:00:00Z", "2024-10-27T02:00:00Z", 2),
    ]


# ---------- spring gap ----------

GAP_REASON = (
    "time 2024-03-31T02:30:00 does not exist in Europe/Prague (clocks went from 02:00 to 03:00)"
)


def spring_export(import_id: str) -> list[dict[str, Any]]:
    return [
        {"time": f"2024-03-31T{wall}:00", "state": n, "import_id": import_id}
        for n, wall in enumerate(("01:30", "02:30", "03:30"))
    ]


def test_a_time_in_the_spring_gap_is_rejected_with_its_reason(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    rejects = tmp_path / "rejects.jsonl"
    run = run_readings(
        tmp_path, empty_sandbox, spring_export(ids), on_invalid="reject", rejects_path=str(rejects)
    )
    assert run.returncode == 0, run.stderr
    assert landed(empty_sandbox, ids) == [("2024-03-31T00:30:00Z", 0), ("2024-03-31T01:30:00Z", 2)]
    [line] = rejected(rejects)
    assert (line["stream"], line["reason"]) == ("readings", GAP_REASON)
    assert line["key"] == f"import_id={ids} time=2024-03-31T02:30:00"


def test_a_time_in_the_spring_gap_stops_the_run_in_one_line(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    run = run_readings(tmp_path, empty_sandbox, spring_export(ids))
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert len(run.errors) == 1, run.stderr
    line = run.errors[0]
    assert "line 3" in line  # SCHEMA, 01:30, then 02:30
    assert "stream readings" in line
    assert f"import_id={ids}" in line
    assert GAP_REASON in line
    assert run.states == []


@pytest.mark.parametrize(
    ("records", "landed_at", "reason"),
    [
        # Lord Howe Island moves its clocks by 30 minutes, at 02:00 in October ...
        (
            ["2024-10-06T01:45:00", "2024-10-06T02:15:00", "2024-10-06T02:45:00"],
            ["2024-10-05T15:15:00Z", "2024-10-05T15:45:00Z"],
            "time 2024-10-06T02:15:00 does not exist in Australia/Lord_Howe "
            "(clocks went from 02:00 to 02:30)",
        ),
        # ... and back from 02:00 to 01:30 in April: 01:30-02:00 happens twice
        (
            [f"2024-04-07T{w}:00" for w in ("01:15", "01:30", "01:45", "01:30", "01:45", "02:00")],
            [
                "2024-04-06T14:15:00Z",
                "2024-04-06T14:30:00Z",
                "2024-04-06T14:45:00Z",
                "2024-04-06T15:00:00Z",
                "2024-04-06T15:15:00Z",
                "2024-04-06T15:30:00Z",
            ],
            None,
        ),
    ],
)
def test_a_thirty_minute_zone_gap_and_fold(
    tmp_path: Path,
    empty_sandbox: Sandbox,
    ids: str,
    records: list[str],
    landed_at: list[str],
    reason: str | None,
) -> None:
    rejects = tmp_path / "rejects.jsonl"
    config = target_config(
        empty_sandbox,
        input_time_zone="Australia/Lord_Howe",
        on_invalid="reject",
        rejects_path=str(rejects),
    )
    messages: list[dict[str, Any] | str] = [schema("readings")]
    messages += [
        record("readings", {"time": time, "state": n, "import_id": ids})
        for n, time in enumerate(records)
    ]
    run = run_target(tmp_path, config, messages)
    assert run.returncode == 0, run.stderr
    assert [t for t, _ in landed(empty_sandbox, ids)] == landed_at
    reasons = [line["reason"] for line in rejected(rejects)] if rejects.exists() else []
    assert reasons == ([reason] if reason else [])
