"""The tap's login tokens (issue 11, contract sections 5 and 8): a refused login token moves the
run to ``login_token_secondary`` once; both refused stop it with one line; a 403 never switches.
Real CLI against sandbox processes."""

from __future__ import annotations

import subprocess

import pytest
from tap_runner import discover, error_lines, parse_messages, run_tap, select, tap_args
from test_tap_cli import expected_readings, full_config, listed, reading_keys, recent_start

pytestmark = pytest.mark.slow

SWITCHED = "using login_token_secondary for the rest of the run"


def both_tokens(sb, **overrides):
    return full_config(
        sb, login_token_secondary=sb.creds["login_token_secondary"], max_retries=10, **overrides
    )


def secrets_of(sb) -> list[str]:
    return [sb.creds[k] for k in ("login_token", "login_token_secondary", "login_token_limited")]


def assert_no_secret(sb, *texts: str) -> None:
    text = "\n".join(texts)
    assert not [s[:8] for s in secrets_of(sb) if s in text], "a login token leaked"
    assert "eyJ" not in text, "an access token (JWT) leaked"


def switch_warnings(stderr: str) -> list[str]:
    """Log lines naming login_token_secondary, the run summary left out."""
    return [
        line
        for line in stderr.splitlines()
        if "login_token_secondary" in line and "Run summary" not in line
    ]


def test_login_token_expired_at_start_switches_to_the_second(make_sandbox, tmp_path):
    sb = make_sandbox(seed="demo", page_size=50, expired_tokens=["login_primary"])
    config = both_tokens(sb, start_date=recent_start(5))
    catalog = select(discover(tmp_path, config), {"meters", "readings"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    (warning,) = switch_warnings(run.stderr)
    assert "login_token was refused (HTTP 401" in warning and SWITCHED in warning
    assert "WARNING" in warning
    got = reading_keys(run.records("readings"))
    meters = {m["id"] for m in listed(sb, "/meters", login="login_token_secondary")}
    assert len(got) == len(set(got)), "no reading twice"
    assert set(got) == expected_readings(sb, meters, config["start_date"])
    assert len(run.records("meters")) == len(meters)
    assert any(
        "1 switches (using login_token_secondary)" in line for line in run.stderr.splitlines()
    )
    assert_no_secret(sb, run.stdout, run.stderr)


def test_login_token_revoked_mid_run_switches_and_misses_nothing(make_sandbox, tmp_path):
    # Short-lived access tokens and concurrent reads: requests are in flight when the login
    # token (and with it every access token it gave) is revoked.
    sb = make_sandbox(seed="demo", page_size=50, token_lifetime=3, latency_ms=20)
    config = both_tokens(sb, start_date=recent_start(12), max_concurrency=4)
    catalog = select(discover(tmp_path, config), {"readings"})
    args = tap_args(tmp_path, config, catalog=catalog)
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    records = 0
    revoked_at: int | None = None
    for line in proc.stdout:
        lines.append(line)
        if '"RECORD"' in line:
            records += 1
        elif '"STATE"' in line and revoked_at is None and records > 1000:
            sb.revoke_token("login_primary")
            revoked_at = len(lines)
    stderr = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, stderr[-3000:]
    assert revoked_at is not None, "the run ended before the revocation"

    messages = parse_messages("".join(lines))
    got = reading_keys([m["record"] for m in messages if m["type"] == "RECORD"])
    meters = {m["id"] for m in listed(sb, "/meters", login="login_token_secondary")}
    expected = expected_readings(sb, meters, config["start_date"])
    assert len(got) == len(set(got)), "no reading twice"
    assert set(got) == expected, "the switched run reads what a clean run reads"
    (warning,) = switch_warnings(stderr)
    assert SWITCHED in warning, stderr[-3000:]
    assert_no_secret(sb, "".join(lines), stderr)

    # STATE stays resumable: resume from the first STATE after the revocation
    states = [i for i, m in enumerate(messages) if m["type"] == "STATE" and i >= revoked_at - 1]
    at = states[0]
    before = reading_keys([m["record"] for m in messages[:at] if m["type"] == "RECORD"])
    assert 1000 < len(before) < len(expected)
    resumed = run_tap(tmp_path, config, catalog=catalog, state=messages[at]["value"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = reading_keys(resumed.records("readings"))
    assert not set(before) & set(again), "nothing before the STATE comes again"
    assert set(before) | set(again) == expected
    assert len(switch_warnings(resumed.stderr)) == 1  # the revoked token is refused at start


def test_both_login_tokens_refused_stop_with_one_line(make_sandbox, tmp_path):
    sb = make_sandbox(
        seed="demo", page_size=50, expired_tokens=["login_primary", "login_secondary"]
    )
    config = both_tokens(sb)
    catalog = select(discover_with(sb, tmp_path), {"meters"})
    run = run_tap(tmp_path, config, catalog=catalog, timeout=120)
    assert run.returncode != 0
    (line,) = error_lines(run.stderr)
    assert "both login_token and login_token_secondary were refused (HTTP 401" in line, line
    assert "Traceback" not in run.stderr
    assert not run.records("meters")
    assert_no_secret(sb, run.stdout, run.stderr)


def discover_with(sb, tmp_path):
    """Discovery needs no request: any config of the sandbox gives the catalog."""
    return discover(tmp_path, full_config(sb))


def test_a_403_never_switches_to_the_second_login_token(make_sandbox, tmp_path):
    sb = make_sandbox(seed="demo", page_size=50)
    # the limited token's access tokens lack the readings scope; the second one has it
    config = full_config(
        sb,
        login_token=sb.creds["login_token_limited"],
        login_token_secondary=sb.creds["login_token"],
    )
    catalog = select(discover(tmp_path, config), {"meters", "readings"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode != 0
    (line,) = error_lines(run.stderr)
    assert "stream 'readings' needs the 'readings' scope" in line, line
    assert not switch_warnings(run.stderr), "a 403 must not switch tokens"
    assert "Traceback" not in run.stderr
    assert_no_secret(sb, run.stdout, run.stderr)
