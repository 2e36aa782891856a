"""SQLite storage of the sandbox: customers, tokens, entities, meters and their records.

Every record is written through a ``Store`` method, and each such method keeps the caches it
affects right (credentials, series meters, reading tails, the per-meter write counters the
delta cache compares): no caller has to remember a cache. The queries live here too, so one
file holds the SQL.

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
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, name TEXT, root_entity_id INTEGER);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, customer_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    scopes TEXT NOT NULL, not_before INTEGER, not_after INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0, UNIQUE (customer_id, name));
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
READING_COLUMNS = "id, time, state, unit, sender, suspicious"
DATA_POINT_COLUMNS = "id, time, value, unit, sender, suspicious"
PROFILE_COLUMNS = "id, from_t, to_t, value, unit, sender"

#: Default unit of each energy [ours]: seeded meters use it, created meters fall back to it.
DEFAULT_UNITS = {"EL": "kWh", "HE": "GJ", "WA": "m3", "GA": "m3", "CO": "kWh"}

#: Per record kind of the admin API: every stored record of a customer, with ids and owners.
RECORD_QUERIES = {
    "readings": "SELECT r.id, r.meter_id, m.import_id, m.suit, r.time, r.state, r.unit, "
    "r.sender, r.suspicious FROM readings r JOIN meters m ON m.id = r.meter_id "
    "WHERE m.customer_id = ? ORDER BY r.meter_id, r.time",
    "data_points": "SELECT p.id, p.series_id, s.import_id, s.suit, p.time, p.value, p.unit, "
    "p.sender, p.suspicious FROM data_points p JOIN data_series s ON s.id = p.series_id "
    "WHERE s.customer_id = ? ORDER BY p.series_id, p.time",
    "profiles": "SELECT p.id, p.meter_id, m.import_id, m.suit, p.from_t, p.to_t, p.value, "
    "p.unit, p.sender FROM profiles p JOIN meters m ON m.id = p.meter_id "
    "WHERE m.customer_id = ? ORDER BY p.meter_id, p.from_t",
    "invoices": "SELECT i.id, i.meter_id, i.from_d, i.to_d, i.cost, i.consumption, i.note "
    "FROM invoices i JOIN meters m ON m.id = i.meter_id WHERE m.customer_id = ? "
    "ORDER BY i.meter_id, i.from_d",
}


@dataclass(frozen=True)
class TimeWindow:
    """A list request's time condition, ordering and page (from its parsed query)."""

    lower: int | None
    lower_inclusive: bool
    upper: int | None
    descending: bool
    limit: int
    offset: int

    def sql(self) -> tuple[str, list[Any]]:
        """SQL conditions on ``time``, ordering and paging, with their arguments."""
        sql, args = "", []
        if self.lower is not None:
            sql += " AND time >= ?" if self.lower_inclusive else " AND time > ?"
            args.append(self.lower)
        if self.upper is not None:
            sql += " AND time < ?"
            args.append(self.upper)
        sql += " ORDER BY time DESC" if self.descending else " ORDER BY time"
        return sql + " LIMIT ? OFFSET ?", [*args, self.limit, self.offset]


@dataclass(frozen=True)
class Credential:
    """An import or login token of a customer, valid in ``[not_before, not_after)``."""

    token: str
    customer_id: str
    kind: str  # "import" or "login"
    name: str  # e.g. import_primary, login_secondary
    scopes: tuple[str, ...]
    not_before: int | None
    not_after: int | None
    revoked: bool

    def valid_at(self, now: float) -> bool:
        if self.revoked:
            return False
        if self.not_before is not None and now < self.not_before:
            return False
        return self.not_after is None or now < self.not_after


#: The layout of the data file; a file of another format is refused (never misread).
#: 2: one ``tokens`` table with two tokens of each kind and validity windows.
DATA_FORMAT = "2"


class OutdatedDataError(RuntimeError):
    """A data file written by an earlier sandbox version."""


