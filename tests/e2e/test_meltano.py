"""``meltano run tap-enectiva target-jsonl`` inside the repository, against a sandbox."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from demo.meltano_cli import Meltano, RunResult, project_lock
from demo.run_demo import meltano_env
from enectiva.times import parse_timestamp
from tests.e2e.conftest import MELTANO_GROUP, ROOT, TAP_STREAMS
from tests.support.sandbox import Sandbox

pytestmark = [MELTANO_GROUP, pytest.mark.timeout(900)]


def read_jsonl(folder: Path, stream: str) -> list[dict[str, Any]]:
    path = folder / f"{stream}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@dataclass
class JsonlRuns:
    folder: Path
    first: RunResult
    second: RunResult
    after_first: dict[str, list[dict[str, Any]]]  # the files' records after the first run
    log: list[str]


def run_twice(meltano_executable: Path, sandbox: Sandbox, work: Path) -> JsonlRuns:
    """Two `meltano run tap-enectiva target-jsonl` runs sharing Meltano state."""
    env = meltano_env(work, sandbox.creds)
    env["TARGET_JSONL_DESTINATION_PATH"] = str(work / "jsonl")
    (work / "jsonl").mkdir()
    lines: list[str] = []
    meltano = Meltano(meltano_executable, ROOT, env, echo=lines.append)
    with project_lock(ROOT):
        first = meltano.run("run", "tap-enectiva", "target-jsonl", extractor="tap-enectiva")
        assert first.returncode == 0, "\n".join(lines[-60:])
        after_first = {stream: read_jsonl(work / "jsonl", stream) for stream in TAP_STREAMS}
        second = meltano.run("run", "tap-enectiva", "target-jsonl", extractor="tap-enectiva")
        assert second.returncode == 0, "\n".join(lines[-60:])
    return JsonlRuns(work / "jsonl", first, second, after_first, lines)


@pytest.mark.slow
def test_meltano_run_tap_enectiva_target_jsonl(meltano_executable: Path, tmp_path: Path):
    """One test for both runs (a module fixture would run again on every xdist worker)."""
    # A sandbox of its own: other suites import into the shared one meanwhile.
    with Sandbox(seed="demo") as sandbox:
        runs = run_twice(meltano_executable, sandbox, tmp_path)
        check_every_stream_lands_with_the_sandbox_counts(runs, sandbox)
        check_second_run_continues_from_meltano_state(runs)
        check_tokens_stay_out_of_logs_and_output(runs, sandbox)


def check_every_stream_lands_with_the_sandbox_counts(
    jsonl_runs: JsonlRuns, sandbox: Sandbox
) -> None:
    records = jsonl_runs.after_first
    for stream in TAP_STREAMS:
        assert records[stream], f"no {stream} records"

    meters = {m["id"] for m in records["meters"]}
    assert meters <= set(sandbox.creds["meter_ids"])
    assert {e["id"] for e in records["entities"]} == set(sandbox.creds["entity_ids"])

    listed = Counter(
        r["meter_id"]
        for r in sandbox.records("readings")
        if r["meter_id"] in meters and not r["suspicious"]
    )
    assert Counter(r["meter_id"] for r in records["readings"]) == listed

    series = set(sandbox.creds["data_series_ids"])
    points = Counter(
        p["data_series_id"]
        for p in sandbox.records("data_points")
        if p["data_series_id"] in series and not p["suspicious"]
    )
    assert Counter(p["data_series_id"] for p in records["data_points"]) == points

    assert {d["virtual_meter_id"] for d in records["virtual_meter_deltas"]} == set(
        sandbox.creds["virtual_meter_ids"]
    )
    for stream in TAP_STREAMS:  # the loader kept every record the tap emitted
        assert len(records[stream]) == jsonl_runs.first.records[stream], stream


def check_second_run_continues_from_meltano_state(jsonl_runs: JsonlRuns) -> None:
    """With no new data the second run re-reads only the look-back window (``lookback_days:
    2`` in meltano.yml's sandbox environment): records the first run emitted, none older than
    two days before its series' bookmark; target-jsonl appends them after the first run's."""
    for stream, owner in (("readings", "meter_id"), ("data_points", "data_series_id")):
        first = jsonl_runs.after_first[stream]
        assert first, stream
        again = read_jsonl(jsonl_runs.folder, stream)[len(first) :]
        assert len(again) == jsonl_runs.second.records[stream] < len(first), stream
        assert {(r[owner], r["time"]) for r in again} <= {(r[owner], r["time"]) for r in first}
        bookmark: dict[str, datetime] = {}
        for record in first:
            moment = parse_timestamp(record["time"])
            bookmark[record[owner]] = max(moment, bookmark.get(record[owner], moment))
        window = timedelta(days=2)
        assert all(parse_timestamp(r["time"]) >= bookmark[r[owner]] - window for r in again)


def check_tokens_stay_out_of_logs_and_output(jsonl_runs: JsonlRuns, sandbox: Sandbox) -> None:
    secrets = [sandbox.creds["login_token"], sandbox.creds["import_token"]]
    files = "".join(p.read_text() for p in jsonl_runs.folder.glob("*.jsonl"))
    text = "\n".join(jsonl_runs.log) + files
    for secret in secrets:
        assert secret not in text
