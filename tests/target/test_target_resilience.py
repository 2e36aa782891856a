"""Slow suites of the real target CLI: injected faults, kill -9 and resume, tap round trip."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from target_cli_helpers import (
    TARGET_CLI,
    reading,
    record,
    run_target,
    schema,
    state,
    to_lines,
    write_config,
)

from enectiva.times import format_timestamp, utcnow
from tests.support.sandbox import Sandbox, tap_config, target_config

pytestmark = pytest.mark.slow


def landed(sb: Sandbox, prefix: str) -> dict[tuple[str, str], float]:
    """(import_id, time) -> state of the readings whose import id starts with ``prefix``."""
    out: dict[tuple[str, str], float] = {}
    for r in sb.records("readings"):
        if r["import_id"].startswith(prefix):
            key = (r["import_id"], r["time"])
            assert key not in out, f"stored twice: {key}"
            out[key] = r["state"]
    return out


def expected(messages: list[Any]) -> dict[tuple[str, str], float]:
    return {
        (m["record"]["import_id"], m["record"]["time"]): m["record"]["state"]
        for m in messages
        if isinstance(m, dict) and m.get("type") == "RECORD"
    }


def test_429_5xx_and_dropped_connections_lose_nothing(
    tmp_path: Path, make_sandbox: Any, ids: str
) -> None:
    # without budget headers (with them the target paces itself and provokes no 429)
    sb = make_sandbox(
        seed="empty",
        fail_rate=0.1,
        drop_rate=0.05,
        rate_limit=20,
        token_lifetime=4,
        budget_headers=False,
    )
    messages: list[Any] = [schema("readings"), schema("profiles")]
    # a first burst of 32 requests (unpaced until a 429) beats the bucket of 20: 429s are certain
    for n in range(300):
        messages.append(record("readings", reading(f"{ids}-{n % 12}", n // 12, float(n))))
        if n % 100 == 99:
            messages.append(state({"n": n + 1}))
    for n in range(40):  # profiles answer 200 when a dropped answer is resent
        start = f"2024-01-01T{n // 4:02d}:{(n % 4) * 15:02d}:00Z"
        end_minute = (n % 4) * 15 + 15
        end = (
            f"2024-01-01T{n // 4:02d}:{end_minute:02d}:00Z"
            if end_minute < 60
            else f"2024-01-01T{n // 4 + 1:02d}:00:00Z"
        )
        messages.append(
            record("profiles", {"from": start, "to": end, "value": n, "import_id": f"{ids}-p"})
        )
    run = run_target(tmp_path, target_config(sb, max_retries=12), messages)
    assert run.returncode == 0, run.stderr
    assert landed(sb, ids) == expected([m for m in messages if m.get("stream") == "readings"])
    profiles = [p for p in sb.records("profiles") if p["import_id"] == f"{ids}-p"]
    assert sorted(p["value"] for p in profiles) == list(range(40))
    counts = run.summary("readings")
    assert counts["retried"] > 0
    assert counts["429s"] + run.summary("profiles")["429s"] > 0
    assert counts["created"] + counts["already_present"] == 300
    assert run.states[-1] == {"n": 300}

    # invoices need access tokens (4 s lifetime: renewed during the run) under the same faults
    meter_id = next(r["meter_id"] for r in sb.records("readings") if r["import_id"].startswith(ids))
    invoices = [
        {"meter_id": meter_id, "from": f"2020-{m:02d}-01", "to": f"2020-{m:02d}-10", "cost": m}
        for m in range(1, 13)
    ]
    run = run_target(
        tmp_path,
        target_config(sb, max_retries=12, max_concurrency=2),
        [schema("invoices"), *(record("invoices", i) for i in invoices)],
    )
    assert run.returncode == 0, run.stderr
    stored = [i for i in sb.records("invoices") if str(i.get("meter_id")) == meter_id]
    assert sorted(i["cost"] for i in stored) == list(range(1, 13))


def test_kill_9_then_resume_from_last_state_loses_and_doubles_nothing(
    tmp_path: Path, make_sandbox: Any, ids: str
) -> None:
    sb = make_sandbox(seed="empty", latency_ms=20)
    total = 1200

    def input_from(position: int) -> list[Any]:
        """What a tap re-run from bookmark ``position`` would send."""
        out: list[Any] = [schema("readings")]
        for n in range(position, total):
            out.append(record("readings", reading(f"{ids}-{n % 6}", n // 6, float(n))))
            if n % 25 == 24:
                out.append(state({"position": n + 1}))
        return out

    source = tmp_path / "input.jsonl"
    source.write_text(to_lines(input_from(0)), encoding="utf-8")
    with source.open() as stdin:
        proc = subprocess.Popen(
            [TARGET_CLI, "--config", str(write_config(tmp_path, target_config(sb)))],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout
        states = []
        while len(states) < 8:
            line = proc.stdout.readline()
            assert line, "the target ended before it was killed"
            states.append(json.loads(line))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    resume_at = states[-1]["position"]
    assert 0 < resume_at < total
    before_resume = landed(sb, ids)
    # the state never ran ahead of what the API holds
    assert all(
        (f"{ids}-{n % 6}", reading("x", n // 6, 0)["time"]) in before_resume
        for n in range(resume_at)
    )

    run = run_target(tmp_path, target_config(sb), input_from(resume_at))
    assert run.returncode == 0, run.stderr
    assert run.states[-1] == {"position": total}
    assert landed(sb, ids) == expected(input_from(0))
    counts = run.summary("readings")
    assert counts["created"] + counts["already_present"] == total - resume_at


def test_round_trip_sandbox_a_to_tap_to_target_to_sandbox_b(
    tmp_path: Path, sandbox: Sandbox, make_sandbox: Any
) -> None:
    pytest.importorskip("tap_enectiva.tap")
    sb_b = make_sandbox(seed="empty")
    meters = sandbox.creds["meter_ids"][:2]
    since = format_timestamp(utcnow() - timedelta(days=20))  # keeps the run short
    tap_file = tmp_path / "tap.json"
    tap_file.write_text(
        json.dumps(tap_config(sandbox, meter_ids=meters, start_date=since)), encoding="utf-8"
    )
    tap = subprocess.Popen(
        [sys.executable, "-m", "tap_enectiva", "--config", str(tap_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    target_file = write_config(tmp_path, target_config(sb_b, unknown_streams="skip"))
    try:
        target = subprocess.run(
            [TARGET_CLI, "--config", str(target_file)],
            stdin=tap.stdout,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        assert tap.stdout
        tap.stdout.close()
        assert tap.wait(60) == 0
    assert target.returncode == 0, target.stderr

    def series(sb: Sandbox, meter_ids: list[str] | None) -> set[tuple[str, str, str, float]]:
        return {
            (r["import_id"], r["suit"], r["time"], r["state"])
            for r in sb.records("readings")
            if (meter_ids is None or r["meter_id"] in meter_ids)
            and not r["suspicious"]
            and r["time"] >= since
        }

    source = series(sandbox, [str(m) for m in meters])
    assert source
    assert series(sb_b, None) == source
