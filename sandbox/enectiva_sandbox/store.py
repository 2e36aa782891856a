"""SQLite storage of the sandbox: customers, tokens, entities, meters and their records.

Times are stored as integer Unix seconds (UTC), invoice dates as ``YYYY-MM-DD`` text. The
connection lives in the server's event-loop thread; WAL and ``synchronous=OFF`` keep a write
cheap (no fsync per request; a crashed process still keeps what it wrote).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEMORY = ":memory:"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, name TEXT, import_token TEXT UNIQUE NOT NULL, root_entity_id INTEGER);
CREATE TABLE IF NOT EXISTS login_tokens (
    token TEXT PRIMARY KEY, customer_id TEXT NOT NULL, scopes TEXT NOT NULL, label TEXT);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, parent_id INTEGER, name TEXT, kind TEXT,
    time_zone TEXT, created_at INTEGER, updated_at INTEGER);
CREATE INDEX IF NOT EXISTS entities_by_parent ON entities(parent_id);
CREATE TABLE IF NOT EXISTS meters (
    id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, entity_id INTEGER, name TEXT, code TEXT,
    import_id TEXT NOT NULL, suit TEXT NOT NULL, energy TEXT, unit TEXT, measurement TEXT,
    direction TEXT, time_zone TEXT, active INTEGER NOT NULL DEFAULT 1, deactivated_at INTEGER,
    created_at INTEGER, updated_at INTEGER, UNIQUE (customer_id, import_id, suit));
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY, meter_id INTEGER NOT NULL, time INTEGER NOT NULL, state REAL NOT NULL,
    unit TEXT, sender TEXT, suspicious INTEGER NOT NULL DEFAULT 0, UNIQUE (meter_id, time));
CREATE TABLE IF NOT EXISTS data_series (
    id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, import_id TEXT NOT NULL,
    suit TEXT NOT NULL, name TEXT, unit TEXT, UNIQUE (customer_id, import_id, suit));
CREATE TABLE IF NOT EXISTS data_points (
    id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL, time INTEGER NOT NULL,
    value REAL NOT NULL, unit TEXT, sender TEXT, suspicious INTEGER NOT NULL DEFAULT 0,
    UNIQUE (series_id, time));
CREATE TABLE IF NOT EXISTS profiles (
    id INTEGER PRIMARY KEY, meter_id INTEGER NOT NULL, from_t INTEGER NOT NULL,
    to_t INTEGER NOT NULL, value REAL NOT NULL, unit TEXT, sender TEXT);
CREATE INDEX IF NOT EXISTS profiles_by_meter ON profiles(meter_id, from_t);
CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY, meter_id INTEGER NOT NULL, from_d TEXT NOT NULL, to_d TEXT NOT NULL,
    cost REAL, consumption REAL, note TEXT);
CREATE INDEX IF NOT EXISTS invoices_by_meter ON invoices(meter_id, from_d);
CREATE TABLE IF NOT EXISTS virtual_meters (
    id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, name TEXT);
CREATE TABLE IF NOT EXISTS virtual_meter_members (
    virtual_meter_id INTEGER NOT NULL, meter_id INTEGER NOT NULL,
    PRIMARY KEY (virtual_meter_id, meter_id));
"""

METER_COLUMNS = (
    "id, customer_id, entity_id, name, code, import_id, suit, energy, unit, measurement, "
    "direction, time_zone, active, deactivated_at, created_at, updated_at"
)
ENTITY_COLUMNS = "id, customer_id, parent_id, name, kind, time_zone, created_at, updated_at"

#: Default unit of each energy [ours]: seeded meters use it, created meters fall back to it.
DEFAULT_UNITS = {"EL": "kWh", "HE": "GJ", "WA": "m3", "GA": "m3", "CO": "kWh"}


