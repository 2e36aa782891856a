"""The real target CLI against a sandbox process: what lands, in what order, and how it fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from target_cli_helpers import (
    reading,
    record,
    run_target,
    schema,
    start_target,
    state,
    to_lines,
)

from tests.support.sandbox import Sandbox, target_config


def stored(sb: Sandbox, kind: str, import_id: str) -> list[dict[str, Any]]:
    return [r for r in sb.records(kind) if r.get("import_id") == import_id]


def one_line_error(run: Any) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert len(run.errors) == 1, run.stderr
    return run.errors[0]


# ---------- every kind lands as sent ----------


def test_every_kind_and_delete_lands_exactly_as_sent(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    sb = empty_sandbox
    r_id, d_id, p_id = f"{ids}-r", f"{ids}-d", f"{ids}-p"
    messages = [
        schema("readings"),
        schema("data_points"),
        schema("profiles"),
        record("readings", reading(r_id, 0, 10.5, unit="kWh")),
        record("readings", reading(r_id, 15, 11.25, unit="kWh", suit="s2")),
        record("readings", reading(r_id, 30, 12.0, unit="kWh")),
        record(
            "data_points", {"time": "2024-01-01T00:00:00+01:00", "value": 3.5, "import_id": d_id}
        ),
        record("data_points", {"time": "2024-01-01T01:00:00Z", "value": -1, "import_id": d_id}),
        record(
            "profiles",
            {
                "from": "2024-01-01T00:00:00Z",
                "to": "2024-01-01T00:15:00Z",
                "value": 1.5,
                "import_id": p_id,
            },
        ),
        record(
            "profiles",
            {
                "from": "2024-01-01T00:15:00Z",
                "to": "2024-01-01T00:30:00Z",
                "value": 2.5,
                "import_id": p_id,
            },
        ),
        # deletes: one reading by time, one data point by time, one profile by range
        record("readings", {**reading(r_id, 30, 12.0), "_sdc_deleted_at": "2024-02-01T00:00:00Z"}),
        record(
            "data_points",
            {
                "time": "2024-01-01T01:00:00Z",
                "import_id": d_id,
                "_sdc_deleted_at": "2024-02-01T00:00:00Z",
            },
        ),
        record(
            "profiles",
            {
                "from": "2024-01-01T00:15:00Z",
                "to": "2024-01-01T00:30:00Z",
                "import_id": p_id,
                "_sdc_deleted_at": "2024-02-01T00:00:00Z",
            },
        ),
        # deleting what is not there counts as already deleted
        record("readings", {**reading(r_id, 45, 1.0), "_sdc_deleted_at": "2024-02-01T00:00:00Z"}),
        state({"bookmarks": {"done": True}}),
    ]
    run = run_target(tmp_path, target_config(sb, sender="test-sender"), messages)
    assert run.returncode == 0, run.stderr
    assert run.states == [{"bookmarks": {"done": True}}]

    readings = {(r["suit"], r["time"]): r for r in stored(sb, "readings", r_id)}
    assert set(readings) == {("default", "2024-01-01T00:00:00Z"), ("s2", "2024-01-01T00:15:00Z")}
    assert readings["default", "2024-01-01T00:00:00Z"]["state"] == 10.5
    assert readings["s2", "2024-01-01T00:15:00Z"]["state"] == 11.25
    assert {r["unit"] for r in readings.values()} == {"kWh"}
    assert {r["sender"] for r in readings.values()} == {"test-sender"}
    points = stored(sb, "data_points", d_id)
    assert [(p["time"], p["value"]) for p in points] == [("2023-12-31T23:00:00Z", 3.5)]
    profiles = stored(sb, "profiles", p_id)
    assert [(p["from"], p["to"], p["value"]) for p in profiles] == [
        ("2024-01-01T00:00:00Z", "2024-01-01T00:15:00Z", 1.5)
    ]
    counts = run.summary("readings")
    assert (counts["created"], counts["deleted"], counts["already_deleted"]) == (3, 1, 1)
    assert run.summary("profiles")["deleted"] == 1


def test_invoices_with_access_token_and_stream_kinds_routing(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    sb = empty_sandbox
    # a meter comes into being with its first reading
    config = target_config(sb, stream_kinds={"bms_export": "readings", "bills": "invoices"})
    run = run_target(
        tmp_path, config, [schema("bms_export"), record("bms_export", reading(ids, 0, 1.0))]
    )
    assert run.returncode == 0, run.stderr
    meter_id = stored(sb, "readings", ids)[0]["meter_id"]
    invoices = [
        {
            "meter_id": meter_id,
            "from": "2023-01-01",
            "to": "2023-01-31",
            "cost": 120.5,
            "note": "jan",
        },
        {"meter_id": meter_id, "from": "2023-02-01", "to": "2023-02-28", "consumption": 900},
    ]
    run = run_target(tmp_path, config, [schema("bills"), *(record("bills", i) for i in invoices)])
    assert run.returncode == 0, run.stderr
    assert run.summary("bills")["created"] == 2
    landed = [i for i in sb.records("invoices") if str(i.get("meter_id")) == meter_id]
    assert sorted((i["from"], i["to"], i.get("cost"), i.get("consumption")) for i in landed) == [
        ("2023-01-01", "2023-01-31", 120.5, None),
        ("2023-02-01", "2023-02-28", None, 900),
    ]


# ---------- order, duplicates, skip ----------


def test_records_of_a_series_land_in_input_order(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    messages: list[Any] = [schema("readings")]
    for round_ in range(5):  # corrections of the same times, interleaved across series
        for series in range(8):
            for minute in range(5):
                messages.append(
                    record("readings", reading(f"{ids}-{series}", minute, 100 * round_ + minute))
                )
    run = run_target(tmp_path, target_config(empty_sandbox), messages)
    assert run.returncode == 0, run.stderr
    for series in range(8):
        landed = stored(empty_sandbox, "readings", f"{ids}-{series}")
        assert [r["state"] for r in landed] == [400 + minute for minute in range(5)]


def test_rerun_is_all_already_present_and_doubles_nothing(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    messages = [schema("readings")] + [
        record("readings", reading(f"{ids}-{n % 3}", n, float(n))) for n in range(60)
    ]
    first = run_target(tmp_path, target_config(empty_sandbox), messages)
    assert first.returncode == 0, first.stderr
    assert first.summary("readings")["created"] == 60
    again = run_target(tmp_path, target_config(empty_sandbox), messages)
    assert again.returncode == 0, again.stderr
    counts = again.summary("readings")
    assert (counts["created"], counts["already_present"]) == (0, 60)
    total = sum(len(stored(empty_sandbox, "readings", f"{ids}-{n}")) for n in range(3))
    assert total == 60


def test_skip_already_imported_skips_creates_before_the_latest(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    config = target_config(empty_sandbox)
    first = [schema("readings")] + [
        record("readings", reading(ids, n, float(n))) for n in range(10)
    ]
    assert run_target(tmp_path, config, first).returncode == 0
    replay = [schema("readings")] + [
        record("readings", reading(ids, n, float(n))) for n in range(15)
    ]
    run = run_target(tmp_path, {**config, "skip_already_imported": True}, replay)
    assert run.returncode == 0, run.stderr
    counts = run.summary("readings")
    # minutes 0..8 are before the latest (9): skipped; 9 is a duplicate; 10..14 are new
    assert (counts["skipped"], counts["already_present"], counts["created"]) == (9, 1, 5)
    assert len(stored(empty_sandbox, "readings", ids)) == 15


# ---------- invalid records ----------


def test_rejects_file_holds_each_refused_record_with_its_reason(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    rejects = tmp_path / "rejects.jsonl"
    config = target_config(empty_sandbox, on_invalid="reject", rejects_path=str(rejects))
    naive = reading(ids, 1, 1.0) | {"time": "2024-01-01T00:01:00"}
    future = reading(ids, 2, 2.0) | {"time": "2999-01-01T00:00:00Z"}
    overlapping = {
        "from": "2024-01-01T00:05:00Z",
        "to": "2024-01-01T00:20:00Z",
        "value": 1,
        "import_id": ids,
    }
    messages = [
        schema("readings"),
        schema("profiles"),
        schema("invoices"),
        record("readings", reading(ids, 0, 0.5)),
        record("readings", naive),
        record("readings", future),
        record(
            "profiles",
            {
                "from": "2024-01-01T00:00:00Z",
                "to": "2024-01-01T00:15:00Z",
                "value": 1,
                "import_id": ids,
            },
        ),
        record("profiles", overlapping),
        record(
            "invoices",
            {"meter_id": "999999999", "from": "2023-01-01", "to": "2023-01-31", "cost": 1},
        ),
        record(
            "invoices",
            {
                "meter_id": "1",
                "from": "2023-01-01",
                "to": "2023-01-31",
                "cost": 1,
                "_sdc_deleted_at": "2024-01-01T00:00:00Z",
            },
        ),
        state({"n": 1}),
    ]
    run = run_target(tmp_path, config, messages)
    assert run.returncode == 0, run.stderr
    assert run.states == [{"n": 1}]
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    by_reason = {(line["stream"], line["reason"]): line for line in lines}
    assert len(lines) == 5
    reasons = " | ".join(reason for _, reason in by_reason)
    assert "time must carry a UTC offset" in reasons
    assert "time must be in the past" in reasons
    assert "invoices cannot be deleted" in reasons
    overlap = next(line for line in lines if line["stream"] == "profiles")
    assert overlap["record"] == overlapping
    assert overlap["status"] == 409
    assert next(line for line in lines if line.get("status") == 404)["stream"] == "invoices"
    assert run.summary("readings")["rejected"] == 2
    assert run.summary("invoices")["rejected"] == 2


def test_on_invalid_fail_stops_with_one_line_naming_stream_key_and_rule(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    messages = [
        schema("readings"),
        record("readings", reading(ids, 0, 1.0)),
        record("readings", reading(ids, 1, 1.0) | {"import_id": "has space"}),
    ]
    line = one_line_error(run_target(tmp_path, target_config(empty_sandbox), messages))
    assert "line 3" in line
    assert "stream readings" in line
    assert "import_id=has space" in line
    assert "white space" in line


def test_missing_key_property_fails_clearly(tmp_path: Path, empty_sandbox: Sandbox) -> None:
    messages = [schema("readings", ["import_id", "time"]), record("readings", {"state": 1})]
    line = one_line_error(run_target(tmp_path, target_config(empty_sandbox), messages))
    assert "key_properties" in line


# ---------- dry run ----------


def test_dry_run_validates_sends_nothing_and_emits_no_state(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    before = empty_sandbox.stats()["requests"]
    messages = [schema("readings")] + [
        record("readings", reading(ids, n, float(n))) for n in range(20)
    ]
    messages.append(state({"n": 20}))
    run = run_target(tmp_path, target_config(empty_sandbox, dry_run=True), messages)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert run.summary("readings")["validated"] == 20
    assert empty_sandbox.stats()["requests"] == before
    bad = run_target(
        tmp_path,
        target_config(empty_sandbox, dry_run=True),
        [schema("readings"), record("readings", {"state": 1, "import_id": ids})],
    )
    assert "time is required" in one_line_error(bad)


# ---------- STATE ----------


def test_state_is_emitted_during_the_run_and_only_after_its_records(
    tmp_path: Path, make_sandbox: Any, ids: str
) -> None:
    sb = make_sandbox(seed="empty", latency_ms=50)
    proc = start_target(tmp_path, target_config(sb))
    assert proc.stdin and proc.stdout
    try:
        proc.stdin.write(to_lines([schema("readings")]))
        for batch in range(3):
            lines = [
                record("readings", reading(ids, batch * 5 + n, float(batch * 5 + n)))
                for n in range(5)
            ]
            lines.append(state({"upto": batch * 5 + 5}))
            proc.stdin.write(to_lines(lines))
            proc.stdin.flush()
            # the STATE comes back while stdin is still open ...
            emitted = json.loads(proc.stdout.readline())
            assert emitted == {"upto": batch * 5 + 5}
            # ... and only once every record before it is stored
            assert len(stored(sb, "readings", ids)) >= emitted["upto"]
        proc.stdin.close()
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------- malformed input and bad config ----------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([schema("readings"), "{not json"], "line 2"),
        ([record("readings", {"x": 1})], "line 1"),
        ([schema("readings"), '{"stream": "readings"}'], "no 'type'"),
        ([schema("weird_stream")], "stream weird_stream maps to no record kind"),
    ],
)
def test_malformed_singer_input_gives_one_clear_line(
    tmp_path: Path, empty_sandbox: Sandbox, lines: list[Any], expected: str
) -> None:
    assert expected in one_line_error(run_target(tmp_path, target_config(empty_sandbox), lines))


def test_unknown_message_types_and_skipped_streams_only_warn(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    messages = [
        {"type": "FANCY", "x": 1},
        schema("other"),
        record("other", {"a": 1}),
        schema("readings"),
        record("readings", reading(ids, 0, 1.0)),
    ]
    run = run_target(tmp_path, target_config(empty_sandbox, unknown_streams="skip"), messages)
    assert run.returncode == 0, run.stderr
    assert "unknown message type 'FANCY'" in run.stderr
    assert "stream other maps to no record kind" in run.stderr
    assert len(stored(empty_sandbox, "readings", ids)) == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"customer_id": None}, "customer_id"),
        ({"on_invalid": "reject"}, "rejects_path"),
        ({"input_time_zone": "Mars/Base"}, "Mars/Base"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"import_token": 12345}, "import_token"),
    ],
)
def test_bad_config_gives_one_clear_line(
    tmp_path: Path, empty_sandbox: Sandbox, overrides: dict[str, Any], expected: str
) -> None:
    config = {
        k: v for k, v in {**target_config(empty_sandbox), **overrides}.items() if v is not None
    }
    line = one_line_error(run_target(tmp_path, config, [schema("readings")]))
    assert "bad config" in line
    assert expected in line


# ---------- credentials ----------


def test_refused_credentials_stop_the_run_without_printing_secrets(
    tmp_path: Path, empty_sandbox: Sandbox, ids: str
) -> None:
    sb = empty_sandbox
    messages = [schema("readings"), record("readings", reading(ids, 0, 1.0))]
    bad_token = "imp_this-token-is-wrong-and-secret"
    debug = {"TARGET_ENECTIVA_LOGLEVEL": "DEBUG"}
    run = run_target(tmp_path, target_config(sb, import_token=bad_token), messages, env=debug)
    assert "401" in one_line_error(run)
    assert bad_token not in run.stderr + run.stdout
    other = run_target(
        tmp_path, target_config(sb, import_token=sb.creds["other_import_token"]), messages
    )
    assert "403" in one_line_error(other)
    unknown = run_target(
        tmp_path, target_config(sb, customer_id="00000000-0000-4000-8000-00000000abcd"), messages
    )
    assert "404" in one_line_error(unknown)
    ok = run_target(tmp_path, target_config(sb), messages, env=debug)
    assert ok.returncode == 0, ok.stderr
    for secret in (sb.creds["import_token"], sb.creds["login_token"]):
        assert secret not in ok.stderr + ok.stdout
