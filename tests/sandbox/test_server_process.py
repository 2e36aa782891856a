"""The process: persistence across restarts, injected faults, the admin API."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.sandbox.conftest import Api, doc, path
from tests.support.sandbox import Sandbox


def test_a_data_file_of_an_earlier_version_is_refused_in_one_line(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:  # format 1: seeded, no recorded format
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('seed', 'demo')")
    cmd = [sys.executable, "-m", "enectiva_sandbox.cli", "serve", "--port", "0"]
    done = subprocess.run([*cmd, "--data", str(old)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"enectiva-sandbox: {old} was written by an earlier enectiva-sandbox (data format 1, "
        "this version reads 2): delete it, and the sandbox seeds a new one"
    ]


def test_a_restart_keeps_data_and_tokens(tmp_path: Path) -> None:
    with Sandbox(seed="empty", data=tmp_path / "sandbox.db") as sb:
        creds = dict(sb.creds)
        imp = Api(sb, sb.creds["import_token"])
        url = path("createReading", customerId=sb.creds["customer_id"])
        body = doc("readings", time="2024-01-01T00:00:00Z", state=1.0, import_id="keep")
        assert imp.post(url, body).status_code == 201
        sb.restart()
        assert {k: sb.creds[k] for k in ("customer_id", "import_token", "login_token")} == {
            k: creds[k] for k in ("customer_id", "import_token", "login_token")
        }
        again = Api(sb, sb.creds["import_token"]).post(url, body)
        assert again.status_code == 409
        assert [r["import_id"] for r in sb.records("readings")] == ["keep"]
        assert Api(sb).reader().get(path("listMeters")).status_code == 200


def test_same_seed_gives_the_same_tokens() -> None:
    with Sandbox(seed="empty") as a, Sandbox(seed="empty") as b:
        assert a.creds["import_token"] == b.creds["import_token"]
        assert a.creds["customer_id"] == b.creds["customer_id"]
        assert a.creds["login_token_limited"] != a.creds["login_token"]


def test_fail_rate_one_answers_5xx_and_drop_rate_one_drops(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    sb = make_sandbox(seed="empty")
    imp = Api(sb, sb.creds["import_token"])
    latest = path("latestReading", customerId=sb.creds["customer_id"], importId="x", suit="y")
    sb.set_faults(fail_rate=1.0)
    statuses = {imp.get(latest).status_code for _ in range(10)}
    assert statuses <= {500, 502, 503} and statuses
    sb.set_faults(fail_rate=0.0, drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        imp.get(latest)
    sb.set_faults(drop_rate=0.0)
    assert imp.get(latest).status_code == 404
    stats = sb.stats()
    assert stats["failed"] == 10 and stats["dropped"] >= 1
    assert stats["by_operation"]["latestReading"] >= 11
    assert stats["invalid_responses"] == 0
    assert sb.reset_stats()["requests"] == 0


def test_latency_and_fault_settings_round_trip(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    sb = make_sandbox(seed="empty", latency_ms=1)
    assert sb.faults()["latency_ms"] == 1
    merged = sb.set_faults(rate_limit=50)
    assert merged["rate_limit"] == 50 and merged["latency_ms"] == 1
    bad = requests.post(f"{sb.url}/_sandbox/faults", json={"fail_rate": 2}, timeout=10)
    assert bad.status_code == 400
    assert requests.get(f"{sb.url}/_sandbox/records/nope", timeout=10).status_code == 404


def test_the_shared_sandbox_never_answered_against_the_contract(shared: Sandbox) -> None:
    stats = shared.stats()
    assert stats["invalid_responses"] == 0, stats["response_errors"]