class Store:
    """One SQLite database; ``new`` tells whether it was just created (then seed it)."""

    def __init__(self, path: str | Path) -> None:
        path = str(path)
        self.path = path
        self.new = path == MEMORY or not Path(path).exists() or Path(path).stat().st_size == 0
        self.db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=512
        )
        self.db.row_factory = sqlite3.Row
        if path != MEMORY:
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA temp_store=MEMORY")
        self.db.execute("PRAGMA cache_size=-65536")
        self.db.executescript(SCHEMA)
        if self.get_meta("seed") is None:
            self.new = True
        #: per-meter write counters: the delta cache compares them (never stale after a write)
        self.versions: dict[int, int] = {}
        # Caches of the reading-import hot path, filled from the database on first use (so
        # they hold after a restart); meters are never changed once created.
        self._series_meters: dict[tuple[str, str, str], sqlite3.Row] = {}
        self._tails: dict[int, ReadingTail] = {}

    # ---------- plumbing ----------

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file (after seeding, at exit)."""
        if self.path != MEMORY:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            self.db.close()

    def transaction(self) -> sqlite3.Connection:
        """``with store.transaction():`` groups statements in one BEGIN/COMMIT (or joins one)."""
        return _Transaction(self)  # type: ignore[return-value]

    def forget_cached(self) -> None:
        """Drop the hot-path caches (after a rollback: they may hold what was undone)."""
        self._series_meters.clear()
        self._tails.clear()

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self.db.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.db.execute(sql, params).lastrowid or 0)

    def touch(self, meter_id: int) -> None:
        """Note a change of a meter's readings (invalidates its cached deltas and tail)."""
        self.versions[meter_id] = self.versions.get(meter_id, 0) + 1
        self._tails.pop(meter_id, None)

    # ---------- meta and credentials ----------

    def get_meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else row[0]

    def set_meta(self, key: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, text))

    def meta_json(self, key: str, default: Any = None) -> Any:
        value = self.get_meta(key)
        return default if value is None else json.loads(value)

    def customer(self, customer_id: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM customers WHERE id = ?", (customer_id,))

    def customers_by_import_token(self) -> dict[str, str]:
        return {r["import_token"]: r["id"] for r in self.all("SELECT * FROM customers")}

    def login_tokens(self) -> dict[str, tuple[str, tuple[str, ...], str]]:
        """token -> (customer id, scopes, label)."""
        return {
            r["token"]: (r["customer_id"], tuple(json.loads(r["scopes"])), r["label"])
            for r in self.all("SELECT * FROM login_tokens")
        }

    # ---------- entities and meters ----------

    def entity(self, customer_id: str, entity_id: int) -> sqlite3.Row | None:
        return self.one(
            f"SELECT {ENTITY_COLUMNS} FROM entities WHERE id = ? AND customer_id = ?",
            (entity_id, customer_id),
        )

    def entities(self, customer_id: str, limit: int, offset: int) -> list[sqlite3.Row]:
        return self.all(
            f"SELECT {ENTITY_COLUMNS} FROM entities WHERE customer_id = ? ORDER BY id "
            "LIMIT ? OFFSET ?",
            (customer_id, limit, offset),
        )

    def entity_tree_meters(self, entity_id: int) -> list[sqlite3.Row]:
        """Meters of an entity and all its descendants (deactivated ones included)."""
        return self.all(
            "WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT e.id FROM entities e "
            f"JOIN tree ON e.parent_id = tree.id) SELECT {METER_COLUMNS} FROM meters "
            "WHERE entity_id IN (SELECT id FROM tree) ORDER BY id",
            (entity_id,),
        )

    def meter(self, customer_id: str, meter_id: int) -> sqlite3.Row | None:
        return self.one(
            f"SELECT {METER_COLUMNS} FROM meters WHERE id = ? AND customer_id = ?",
            (meter_id, customer_id),
        )

    def meters(
        self, customer_id: str, include_deactivated: bool, limit: int, offset: int
    ) -> list[sqlite3.Row]:
        where = "" if include_deactivated else " AND active = 1"
        return self.all(
            f"SELECT {METER_COLUMNS} FROM meters WHERE customer_id = ?{where} ORDER BY id "
            "LIMIT ? OFFSET ?",
            (customer_id, limit, offset),
        )

    def series_meter(self, customer_id: str, import_id: str, suit: str) -> sqlite3.Row | None:
        key = (customer_id, import_id, suit)
        row = self._series_meters.get(key)
        if row is None:
            row = self.one(
                f"SELECT {METER_COLUMNS} FROM meters WHERE customer_id = ? AND import_id = ? "
                "AND suit = ?",
                key,
            )
            if row is not None:
                self._series_meters[key] = row
        return row

    def create_series_meter(
        self, customer_id: str, import_id: str, suit: str, unit: str | None, measurement: str
    ) -> sqlite3.Row:
        """The meter of a new series: EL, UTC, under the root entity (contract section 5)."""
        root = self.one("SELECT root_entity_id FROM customers WHERE id = ?", (customer_id,))
        now = int(time.time())
        self.insert(
            "INSERT INTO meters (customer_id, entity_id, name, code, import_id, suit, energy, "
            "unit, measurement, direction, time_zone, active, created_at, updated_at) "
            "VALUES (?, ?, ?, NULL, ?, ?, 'EL', ?, ?, 'consumption', 'UTC', 1, ?, ?)",
            (
                customer_id,
                root[0] if root else None,
                f"{import_id} ({suit})",
                import_id,
                suit,
                unit or DEFAULT_UNITS["EL"],
                measurement,
                now,
                now,
            ),
        )
        row = self.series_meter(customer_id, import_id, suit)
        assert row is not None
        return row

    def virtual_meter(self, customer_id: str, vm_id: int) -> sqlite3.Row | None:
        return self.one(
            "SELECT id, name FROM virtual_meters WHERE id = ? AND customer_id = ?",
            (vm_id, customer_id),
        )

    def virtual_meter_members(self, vm_id: int) -> list[sqlite3.Row]:
        return self.all(
            f"SELECT {METER_COLUMNS} FROM meters WHERE id IN (SELECT meter_id FROM "
            "virtual_meter_members WHERE virtual_meter_id = ?) ORDER BY id",
            (vm_id,),
        )

    # ---------- readings ----------

    def reading_tail(self, meter_id: int) -> ReadingTail:
        """The time of a meter's latest reading and its latest valid state (cached)."""
        tail = self._tails.get(meter_id)
        if tail is None:
            last = self.one("SELECT MAX(time) FROM readings WHERE meter_id = ?", (meter_id,))
            tail = ReadingTail(last[0] if last else None, self.previous_valid_state(meter_id))
            self._tails[meter_id] = tail
        return tail

    def append_reading(
        self,
        meter_id: int,
        t: int,
        state: float,
        unit: str | None,
        sender: str | None,
        suspicious: int,
    ) -> int:
        """Insert a reading later than every stored one of its meter; returns its id.

        One statement (atomic on its own), and the meter's tail moves on instead of being
        read again.
        """
        tail = self.reading_tail(meter_id)
        if tail.last_time is not None and t <= tail.last_time:
            raise ValueError(f"reading at {t} is not after the latest of meter {meter_id}")
        reading_id = self.insert(
            "INSERT INTO readings (meter_id, time, state, unit, sender, suspicious) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (meter_id, t, state, unit, sender, suspicious),
        )
        self.versions[meter_id] = self.versions.get(meter_id, 0) + 1
        tail.last_time = t
        if not suspicious:
            tail.last_valid_state = state
        return reading_id

    def reading_at(self, meter_id: int, t: int) -> sqlite3.Row | None:
        return self.one(
            "SELECT id, time, state, unit, sender, suspicious FROM readings "
            "WHERE meter_id = ? AND time = ?",
            (meter_id, t),
        )

    def previous_valid_state(self, meter_id: int, t: int | None = None) -> float | None:
        """The state of the latest valid reading before ``t`` (None: of all)."""
        if t is None:
            row = self.one(
                "SELECT state FROM readings WHERE meter_id = ? AND suspicious = 0 "
                "ORDER BY time DESC LIMIT 1",
                (meter_id,),
            )
        else:
            row = self.one(
                "SELECT state FROM readings WHERE meter_id = ? AND time < ? AND suspicious = 0 "
                "ORDER BY time DESC LIMIT 1",
                (meter_id, t),
            )
        return None if row is None else row[0]

    def latest_reading(self, meter_id: int) -> sqlite3.Row | None:
        return self.one(
            "SELECT id, time, state, unit, sender, suspicious FROM readings WHERE meter_id = ? "
            "ORDER BY time DESC LIMIT 1",
            (meter_id,),
        )

    def valid_neighbours(self, meter_id: int, t: int) -> tuple[tuple[int, float] | None, ...]:
        """The valid readings at-or-before and at-or-after ``t`` (for interpolation)."""
        before = self.one(
            "SELECT time, state FROM readings WHERE meter_id = ? AND time <= ? AND suspicious = 0 "
            "ORDER BY time DESC LIMIT 1",
            (meter_id, t),
        )
        after = self.one(
            "SELECT time, state FROM readings WHERE meter_id = ? AND time >= ? AND suspicious = 0 "
            "ORDER BY time LIMIT 1",
            (meter_id, t),
        )
        return (tuple(before) if before else None, tuple(after) if after else None)

    def valid_span(self, meter_id: int) -> tuple[tuple[int, float], tuple[int, float]] | None:
        """The first and last valid readings (time, state) of a meter."""
        first = self.one(
            "SELECT time, state FROM readings WHERE meter_id = ? AND suspicious = 0 "
            "ORDER BY time LIMIT 1",
            (meter_id,),
        )
        if first is None:
            return None
        last = self.one(
            "SELECT time, state FROM readings WHERE meter_id = ? AND suspicious = 0 "
            "ORDER BY time DESC LIMIT 1",
            (meter_id,),
        )
        assert last is not None
        return (first[0], first[1]), (last[0], last[1])

    # ---------- bulk ----------

    def bulk(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)


@dataclass
class ReadingTail:
    """The end of a meter's readings: the latest time, and the latest valid state."""

    last_time: int | None
    last_valid_state: float | None


class _Transaction:
    """BEGIN/COMMIT, or ROLLBACK on an exception; inside an open transaction it joins that one."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.outer = store.db.in_transaction

    def __enter__(self) -> sqlite3.Connection:
        if not self.outer:
            self.store.db.execute("BEGIN")
        return self.store.db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self.outer:
            return
        if exc_type:
            self.store.db.execute("ROLLBACK")
            self.store.forget_cached()
        else:
            self.store.db.execute("COMMIT")
