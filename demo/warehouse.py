"""Read the demo's DuckDB warehouse (written by target-duckdb, one table per tap stream)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from pathlib import Path

import duckdb

SCHEMA = "enectiva"  # target-duckdb's default_target_schema in meltano.yml
BATCHED_AT = "_sdc_batched_at"  # set by target-duckdb on every row it writes (add_metadata_columns)
MONTHS_SHOWN = 3


@dataclass
class MeterSummary:
    """One meter's line of the report."""

    meter_id: str
    name: str
    import_id: str
    readings: int
    last_reading: str | None
    months: list[tuple[str, float]] = field(default_factory=list)  # latest months, oldest first
    unit: str = ""

    @property
    def consumption(self) -> float:
        return sum(value for _, value in self.months)


@dataclass
class NightReadings:
    """One meter's readings around a night when clocks went back, as the warehouse holds them."""

    import_id: str
    instants: list[datetime]  # UTC, in time order

    def walls(self, zone: tzinfo) -> list[str]:
        """The local wall-clock times (``HH:MM``) the instants show in ``zone``."""
        return [i.astimezone(zone).strftime("%H:%M") for i in self.instants]


@contextlib.contextmanager
def connect(path: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection, or None while the warehouse does not exist yet."""
    if not path.exists():
        yield None
        return
    connection = duckdb.connect(str(path), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def tables(connection: duckdb.DuckDBPyConnection) -> list[str]:
    rows = connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
        [SCHEMA],
    ).fetchall()
    return [name for (name,) in rows]


def _table(name: str) -> str:
    return f'"{SCHEMA}"."{name}"'


def row_counts(path: Path) -> dict[str, int]:
    """Rows per table."""
    with connect(path) as connection:
        if connection is None:
            return {}
        return {
            name: _scalar(connection, f"SELECT count(*) FROM {_table(name)}")
            for name in tables(connection)
        }


def batch_marks(path: Path) -> dict[str, datetime | None]:
    """The latest ``_sdc_batched_at`` per table: rows written after it belong to a later run."""
    with connect(path) as connection:
        if connection is None:
            return {}
        return {
            name: connection.execute(f"SELECT max({BATCHED_AT}) FROM {_table(name)}").fetchone()[0]
            for name in tables(connection)
        }


def rows_written_since(path: Path, marks: dict[str, datetime | None]) -> dict[str, int]:
    """Rows per table written (inserted or updated) after ``marks`` (all rows of new tables)."""
    with connect(path) as connection:
        if connection is None:
            return {}
        written = {}
        for name in tables(connection):
            mark = marks.get(name)
            if mark is None:
                sql, params = f"SELECT count(*) FROM {_table(name)}", []
            else:
                sql = f"SELECT count(*) FROM {_table(name)} WHERE {BATCHED_AT} > ?"
                params = [mark]
            written[name] = _scalar(connection, sql, params)
        return written


def meter_summaries(path: Path) -> list[MeterSummary]:
    """Per meter: readings count, last reading, and the latest months of ``meter_deltas``."""
    with connect(path) as connection:
        if connection is None:
            return []
        present = set(tables(connection))
        if "meters" not in present:
            return []
        meters = connection.execute(
            f"SELECT CAST(id AS VARCHAR), name, import_id FROM {_table('meters')} ORDER BY name"
        ).fetchall()
        readings: dict[str, tuple[int, str | None]] = {}
        if "readings" in present:
            for meter_id, count, last in connection.execute(
                f"SELECT CAST(meter_id AS VARCHAR), count(*), CAST(max(time) AS VARCHAR) "
                f"FROM {_table('readings')} GROUP BY 1"
            ).fetchall():
                readings[meter_id] = (count, last)
        months: dict[str, list[tuple[str, float, str]]] = {}
        if "meter_deltas" in present:
            for meter_id, month, value, unit in connection.execute(
                f"""
                SELECT meter_id, month, value, unit FROM (
                    SELECT CAST(meter_id AS VARCHAR) AS meter_id,
                           left(CAST(time AS VARCHAR), 7) AS month,
                           CAST(value AS DOUBLE) AS value, unit,
                           row_number() OVER (PARTITION BY meter_id ORDER BY time DESC) AS rank
                    FROM {_table("meter_deltas")}
                ) WHERE rank <= ? ORDER BY meter_id, month
                """,
                [MONTHS_SHOWN],
            ).fetchall():
                months.setdefault(meter_id, []).append((month, value or 0.0, unit or ""))
        summaries = []
        for meter_id, name, import_id in meters:
            count, last = readings.get(meter_id, (0, None))
            latest = months.get(meter_id, [])
            summaries.append(
                MeterSummary(
                    meter_id=meter_id,
                    name=name or "",
                    import_id=import_id or "",
                    readings=count,
                    last_reading=last,
                    months=[(month, value) for month, value, _ in latest],
                    unit=latest[-1][2] if latest else "",
                )
            )
        return summaries


def readings_around_fall_back(
    path: Path, import_ids: list[str], zone: tzinfo, night: date
) -> list[NightReadings]:
    """Per meter (``import_ids``), its readings from 01:00 to 03:00 local on ``night``.

    Those wall times span the repeated hour: an hourly meter shows 01:00, 02:00, 02:00, 03:00,
    on four distinct instants when the repeated hour landed apart.
    """
    first = datetime.combine(night, time(1), tzinfo=zone).astimezone(UTC)
    last = datetime.combine(night, time(3), tzinfo=zone).astimezone(UTC)
    with connect(path) as connection:
        if connection is None or "readings" not in tables(connection):
            return []
        # Times are read as text and parsed here: the loader may store them with or without
        # a zone; a time without one is UTC (the tap emits UTC).
        rows = connection.execute(
            f"SELECT import_id, CAST(time AS VARCHAR) FROM {_table('readings')} "
            f"WHERE import_id IN (SELECT unnest(?))",
            [import_ids],
        ).fetchall()
    found: dict[str, list[datetime]] = {name: [] for name in import_ids}
    for import_id, text in rows:
        instant = datetime.fromisoformat(text)
        instant = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant
        if first <= instant <= last:
            found[import_id].append(instant.astimezone(UTC))
    return [NightReadings(name, sorted(found[name])) for name in import_ids if found[name]]


def monthly_consumption(path: Path) -> dict[str, list[tuple[str, float, str]]]:
    """Every meter's monthly consumption (``meter_deltas``): name -> [(YYYY-MM, value, unit)]."""
    with connect(path) as connection:
        if connection is None or not {"meters", "meter_deltas"} <= set(tables(connection)):
            return {}
        rows = connection.execute(
            f"""
            SELECT coalesce(m.name, CAST(d.meter_id AS VARCHAR)), left(CAST(d.time AS VARCHAR), 7),
                   CAST(d.value AS DOUBLE), coalesce(d.unit, '')
            FROM {_table("meter_deltas")} AS d
            LEFT JOIN {_table("meters")} AS m ON CAST(m.id AS VARCHAR) = CAST(d.meter_id AS VARCHAR)
            ORDER BY 1, 2
            """
        ).fetchall()
    series: dict[str, list[tuple[str, float, str]]] = {}
    for name, month, value, unit in rows:
        series.setdefault(name, []).append((month, value or 0.0, unit))
    return series


def _scalar(
    connection: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> int:
    row = connection.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0
