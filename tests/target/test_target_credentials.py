"""Two tokens of each kind (contract section 8) through the real CLI against sandbox processes.

A 401 for the token in use switches the run to the other token once (one warning naming the
setting now in use, never a token); both refused stops with one line naming both settings;
a 403 never switches. Every sandbox here is its own process: token windows are per sandbox.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.workload import build_workload, compare, expected, owned_by, record_key
from tests.support.sandbox import Sandbox, target_config
from tests.target.target_cli_helpers import (
    FATAL_PREFIX,
    RUN_TIMEOUT,
    Run,
    reading,
    record,
    run_target,
    schema,
    start_target,
    state,
)


def warnings(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if "| WARNING" in line]


def fatal_lines(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith(FATAL_PREFIX)]


def readings_input(prefix: str, count: int, series: int = 4) -> list[dict[str, Any] | str]:
    messages: list[dict[str, Any] | str] = [schema("readings")]
    for n in range(count):
        messages.append(record("readings", reading(f"{prefix}-{n % series}", n, float(n))))
    messages.append(state({"pos": count}))
    return messages


def stored(sb: Sandbox, prefix: str) -> list[dict[str, Any]]:
    return [r for r in sb.records("readings") if str(r["import_id"]).startswith(prefix)]


def no_token_in(run: Run, creds: dict[str, Any]) -> None:
    text = run.stdout + run.stderr
    for name in ("import_token", "import_token_secondary", "login_token", "login_token_secondary"):
        assert creds[name] not in text, f"{name}'s value appears in the output"


def test_an_import_token_expired_at_start_switches_to_the_second_once(
    make_sandbox: Any, tmp_path: Path
) -> None:
    sb = make_sandbox(seed="empty", expired_tokens=["import_primary"])
    prefix = f"x{uuid.uuid4().hex[:8]}"
    config = target_config(
        sb, import_token_secondary=sb.creds["import_token_secondary"], max_concurrency=8
    )
    run = run_target(tmp_path, config, readings_input(prefix, 60))
    assert run.returncode == 0, run.stderr[-2000:]
    said = warnings(run)
    assert len(said) == 1, said
    assert "using import_token_secondary for the rest of the run" in said[0], said[0]
    assert len(stored(sb, prefix)) == 60
    assert run.states == [{"pos": 60}]
    assert "switches" in run.stderr and "(using import_token_secondary)" in run.stderr
    no_token_in(run, sb.creds)


def test_without_a_second_token_an_expired_one_stops_as_before(
    make_sandbox: Any, tmp_path: Path
) -> None:
    sb = make_sandbox(seed="empty", expired_tokens=["import_primary"])
    run = run_target(tmp_path, target_config(sb), readings_input("nosecond", 5))
    assert run.returncode != 0
    lines = fatal_lines(run)
    assert len(lines) == 1 and "check import_token" in lines[0], run.stderr[-2000:]
    assert not warnings(run) and run.states == []


def test_both_import_tokens_refused_stop_with_one_line_naming_both(
    make_sandbox: Any, tmp_path: Path
) -> None:
    sb = make_sandbox(seed="empty", expired_tokens=["import_primary", "import_secondary"])
    prefix = f"b{uuid.uuid4().hex[:8]}"
    config = target_config(sb, import_token_secondary=sb.creds["import_token_secondary"])
    run = run_target(tmp_path, config, readings_input(prefix, 20))
    assert run.returncode != 0
    lines = fatal_lines(run)
    assert len(lines) == 1, run.stderr[-2000:]
    assert "both import_token and import_token_secondary were refused" in lines[0], lines[0]
    assert run.states == [] and stored(sb, prefix) == []
    no_token_in(run, sb.creds)


def test_a_403_never_switches_to_the_second_token(make_sandbox: Any, tmp_path: Path) -> None:
    sb = make_sandbox(seed="empty")
    prefix = f"f{uuid.uuid4().hex[:8]}"
    # the other customer's token on this customer's paths: 403, although the second is valid
    config = target_config(
        sb,
        import_token=sb.creds["other_import_token"],
        import_token_secondary=sb.creds["import_token_secondary"],
    )
    run = run_target(tmp_path, config, readings_input(prefix, 10))
    assert run.returncode != 0
    lines = fatal_lines(run)
    assert len(lines) == 1 and "403" in lines[0], run.stderr[-2000:]
    assert not [w for w in warnings(run) if "secondary" in w], warnings(run)
    assert stored(sb, prefix) == [] and run.states == []
    assert sb.stats()["by_status"].get("401", 0) == 0


def test_invoices_use_the_second_login_token_when_the_first_is_expired(
    make_sandbox: Any, tmp_path: Path
) -> None:
    sb = make_sandbox(seed="demo", seed_size="7x2x3600", expired_tokens=["login_primary"])
    prefix = f"i{uuid.uuid4().hex[:8]}"
    meters = sb.creds["meter_ids"][:2]
    messages: list[dict[str, Any] | str] = [schema("invoices")]
    for n in range(8):
        rec = {
            "meter_id": meters[n % 2],
            "from": f"1990-{n + 1:02d}-01",
            "to": f"1990-{n + 1:02d}-20",
            "cost": 10.0 + n,
            "note": f"{prefix} {n}",
        }
        messages.append(record("invoices", rec))
    messages.append(state({"pos": 8}))
    config = target_config(sb, login_token_secondary=sb.creds["login_token_secondary"])
    sb.reset_stats()
    run = run_target(tmp_path, config, messages)
    assert run.returncode == 0, run.stderr[-2000:]
    said = warnings(run)
    assert len(said) == 1 and "using login_token_secondary" in said[0], said
    kept = [r for r in sb.records("invoices") if str(r.get("note", "")).startswith(prefix)]
    assert len(kept) == 8
    # one exchange refused (the expired first login token), then access tokens of the second
    # (an access token of an expired login token is refused: none of the invoices was)
    operations = sb.stats()["by_operation_status"]
    assert operations.get("createAccessToken 401") == 1, operations
    assert operations.get("createReceivedInvoice 201") == 8, operations
    assert not any(key.startswith("createReceivedInvoice 401") for key in operations)
    no_token_in(run, sb.creds)


def test_a_token_revoked_mid_run_loses_and_doubles_nothing_and_state_stays_honest(
    make_sandbox: Any, tmp_path: Path
) -> None:
    # 30 ms per answer and 8 in flight: requests are in flight when the token is revoked
    sb = make_sandbox(seed="empty", latency_ms=30)
    prefix = f"r{uuid.uuid4().hex[:6]}"
    work = build_workload(prefix, seed=11, readings=480, series=12, corrections=6, state_every=20)
    order = [record_key("readings", m["record"]) for m in work.records]
    config = target_config(
        sb, import_token_secondary=sb.creds["import_token_secondary"], max_concurrency=8
    )
    proc = start_target(tmp_path, config)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    lies: list[str] = []
    states: list[int] = []
    first_state = threading.Event()

    def watch_states() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.strip():
                continue
            pos = json.loads(line)["pos"]
            states.append(pos)
            first_state.set()
            # a STATE covers only acknowledged records: the first `pos` are stored by now
            held = {record_key("readings", r) for r in stored(sb, prefix)}
            missing = [key for key in order[:pos] if key not in held]
            if missing:
                lies.append(f"STATE pos {pos} before {missing[:3]} were stored")

    watcher = threading.Thread(target=watch_states, daemon=True)
    watcher.start()
    feeder = threading.Thread(target=lambda: (proc.stdin.write(work.lines()), proc.stdin.close()))
    feeder.start()
    assert first_state.wait(60), "no STATE arrived"
    sb.revoke_token("import_primary")
    feeder.join(RUN_TIMEOUT)
    stderr = proc.stderr.read()
    proc.wait(RUN_TIMEOUT)
    watcher.join(RUN_TIMEOUT)
    assert proc.returncode == 0, stderr[-3000:]
    assert not lies, lies
    assert states and states[-1] == len(work.records), states[-3:]
    assert states[0] < len(work.records), "the token was revoked after the run had finished"
    comparison = compare(sb, "readings", expected(work, "readings"), owned_by(prefix, "readings"))
    assert comparison.ok, comparison.describe()
    switched = [line for line in stderr.splitlines() if "| WARNING" in line]
    assert len(switched) == 1 and "using import_token_secondary" in switched[0], switched
    tokens = {t["name"]: t for t in sb.tokens()}
    assert tokens["import_primary"]["revoked"] and tokens["import_secondary"]["valid"]


@pytest.mark.parametrize("headers", [True, False], ids=["budget-headers", "no-headers"])
def test_the_summary_counts_per_credential(
    make_sandbox: Any, tmp_path: Path, headers: bool
) -> None:
    sb = make_sandbox(seed="empty", rate_limit=50, budget_headers=headers)
    prefix = f"s{uuid.uuid4().hex[:8]}"
    run = run_target(tmp_path, target_config(sb, max_concurrency=8), readings_input(prefix, 150))
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(stored(sb, prefix)) == 150
    line = next(x for x in run.stderr.splitlines() if "summary credential import_token:" in x)
    stats = sb.stats()
    assert f"{stats['requests']} requests, {stats['rate_limited']} answered 429" in line, line
    assert "0 switches (using import_token)" in line, line
    if headers:
        assert "paced at 50.0/s (from budget headers)" in line, line
    elif stats["rate_limited"]:
        assert "(learned from 429s)" in line, line
