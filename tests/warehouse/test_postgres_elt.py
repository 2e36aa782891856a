"""ELT as warehouse users run it: tap-enectiva's output loaded by MeltanoLabs target-postgres.

A real PostgreSQL (started here, binaries from the machine) and the real loader in a venv of
its own (its singer-sdk pin is not ours). Every stream's rows must equal what the tap emitted,
and times must arrive typed, not as text (deltas' `month` as a DATE). A re-run with
`lookback_days` after a late reading and a correction updates rows, adding only the late one.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.meltano_cli import ensure_tool
from tests.support.postgres import Postgres, require_server_binaries
from tests.support.sandbox import Sandbox, tap_config
from tests.tap.late_data import import_late_and_corrected
from tests.tap.tap_runner import TapRun, run_tap

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
LOADER = "meltanolabs-target-postgres==0.8.1"
SCHEMA = "enectiva"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = Postgres(require_server_binaries()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def target_postgres() -> Path:
    return ensure_tool(ROOT / ".venv-target-postgres", LOADER, "target-postgres")


def load(loader: Path, server: Postgres, tap: TapRun, folder: Path) -> None:
    """Pipe the tap's output into target-postgres, as ``tap | target`` would."""
    config = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": server.user,
        "password": "",
        "database": server.database,
        "default_target_schema": SCHEMA,
        "add_record_metadata": True,  # also lets it honour ACTIVATE_VERSION
    }
    path = folder / "target-postgres.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    done = subprocess.run(
        [str(loader), "--config", str(path)],
        input=tap.stdout,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def emitted_keys(tap: TapRun, stream: str) -> set[tuple[Any, ...]]:
    keys = tap.schema(stream)["key_properties"]
    return {tuple(record[k] for k in keys) for record in tap.records(stream)}


def column_types(server: Postgres, table: str) -> dict[str, str]:
    rows = server.sql(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{SCHEMA}' AND table_name = '{table}'"
    )
    return dict((name, kind) for name, kind in rows)


def row_count(server: Postgres, table: str) -> int:
    return int(server.sql(f'SELECT count(*) FROM {SCHEMA}."{table}"')[0][0])


def test_every_stream_lands_in_postgres_typed_and_complete(
    make_sandbox: Any, postgres: Postgres, target_postgres: Path, tmp_path: Path
) -> None:
    sb: Sandbox = make_sandbox(seed="demo")
    config = tap_config(
        sb,
        data_series_ids=sb.creds["data_series_ids"],
        virtual_meter_ids=sb.creds["virtual_meter_ids"],
    )
    tap = run_tap(tmp_path, config)
    assert tap.returncode == 0, tap.stderr[-2000:]
    streams = sorted({m["stream"] for m in tap.messages if m["type"] == "SCHEMA"})
    assert {"readings", "data_points", "meter_deltas", "entity_deltas"} <= set(streams)

    load(target_postgres, postgres, tap, tmp_path)

    for stream in streams:
        emitted = len(tap.records(stream))
        assert emitted == len(emitted_keys(tap, stream)), f"{stream}: a key emitted twice"
        assert row_count(postgres, stream) == emitted, stream
    assert column_types(postgres, "readings")["time"].startswith("timestamp")
    assert column_types(postgres, "data_points")["time"].startswith("timestamp")
    assert column_types(postgres, "meters")["created_at"].startswith("timestamp")

    for stream in ("meter_deltas", "entity_deltas", "virtual_meter_deltas"):
        assert column_types(postgres, stream)["month"] == "date", stream

    # A second load of the same output upserts: no row is added.
    load(target_postgres, postgres, tap, tmp_path)
    for stream in streams:
        assert row_count(postgres, stream) == len(tap.records(stream)), stream

    # A late reading and a correction behind the bookmark, then a run with a look-back from
    # the first run's state: the window's rows are updated, the late one added, none doubled.
    late = import_late_and_corrected(sb, tap.records("readings"))
    again = run_tap(tmp_path, {**config, "lookback_days": 2}, state=tap.last_state)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(again.records("readings")) > 2, "the window comes again"
    load(target_postgres, postgres, again, tmp_path)
    assert row_count(postgres, "readings") == len(tap.records("readings")) + 1
    for stream in streams:
        if stream != "readings":
            assert row_count(postgres, stream) == len(tap.records(stream)), stream
    changed = {late.late_time: late.late_state, late.corrected_time: late.corrected_state}
    for at, state in changed.items():
        rows = postgres.sql(
            f"SELECT state FROM {SCHEMA}.readings "
            f"WHERE meter_id = '{late.meter_id}' AND time = '{at}'::timestamptz"
        )
        assert [float(r[0]) for r in rows] == [state], at
