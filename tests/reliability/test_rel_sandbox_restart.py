"""The sandbox restarts mid-run (file database): tap and target retry and finish."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest

from tests.reliability import processes
from tests.reliability.figures import record_run
from tests.reliability.tap_truth import missing_and_doubled, reading_key, true_readings
from tests.reliability.workload import build_workload, compare, expected, owned_by
from tests.support.sandbox import Sandbox, tap_config, target_config
from tests.tap.tap_runner import discover, select

pytestmark = pytest.mark.slow


@pytest.fixture
def file_sandbox(tmp_path: Path):
    sb = Sandbox(
        seed="demo", seed_size="7x12x900", data=tmp_path / "sandbox.db", page_size=40,
        latency_ms=15,
    ).start()  # fmt: skip
    yield sb
    sb.stop()


def _restart_when(sb: Sandbox, ready: threading.Event, restarted: threading.Event) -> None:
    ready.wait(120)
    sb.restart()
    restarted.set()


def test_target_finishes_across_a_sandbox_restart(file_sandbox: Sandbox, tmp_path: Path) -> None:
    sb = file_sandbox
    prefix = f"rs{uuid.uuid4().hex[:6]}"
    work = build_workload(prefix, seed=5, readings=800, series=8, state_every=40)
    config = target_config(sb, max_concurrency=4, max_retries=12)
    run = processes.target(tmp_path, config, work.lines())
    ready, restarted = threading.Event(), threading.Event()
    threading.Thread(target=_restart_when, args=(sb, ready, restarted), daemon=True).start()
    states = []
    while (line := run.next_line()) is not None:
        states.append(json.loads(line))
        if len(states) == 2:
            ready.set()
    code = run.wait()
    assert restarted.wait(60), "the sandbox was not restarted during the run"
    result = compare(sb, "readings", expected(work, "readings"), owned_by(prefix, "readings"))
    record_run(
        "target sandbox restart",
        rate="-",
        faults={"sandbox_restart": 1},
        records_checked=result.checked,
        lost=len(result.lost) + len(result.wrong),
        duplicated=len(result.duplicated) + len(result.unexpected),
    )
    assert code == 0, run.stderr[-2000:]
    assert result.ok, result.describe()
    assert states[-1] == work.last_state


def test_tap_finishes_across_a_sandbox_restart(file_sandbox: Sandbox, tmp_path: Path) -> None:
    sb = file_sandbox
    config = tap_config(sb, max_retries=12)
    catalog = select(discover(tmp_path, config), {"meters", "readings"})
    run = processes.tap(tmp_path, config, catalog)
    ready, restarted = threading.Event(), threading.Event()
    threading.Thread(target=_restart_when, args=(sb, ready, restarted), daemon=True).start()
    got, meters = [], set()
    while (line := run.next_line()) is not None:
        message = json.loads(line)
        if message["type"] == "RECORD" and message["stream"] == "readings":
            got.append(reading_key(message["record"]))
            if len(got) == 300:
                ready.set()
        elif message["type"] == "RECORD" and message["stream"] == "meters":
            meters.add(message["record"]["id"])
    code = run.wait()
    assert restarted.wait(60), "the sandbox was not restarted during the run"
    truth = true_readings(sb, meters, "2000-01-01T00:00:00Z")
    missing, doubled, extra = missing_and_doubled(got, truth)
    record_run(
        "tap sandbox restart",
        rate="-",
        faults={"sandbox_restart": 1},
        records_checked=len(truth),
        lost=missing,
        duplicated=doubled + extra,
    )
    assert code == 0, run.stderr[-2000:]
    assert (missing, doubled, extra) == (0, 0, 0)
