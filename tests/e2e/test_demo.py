"""``make demo`` end to end: the same script, an isolated output dir, run twice."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest

from enectiva.local_times import SeriesClock
from tests.e2e.conftest import MELTANO_GROUP, ROOT, TAP_STREAMS
from tests.support.sandbox import Sandbox

pytestmark = [pytest.mark.slow, MELTANO_GROUP, pytest.mark.timeout(1200)]

SCRIPT = ROOT / "demo" / "run_demo.py"
CSV_FILE = ROOT / "demo" / "data" / "bms_export.csv"
CSV_ZONE = ZoneInfo("Europe/Prague")  # the target's input_time_zone in meltano.yml
FALL_BACK = "2026-10-25"  # clocks went back inside the export: 02:00 is written twice


@dataclass
class DemoRun:
    returncode: int
    output: str
    report: dict[str, Any]

    def stream(self, name: str) -> dict[str, Any]:
        return next(s for s in self.report["streams"] if s["stream"] == name)


def run_demo(output_dir: Path) -> DemoRun:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--output-dir", str(output_dir), "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    report = json.loads((output_dir / "report.json").read_text(encoding="utf-8"))
    return DemoRun(proc.returncode, output, report)


def csv_rows() -> dict[str, list[tuple[datetime, float]]]:
    """The shipped export per meter: (UTC instant, register), read independently of the target.

    Local times are read by the contract's rule (section 5, ``infer``): a repeated hour is the
    second occurrence when the meter's previous row is at or after the first.
    """
    rows: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    clock = SeriesClock(CSV_ZONE, "infer")
    with CSV_FILE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            local = datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S")
            instant, _ = clock.read(local, row["meter"])
            clock.keep(row["meter"], instant)
            rows[row["meter"]].append((instant, float(row["register_kwh"])))
    return rows


def test_make_demo_twice(meltano_executable: Path, tmp_path: Path):
    """The same path as ``make demo``, twice on one output dir (the second is incremental).

    One test, not one per check: each run costs a minute, and a module fixture would be run
    again on every xdist worker its tests are spread over.
    """
    first = run_demo(tmp_path)
    check_report(first, tmp_path)
    check_warehouse_holds_every_record_the_tap_emitted(first, tmp_path)
    check_csv_readings_arrive_in_utc_with_the_right_deltas(first, tmp_path)
    second = run_demo(tmp_path)
    check_second_run_is_incremental(first, second)


def check_report(first: DemoRun, demo_dir: Path) -> None:
    for step in range(1, 6):
        assert f"==> [{step}/5]" in first.output
    database = demo_dir / "warehouse.duckdb"
    assert first.report["database"] == str(database)
    assert f"Warehouse (DuckDB): {database}" in first.output
    assert database.exists()
    assert {s["stream"] for s in first.report["streams"]} == TAP_STREAMS
    assert first.report["pushed"] == sum(len(v) for v in csv_rows().values())
    for meter in first.report["meters"]:
        assert f"{meter['readings']:,} readings" in first.output
        assert meter["name"] in first.output
    picture = demo_dir / "consumption.png"
    assert f"as a picture: {picture}" in first.output
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_warehouse_holds_every_record_the_tap_emitted(first: DemoRun, demo_dir: Path) -> None:
    connection = duckdb.connect(str(demo_dir / "warehouse.duckdb"), read_only=True)
    try:
        for stream in TAP_STREAMS:
            line = first.stream(stream)
            rows = connection.execute(f"SELECT count(*) FROM enectiva.{stream}").fetchone()[0]
            assert line["emitted"] > 0, stream
            # A loader that loses rows (e.g. target-duckdb with duckdb >= 1.3) fails here.
            assert rows == line["emitted"] == line["added"] == line["total"], stream
    finally:
        connection.close()


def check_second_run_is_incremental(first: DemoRun, second: DemoRun) -> None:
    assert second.report["pushed"] == 0  # the CSV tap's state: the file was read already
    for stream in ("readings", "data_points"):
        line = second.stream(stream)
        # lookback_days (2 in meltano.yml) re-reads a window before each bookmark: the rows
        # come again under their keys and are updated, none added.
        assert 0 < line["emitted"] < first.stream(stream)["emitted"], stream
        assert line["written"] == line["emitted"], stream
        assert line["added"] == 0, stream
        assert line["total"] == first.stream(stream)["total"], stream
    for line in second.report["streams"]:
        assert line["added"] == 0, line  # deltas re-read their look-back window: updates only
    assert "rows added" in second.output


def check_csv_readings_arrive_in_utc_with_the_right_deltas(first: DemoRun, demo_dir: Path) -> None:
    expected = csv_rows()
    with Sandbox(data=demo_dir / "sandbox.db", seed="demo") as sandbox:
        stored = sandbox.records("readings")
    by_meter: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for reading in stored:
        if reading["import_id"] in expected:
            by_meter[reading["import_id"]].append((reading["time"], reading["state"]))
    meters = {m["import_id"]: m for m in first.report["meters"]}
    night = {m["import_id"]: m for m in first.report["fall_back"]["meters"]}
    assert first.report["fall_back"]["night"] == FALL_BACK
    for import_id, rows in expected.items():
        want = sorted((t.strftime("%Y-%m-%dT%H:%M:%SZ"), s) for t, s in rows)
        assert len({t for t, _ in want}) == len(want), import_id  # every row its own instant
        assert sorted(by_meter[import_id]) == want, import_id
        # the export's repeated hour: 02:00 twice, on two instants an hour apart
        assert night[import_id]["local"] == ["01:00", "02:00", "02:00", "03:00"], import_id
        assert night[import_id]["utc"] == ["23:00", "00:00", "01:00", "02:00"], import_id
        line = "01:00, 02:00, 02:00, 03:00 local -> 4 distinct instants UTC 23:00, 00:00, 01:00"
        assert re.search(rf"{re.escape(import_id)} +{re.escape(line)}", first.output), import_id
        summary = meters[import_id]
        assert summary["readings"] == len(rows)
        # Months are UTC months (meters created by imports are UTC): the latest three are
        # Aug-Oct, together the register's rise from 2026-08-01T00:00Z to the last reading.
        assert [month for month, _ in summary["months"]] == ["2026-08", "2026-09", "2026-10"]
        start = next(s for t, s in rows if t == datetime(2026, 8, 1, tzinfo=UTC))
        assert summary["consumption"] == pytest.approx(rows[-1][1] - start, rel=1e-6)


def test_ctrl_c_stops_the_sandbox(meltano_executable: Path, tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--output-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "==> [3/5]" in line:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
            break
    seen.append(proc.stdout.read())
    assert proc.wait(timeout=60) == 130, "".join(seen)[-3000:]
    assert "demo interrupted; the sandbox was stopped" in "".join(seen)
    credentials = json.loads((tmp_path / "sandbox-credentials.json").read_text())
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{credentials['api_url']}/_sandbox/health", timeout=2)
