"""The tap under token expiry, rate limits, server errors and dropped connections."""

from __future__ import annotations

import pytest
from tap_runner import discover, run_tap, select
from test_tap_cli import expected_readings, full_config, reading_keys, recent_start

pytestmark = pytest.mark.slow


def readings_run(sb, tmp_path, days: int, **settings):
    config = full_config(sb, start_date=recent_start(days), max_retries=10, **settings)
    catalog = select(discover(tmp_path, config), {"readings"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    got = reading_keys(run.records("readings"))
    meters = {key[0] for key in got}
    assert len(got) == len(set(got)), "no reading twice"
    assert set(got) == expected_readings(sb, meters, config["start_date"])
    assert len(meters) >= 5
    return run


def test_access_token_expiring_mid_run_is_renewed(make_sandbox, tmp_path):
    sb = make_sandbox(seed="demo", page_size=20, token_lifetime=2, latency_ms=40)
    # one request at a time and small pages: the run outlives a 2 s token (renewed with about
    # 1 s left; the sandbox's whole-second expiry can leave it 1.9 s of life)
    run = readings_run(sb, tmp_path, days=10, max_concurrency=1)
    stats = sb.stats()["by_operation_status"]
    assert stats["createAccessToken 201"] >= 2, stats
    # renewals need no word about the login token; the run summary names the one in use
    lines = run.stderr.splitlines()
    assert [line for line in lines if "login_" in line and "Run summary" not in line] == []
    assert any("0 switches (using login_token)" in line for line in lines), run.stderr[-2000:]


def test_rate_limits_server_errors_and_drops_are_retried(make_sandbox, tmp_path):
    # Without budget headers: with them the shared pacer keeps under the rate, no 429 comes
    # (tests/tap/test_tap_concurrency.py); without, it learns the rate from the first 429s.
    sb = make_sandbox(
        seed="demo",
        page_size=50,
        rate_limit=5,
        fail_rate=0.15,
        drop_rate=0.05,
        budget_headers=False,
    )
    run = readings_run(sb, tmp_path, days=8)
    stats = sb.stats()
    assert stats["rate_limited"] > 0, stats
    assert stats["failed"] > 0, stats
    assert "Retrying 'readings'" in run.stderr


def test_persistent_server_errors_end_in_one_line(make_sandbox, tmp_path):
    sb = make_sandbox(seed="demo", page_size=50)
    config = full_config(sb, max_retries=1)
    catalog = select(discover(tmp_path, config), {"meters"})
    sb.set_faults(fail_rate=1.0)
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("tap-enectiva: error:")]
    assert len(errors) == 1 and "HTTP 5" in errors[0], run.stderr
    assert "Traceback" not in run.stderr
