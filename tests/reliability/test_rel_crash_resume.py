"""kill -9 at random points, then resume from the last STATE: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import processes
from tests.reliability.figures import record_run
from tests.reliability.tap_truth import reading_key, true_readings
from tests.reliability.workload import build_workload, compare, expected, owned_by
from tests.support.sandbox import Sandbox, tap_config, target_config
from tests.tap.tap_runner import discover, select

pytestmark = pytest.mark.slow
SEEDS = (1, 2, 3, 4)
START = "2000-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def slow_empty(make_sandbox: Any) -> Sandbox:
    return make_sandbox(seed="empty", latency_ms=15)


@pytest.mark.parametrize("seed", SEEDS)
def test_target_killed_and_resumed_from_its_last_state(
    slow_empty: Sandbox, tmp_path: Path, seed: int
) -> None:
    sb = slow_empty
    rng = random.Random(seed)
    prefix = f"kc{uuid.uuid4().hex[:6]}"
    work = build_workload(prefix, seed=seed, readings=1200, series=8, corrections=5, state_every=40)
    config = target_config(sb, max_concurrency=4, max_retries=10)
    kill_after = rng.randint(1, 15)  # STATE lines seen before the kill
    run = processes.target(tmp_path, config, work.lines())
    states: list[dict[str, Any]] = []
    while len(states) < kill_after:
        line = run.next_line()
        if line is None:
            break
        states.append(processes.parse(line))
    run.kill9()
    assert run.proc.returncode == -9, "the target ended before the kill: make the input longer"
    covered = states[-1]["pos"] if states else 0
    # Every record before the released STATE is stored at the moment of the kill.
    before = build_workload(prefix, seed=seed, readings=1200, series=8, corrections=5,
                            state_every=40).records[:covered]  # fmt: skip
    early = compare(sb, "readings", expected(before, "readings"), owned_by(prefix, "readings"))
    assert not early.lost and not early.duplicated, early.describe()

    resumed = processes.target(tmp_path, config, work.after(covered).lines())
    code = resumed.wait()
    final_states = [json.loads(line) for line in resumed.rest() if line.strip()]
    result = compare(sb, "readings", expected(work, "readings"), owned_by(prefix, "readings"))
    record_run(
        "target kill -9 + resume",
        rate=f"s{seed}",
        faults={"kill_9": 1},
        records_checked=result.checked,
        lost=len(result.lost) + len(result.wrong),
        duplicated=len(result.duplicated) + len(result.unexpected),
    )
    assert code == 0, resumed.stderr[-2000:]
    assert result.ok, result.describe()
    assert final_states[-1] == work.last_state


@pytest.fixture(scope="module")
def slow_demo(make_sandbox: Any) -> Sandbox:
    return make_sandbox(seed="demo", seed_size="7x12x900", page_size=40, latency_ms=20)


def _bookmarks(state: dict[str, Any]) -> dict[str, str]:
    partitions = state.get("bookmarks", {}).get("readings", {}).get("partitions", [])
    return {
        p["context"]["meter_id"]: p["replication_key_value"]
        for p in partitions
        if p.get("replication_key_value")
    }


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_tap_killed_and_resumed_from_its_last_state(
    slow_demo: Sandbox, tmp_path: Path, seed: int
) -> None:
    sb = slow_demo
    config = tap_config(sb, start_date=START)
    catalog = select(discover(tmp_path, config), {"meters", "readings"})
    # readings seen before the kill, at least one STATE (every 1000 records and per meter)
    kill_after = random.Random(seed).randint(300, 1800)
    first = processes.tap(tmp_path, config, catalog, name="first")
    got_first: list[tuple] = []
    meters: set[str] = set()
    last_state: dict[str, Any] | None = None
    while len(got_first) < kill_after or last_state is None:
        line = first.next_line()
        if line is None:
            break
        message = processes.parse(line)
        if message["type"] == "RECORD" and message["stream"] == "readings":
            got_first.append(reading_key(message["record"]))
        elif message["type"] == "RECORD" and message["stream"] == "meters":
            meters.add(message["record"]["id"])
        elif message["type"] == "STATE":
            last_state = message["value"]
    first.kill9()
    assert first.proc.returncode == -9, "the tap ended before the kill"

    second = processes.tap(tmp_path, config, catalog, state=last_state, name="second")
    lines = []
    while (line := second.next_line()) is not None:
        lines.append(processes.parse(line))
    code = second.wait()
    got_second = [
        reading_key(m["record"])
        for m in lines
        if m["type"] == "RECORD" and m["stream"] == "readings"
    ]
    meters |= {
        m["record"]["id"] for m in lines if m["type"] == "RECORD" and m["stream"] == "meters"
    }
    truth = true_readings(sb, meters, START)
    bookmarks = _bookmarks(last_state or {})
    behind = [k for k in got_second if k[0] in bookmarks and k[1] <= bookmarks[k[0]]]
    lost = len(truth - set(got_first) - set(got_second))
    doubled = sum(n > 1 for n in Counter(got_first).values())
    doubled += sum(n > 1 for n in Counter(got_second).values()) + len(behind)
    record_run(
        "tap kill -9 + resume",
        rate=f"s{seed}",
        faults={"kill_9": 1},
        records_checked=len(truth),
        lost=lost,
        duplicated=doubled,
    )
    assert code == 0, second.stderr[-2000:]
    assert last_state is not None, "no STATE before the kill"
    assert lost == 0
    assert not behind, f"re-emitted before the state's bookmark: {behind[:5]}"
    assert doubled == 0
    assert set(got_first) | set(got_second) == truth