def data_format(path: str | Path) -> str | None:
    """The format of an existing, seeded data file (``"1"`` before formats were recorded)."""
    if str(path) == MEMORY or not Path(path).exists() or Path(path).stat().st_size == 0:
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('seed', 'format')"))
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()
    if "seed" not in rows:
        return None
    return str(rows.get("format", "1"))


class Store:
    """One SQLite database; ``new`` tells whether it was just created (then seed it)."""

    def __init__(self, path: str | Path) -> None:
        path = str(path)
        found = data_format(path)
        if found is not None and found != DATA_FORMAT:
            raise OutdatedDataError(
                f"{path} was written by an earlier enectiva-sandbox (data format {found}, this "
                f"version reads {DATA_FORMAT}): delete it, and the sandbox seeds a new one"
            )
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
        self._credentials: dict[str, Credential] | None = None

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

    def transaction(self) -> _Transaction:
        """``with store.transaction():`` groups statements in one BEGIN/COMMIT (or joins one)."""
        return _Transaction(self)

    def forget_cached(self) -> None:
        """Drop every cache (after a rollback: they may hold what was undone)."""
        self._series_meters.clear()
        self._tails.clear()
        self._credentials = None

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a read-only query."""
        row: sqlite3.Row | None = self.db.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Every row of a read-only query."""
        return self.db.execute(sql, params).fetchall()

    def _insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.db.execute(sql, params).lastrowid or 0)

    def _insert_row(self, table: str, columns: dict[str, Any]) -> int:
        """A new row of ``table`` from its columns; returns its id."""
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        return self._insert(f"INSERT INTO {table} ({names}) VALUES ({marks})", [*columns.values()])

    def _put(
        self, table: str, existing_id: int | None, key: dict[str, Any], values: dict[str, Any]
    ) -> int:
        """Insert a row (``key`` and ``values`` columns), or set ``values`` on the stored one
        ``existing_id``; its id."""
        if existing_id is None:
            return self._insert_row(table, {**key, **values})
        assignments = ", ".join(f"{name} = ?" for name in values)
        self.db.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?", [*values.values(), existing_id]
        )
        return existing_id

    def _deleted(self, sql: str, params: Sequence[Any]) -> bool:
        """Run a DELETE; whether it removed any row."""
        return self.db.execute(sql, params).rowcount > 0

    def _changed(self, meter_id: int) -> None:
        """A meter's readings changed: invalidate its cached deltas and tail."""
        self.versions[meter_id] = self.versions.get(meter_id, 0) + 1
        self._tails.pop(meter_id, None)

    # ---------- meta ----------

    def get_meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, text))

    def meta_json(self, key: str, default: Any = None) -> Any:
        value = self.get_meta(key)
        return default if value is None else json.loads(value)

    # ---------- customers and their tokens ----------

    def add_customer(self, customer_id: str, name: str, root_entity_id: int) -> None:
        self.db.execute(
            "INSERT INTO customers (id, name, root_entity_id) VALUES (?, ?, ?)",
            (customer_id, name, root_entity_id),
        )

    def customer(self, customer_id: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM customers WHERE id = ?", (customer_id,))

    def customer_ids(self) -> set[str]:
        return {r[0] for r in self.all("SELECT id FROM customers")}

    def add_token(
        self, customer_id: str, kind: str, name: str, token: str, scopes: Sequence[str] = ()
    ) -> None:
        """A new import or login token, valid from now on until changed."""
        self.db.execute(
            "INSERT INTO tokens (token, customer_id, kind, name, scopes) VALUES (?, ?, ?, ?, ?)",
            (token, customer_id, kind, name, json.dumps(list(scopes))),
        )
        self._credentials = None

    def credentials(self) -> dict[str, Credential]:
        """token -> its credential, every kind (cached until a token changes)."""
        if self._credentials is None:
            self._credentials = {
                r["token"]: Credential(
                    r["token"],
                    r["customer_id"],
                    r["kind"],
                    r["name"],
                    tuple(json.loads(r["scopes"])),
                    r["not_before"],
                    r["not_after"],
                    bool(r["revoked"]),
                )
                for r in self.all("SELECT * FROM tokens")
            }
        return self._credentials

    def credential_named(self, customer_id: str, name: str) -> Credential | None:
        for credential in self.credentials().values():
            if credential.customer_id == customer_id and credential.name == name:
                return credential
        return None

    def set_token_window(
        self, customer_id: str, name: str, not_before: int | None, not_after: int | None
    ) -> bool:
        """Change a token's validity window; False when the customer has no such token."""
        cursor = self.db.execute(
            "UPDATE tokens SET not_before = ?, not_after = ? WHERE customer_id = ? AND name = ?",
            (not_before, not_after, customer_id, name),
        )
        self._credentials = None
        return cursor.rowcount > 0

    def revoke_token(self, customer_id: str, name: str) -> bool:
        """Revoke a token for good; False when the customer has no such token."""
        cursor = self.db.execute(
            "UPDATE tokens SET revoked = 1 WHERE customer_id = ? AND name = ?", (customer_id, name)
        )
        self._credentials = None
        return cursor.rowcount > 0

    # ---------- entities and meters ----------

    def add_entity(
        self,
        entity_id: int,
        customer_id: str,
        parent_id: int | None,
        name: str,
        kind: str,
        time_zone: str,
        created_at: int,
        updated_at: int,
    ) -> None:
        self.db.execute(
            f"INSERT INTO entities ({ENTITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (entity_id, customer_id, parent_id, name, kind, time_zone, created_at, updated_at),
        )

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

    def add_meter(self, **columns: Any) -> int:
        """A new meter from its columns (``METER_COLUMNS`` names); returns its id."""
        return self._insert_row("meters", columns)

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
        self.add_meter(
            customer_id=customer_id,
            entity_id=root[0] if root else None,
            name=f"{import_id} ({suit})",
            code=None,
            import_id=import_id,
            suit=suit,
            energy="EL",
            unit=unit or DEFAULT_UNITS["EL"],
            measurement=measurement,
            direction="consumption",
            time_zone="UTC",
            active=1,
            created_at=now,
            updated_at=now,
        )
        row = self.series_meter(customer_id, import_id, suit)
        assert row is not None
        return row

    def add_virtual_meter(
        self, vm_id: int, customer_id: str, name: str, member_ids: Iterable[int]
    ) -> None:
        self.db.execute(
            "INSERT INTO virtual_meters (id, customer_id, name) VALUES (?, ?, ?)",
            (vm_id, customer_id, name),
        )
        self.db.executemany(
            "INSERT INTO virtual_meter_members (virtual_meter_id, meter_id) VALUES (?, ?)",
            [(vm_id, m) for m in member_ids],
        )

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

    def ids(self, table: str, customer_id: str) -> list[str]:
        """The ids of a customer's meters, entities, data_series or virtual_meters, in order."""
        if table not in ("meters", "entities", "data_series", "virtual_meters"):
            raise ValueError(f"no customer-owned table {table!r}")
        rows = self.all(f"SELECT id FROM {table} WHERE customer_id = ? ORDER BY id", (customer_id,))
        return [str(r[0]) for r in rows]

    # ---------- readings ----------

    def add_readings(
        self, meter_id: int, rows: Iterable[tuple[int, float, str | None, str | None, int]]
    ) -> None:
        """Bulk insert of (time, state, unit, sender, suspicious) rows (seeding)."""
        self.db.executemany(
            "INSERT INTO readings (meter_id, time, state, unit, sender, suspicious) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ((meter_id, *row) for row in rows),
        )
        self._changed(meter_id)

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
        reading_id = self._put(
            "readings",
            None,
            {"meter_id": meter_id, "time": t},
            _reading(state, unit, sender, suspicious),
        )
        self.versions[meter_id] = self.versions.get(meter_id, 0) + 1
        tail.last_time = t
        if not suspicious:
            tail.last_valid_state = state
        return reading_id

    def put_reading(
        self,
        meter_id: int,
        t: int,
        state: float,
        unit: str | None,
        sender: str | None,
        suspicious: int,
        existing_id: int | None,
    ) -> int:
        """Insert a reading at any time, or correct the stored one ``existing_id``; its id."""
        reading_id = self._put(
            "readings",
            existing_id,
            {"meter_id": meter_id, "time": t},
            _reading(state, unit, sender, suspicious),
        )
        self._changed(meter_id)
        return reading_id

    def delete_reading(self, customer_id: str, reading_id: int) -> bool:
        """Delete a reading of one of the customer's meters; False when there is none."""
        row = self.one(
            "SELECT r.meter_id FROM readings r JOIN meters m ON m.id = r.meter_id "
            "WHERE r.id = ? AND m.customer_id = ?",
            (reading_id, customer_id),
        )
        if row is None:
            return False
        self.db.execute("DELETE FROM readings WHERE id = ?", (reading_id,))
        self._changed(row[0])
        return True

    def delete_reading_at(self, meter_id: int, t: int) -> bool:
        if not self._deleted("DELETE FROM readings WHERE meter_id = ? AND time = ?", (meter_id, t)):
            return False
        self._changed(meter_id)
        return True

    def reading_at(self, meter_id: int, t: int) -> sqlite3.Row | None:
        return self.one(
            f"SELECT {READING_COLUMNS} FROM readings WHERE meter_id = ? AND time = ?",
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
        return None if row is None else float(row[0])

    def latest_reading(self, meter_id: int) -> sqlite3.Row | None:
        return self.one(
            f"SELECT {READING_COLUMNS} FROM readings WHERE meter_id = ? ORDER BY time DESC LIMIT 1",
            (meter_id,),
        )

    def valid_readings(self, meter_id: int, window: TimeWindow) -> list[sqlite3.Row]:
        """(id, time, state) of a meter's valid readings in a window."""
        where, args = window.sql()
        return self.all(
            "SELECT id, time, state FROM readings WHERE meter_id = ? AND suspicious = 0" + where,
            [meter_id, *args],
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
        return (
            (before[0], before[1]) if before else None,
            (after[0], after[1]) if after else None,
        )

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

    # ---------- data series and data points ----------

    def add_data_series(
        self,
        customer_id: str,
        import_id: str,
        suit: str,
        name: str,
        unit: str | None,
        series_id: int | None = None,
    ) -> int:
        return self._insert(
            "INSERT INTO data_series (id, customer_id, import_id, suit, name, unit) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (series_id, customer_id, import_id, suit, name, unit),
        )

    def data_series(self, customer_id: str, import_id: str, suit: str) -> sqlite3.Row | None:
        return self.one(
            "SELECT id, import_id, suit, unit FROM data_series WHERE customer_id = ? "
            "AND import_id = ? AND suit = ?",
            (customer_id, import_id, suit),
        )

    def data_series_by_id(self, customer_id: str, series_id: int) -> sqlite3.Row | None:
        return self.one(
            "SELECT id, import_id, suit, unit FROM data_series WHERE id = ? AND customer_id = ?",
            (series_id, customer_id),
        )

    def add_data_points(
        self, series_id: int, rows: Iterable[tuple[int, float, str | None, str | None]]
    ) -> None:
        """Bulk insert of (time, value, unit, sender) rows (seeding)."""
        self.db.executemany(
            "INSERT INTO data_points (series_id, time, value, unit, sender) VALUES (?, ?, ?, ?, ?)",
            ((series_id, *row) for row in rows),
        )

    def data_point_at(self, series_id: int, t: int) -> sqlite3.Row | None:
        return self.one(
            f"SELECT {DATA_POINT_COLUMNS} FROM data_points WHERE series_id = ? AND time = ?",
            (series_id, t),
        )

    def put_data_point(
        self,
        series_id: int,
        t: int,
        value: float,
        unit: str | None,
        sender: str | None,
        suspicious: int,
        existing_id: int | None,
    ) -> int:
        """Insert a data point, or correct the stored one ``existing_id``; its id."""
        return self._put(
            "data_points",
            existing_id,
            {"series_id": series_id, "time": t},
            {"value": value, "unit": unit, "sender": sender, "suspicious": suspicious},
        )

    def latest_data_point(self, series_id: int) -> sqlite3.Row | None:
        return self.one(
            f"SELECT {DATA_POINT_COLUMNS} FROM data_points WHERE series_id = ? "
            "ORDER BY time DESC LIMIT 1",
            (series_id,),
        )

    def valid_data_points(self, series_id: int, window: TimeWindow) -> list[sqlite3.Row]:
        """(id, time, value, unit) of a series' valid data points in a window."""
        where, args = window.sql()
        return self.all(
            "SELECT id, time, value, unit FROM data_points WHERE series_id = ? AND suspicious = 0"
            + where,
            [series_id, *args],
        )

    def delete_data_point(self, customer_id: str, point_id: int) -> bool:
        return self._deleted(
            "DELETE FROM data_points WHERE id = ? AND series_id IN "
            "(SELECT id FROM data_series WHERE customer_id = ?)",
            (point_id, customer_id),
        )

    def delete_data_point_at(self, series_id: int, t: int) -> bool:
        return self._deleted(
            "DELETE FROM data_points WHERE series_id = ? AND time = ?", (series_id, t)
        )

    # ---------- profiles ----------

    def overlapping_profiles(self, meter_id: int, start: int, end: int) -> list[sqlite3.Row]:
        return self.all(
            "SELECT id, from_t, to_t FROM profiles WHERE meter_id = ? AND from_t < ? AND to_t > ?",
            (meter_id, end, start),
        )

    def put_profile(
        self,
        meter_id: int,
        start: int,
        end: int,
        value: float,
        unit: str | None,
        sender: str | None,
        existing_id: int | None,
    ) -> int:
        """Insert a profile, or replace the value of the stored one ``existing_id``; its id."""
        return self._put(
            "profiles",
            existing_id,
            {"meter_id": meter_id, "from_t": start, "to_t": end},
            {"value": value, "unit": unit, "sender": sender},
        )

    def latest_profile(self, meter_id: int) -> sqlite3.Row | None:
        return self.one(
            f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE meter_id = ? "
            "ORDER BY from_t DESC LIMIT 1",
            (meter_id,),
        )

    def delete_profile(self, customer_id: str, profile_id: int) -> bool:
        return self._deleted(
            "DELETE FROM profiles WHERE id = ? AND meter_id IN "
            "(SELECT id FROM meters WHERE customer_id = ?)",
            (profile_id, customer_id),
        )

    def delete_profile_range(self, meter_id: int, start: int, end: int) -> bool:
        return self._deleted(
            "DELETE FROM profiles WHERE meter_id = ? AND from_t = ? AND to_t = ?",
            (meter_id, start, end),
        )

    # ---------- invoices ----------

    def overlapping_invoices(self, meter_id: int, start: str, end: str) -> list[sqlite3.Row]:
        return self.all(
            "SELECT id, from_d, to_d, cost, consumption, note FROM invoices "
            "WHERE meter_id = ? AND from_d <= ? AND to_d >= ?",
            (meter_id, end, start),
        )

    def add_invoice(
        self,
        meter_id: int,
        start: str,
        end: str,
        cost: float | None,
        consumption: float | None,
        note: str | None,
    ) -> int:
        return self._insert(
            "INSERT INTO invoices (meter_id, from_d, to_d, cost, consumption, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (meter_id, start, end, cost, consumption, note),
        )

    # ---------- every record of a kind (admin API) ----------

    def records(self, kind: str, customer_id: str) -> list[sqlite3.Row]:
        """Every stored record of a kind (``RECORD_QUERIES``) for a customer."""
        return self.all(RECORD_QUERIES[kind], (customer_id,))


@dataclass
class ReadingTail:
    """The end of a meter's readings: the latest time, and the latest valid state."""

    last_time: int | None
    last_valid_state: float | None


def _reading(state: float, unit: str | None, sender: str | None, suspicious: int) -> dict[str, Any]:
    """A reading's columns that a correction may change."""
    return {"state": state, "unit": unit, "sender": sender, "suspicious": suspicious}


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
