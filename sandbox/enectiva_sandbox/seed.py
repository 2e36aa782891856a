"""Deterministic seeds: ``demo`` (a small realistic customer), ``empty`` and ``bench``.

Every seed has a main customer and an ``other`` customer (for 403 tests). Tokens and ids
depend only on the seed name; reading times end two days before the day of seeding.
"""

from __future__ import annotations

import json
import random
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from enectiva_sandbox.security import ALL_SCOPES
from enectiva_sandbox.store import DEFAULT_UNITS, Store

SEEDS = ("demo", "empty", "bench")
DAY = 86_400
#: Scopes missing from the limited login token (for 403 tests).
LIMITED_WITHOUT = ("readings", "received_invoices")
ENTITY_BASE, METER_BASE, VIRTUAL_BASE, SERIES_BASE = 100, 1000, 5000, 7000


@dataclass(frozen=True)
class SeedSize:
    """``METERSxDAYSxINTERVAL_SECONDS``."""

    meters: int
    days: int
    interval: int

    @classmethod
    def parse(cls, text: str) -> SeedSize:
        try:
            meters, days, interval = (int(p) for p in text.lower().split("x"))
        except ValueError:
            raise ValueError(f"seed size {text!r} must look like 100x365x900") from None
        if meters < 1 or days < 1 or interval < 1:
            raise ValueError(f"seed size {text!r}: every number must be >= 1")
        return cls(meters, days, interval)

    @property
    def readings(self) -> int:
        return self.meters * (self.days * DAY // self.interval + 1)


DEFAULT_SIZES = {"demo": SeedSize(7, 400, 900), "bench": SeedSize(10, 365, 900)}


def _token(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(192):048x}"


def seed(store: Store, name: str, size: SeedSize | None = None) -> None:
    """Fill a new database."""
    if name not in SEEDS:
        raise ValueError(f"unknown seed {name!r} (use {', '.join(SEEDS)})")
    rng = random.Random(f"enectiva-sandbox/{name}")
    now = int(time.time())
    end = (now // DAY - 2) * DAY  # midnight UTC two days ago
    with store.transaction():
        store.set_meta("jwt_secret", secrets.token_hex(32))
        main = _customer(store, rng, "main", f"{name.title()} customer", now)
        other = _customer(store, rng, "other", "Other customer", now)
        store.set_meta("seed", name)
        if name == "demo":
            _demo(store, rng, main, other, end, size or DEFAULT_SIZES["demo"], now)
        elif name == "bench":
            _bench(store, main, end, size or DEFAULT_SIZES["bench"], now)


def _customer(store: Store, rng: random.Random, role: str, name: str, now: int) -> str:
    customer_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    import_token = _token(rng, "imp")
    root_id = ENTITY_BASE if role == "main" else ENTITY_BASE + 800
    store.insert(
        "INSERT INTO customers (id, name, import_token, root_entity_id) VALUES (?, ?, ?, ?)",
        (customer_id, name, import_token, root_id),
    )
    store.insert(
        "INSERT INTO entities (id, customer_id, parent_id, name, kind, time_zone, created_at, "
        "updated_at) VALUES (?, ?, NULL, ?, 'portfolio', 'Europe/Prague', ?, ?)",
        (root_id, customer_id, f"{name} portfolio", now, now),
    )
    tokens = {"login_token": (_token(rng, "login"), ALL_SCOPES)}
    if role == "main":
        limited = tuple(s for s in ALL_SCOPES if s not in LIMITED_WITHOUT)
        tokens["login_token_limited"] = (_token(rng, "login"), limited)
    for label, (token, scopes) in tokens.items():
        store.insert(
            "INSERT INTO login_tokens (token, customer_id, scopes, label) VALUES (?, ?, ?, ?)",
            (token, customer_id, json.dumps(list(scopes)), label),
        )
    store.set_meta(f"{role}_customer", customer_id)
    return customer_id


# ---------- demo ----------

#: (name, kind, parent offset, time zone) under the root entity (offset 0).
DEMO_ENTITIES = (
    ("Building A, Prague office", "building", 0, "Europe/Prague"),
    ("Building A, floor 1", "floor", 1, "Europe/Prague"),
    ("Building B, New York store", "building", 0, "America/New_York"),
    ("Data centre", "building", 0, "UTC"),
)
#: name, code, import_id, suit, energy, entity offset, time zone, interval, direction, rate/h
DEMO_METERS = (
    ("Main electricity A", "PRG-OFA-0001-EL-01", "A-EL-MAIN", "default", "EL", 1,
     "Europe/Prague", 900, "consumption", 40.0),
    ("Heat A", "PRG-OFA-0002-HE-01", "A-HE", "heat-1", "HE", 2, "Europe/Prague", 3600,
     "consumption", 0.05),
    ("Water A", "PRG-OFA-0003-WA-01", "A-WA", "default", "WA", 2, "Europe/Prague", DAY,
     "consumption", 0.08),
    ("Main electricity B", "NYC-STB-0001-EL-01", "B-EL-MAIN", "default", "EL", 3,
     "America/New_York", 3600, "consumption", 25.0),
    ("Gas B", "NYC-STB-0002-GA-01", "B-GA", "default", "GA", 3, "America/New_York", DAY,
     "consumption", 1.5),
    ("PV plant", "DCX-DCN-0001-EL-02", "DC-PV", "default", "EL", 4, "UTC", 3600,
     "production", 12.0),
    ("Old electricity meter", "DCX-DCN-0002-EL-01", "DC-EL-OLD", "default", "EL", 4, "UTC",
     DAY, "consumption", 30.0),
)  # fmt: skip


def _demo(
    store: Store, rng: random.Random, customer: str, other: str, end: int, size: SeedSize, now: int
) -> None:
    created = end - size.days * DAY
    for offset, (name, kind, parent, tz) in enumerate(DEMO_ENTITIES, start=1):
        store.insert(
            "INSERT INTO entities (id, customer_id, parent_id, name, kind, time_zone, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (ENTITY_BASE + offset, customer, ENTITY_BASE + parent, name, kind, tz, created, now),
        )
    deactivated_at = end - 120 * DAY
    for offset, spec in enumerate(DEMO_METERS):
        name, code, import_id, suit, energy, entity, tz, interval, direction, rate = spec
        interval = size.interval if interval == 900 else interval
        old = import_id == "DC-EL-OLD"
        meter_id = METER_BASE + offset
        store.insert(
            "INSERT INTO meters (id, customer_id, entity_id, name, code, import_id, suit, "
            "energy, unit, measurement, direction, time_zone, active, deactivated_at, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'readings', ?, ?, ?, ?, "
            "?, ?)",
            (meter_id, customer, ENTITY_BASE + entity, name, code, import_id, suit, energy,
             DEFAULT_UNITS[energy], direction, tz, 0 if old else 1,
             deactivated_at if old else None, created, now),
        )  # fmt: skip
        last = deactivated_at if old else end
        _readings(store, rng, meter_id, created, last, interval, rate, rng.uniform(1e3, 5e4))
    # one suspicious reading (another unit): stored, returned by latest, never listed
    store.insert(
        "INSERT INTO readings (meter_id, time, state, unit, sender, suspicious) "
        "VALUES (?, ?, ?, 'MWh', 'demo-seed', 1)",
        (METER_BASE, end - 10 * DAY + 7 * 60, 12.5),
    )
    store.insert(
        "INSERT INTO virtual_meters (id, customer_id, name) VALUES (?, ?, 'All electricity')",
        (VIRTUAL_BASE, customer),
    )
    store.bulk(
        "INSERT INTO virtual_meter_members (virtual_meter_id, meter_id) VALUES (?, ?)",
        [(VIRTUAL_BASE, METER_BASE), (VIRTUAL_BASE, METER_BASE + 3)],
    )
    series = (
        ("weather-prague", "temperature", "Outdoor temperature, Prague", "°C", 3600, 90),
        ("occupancy-a", "default", "Occupancy, building A", "persons", DAY, size.days),
    )
    for offset, (import_id, suit, name, unit, interval, days) in enumerate(series):
        series_id = SERIES_BASE + offset
        store.insert(
            "INSERT INTO data_series (id, customer_id, import_id, suit, name, unit) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (series_id, customer, import_id, suit, name, unit),
        )
        store.bulk(
            "INSERT INTO data_points (series_id, time, value, unit, sender) "
            "VALUES (?, ?, ?, ?, 'demo-seed')",
            (
                (series_id, t, round(rng.gauss(10 if unit == "°C" else 120, 6), 2), unit)
                for t in range(end - days * DAY, end + 1, interval)
            ),
        )
    other_meter = METER_BASE + 100
    store.insert(
        "INSERT INTO meters (id, customer_id, entity_id, name, code, import_id, suit, energy, "
        "unit, measurement, direction, time_zone, active, created_at, updated_at) VALUES "
        "(?, ?, ?, 'Other main meter', NULL, 'O-EL', 'default', 'EL', 'kWh', 'readings', "
        "'consumption', 'UTC', 1, ?, ?)",
        (other_meter, other, ENTITY_BASE + 800, created, now),
    )
    _readings(store, rng, other_meter, end - 30 * DAY, end, DAY, 10.0, 100.0)


def _readings(
    store: Store,
    rng: random.Random,
    meter_id: int,
    start: int,
    end: int,
    interval: int,
    rate_per_hour: float,
    state: float,
) -> None:
    """Monotonic cumulative states every ``interval`` seconds over ``[start, end]``."""

    def rows() -> Iterator[tuple[int, int, float]]:
        value = state
        per_step = rate_per_hour * interval / 3600
        for t in range(start, end + 1, interval):
            yield meter_id, t, round(value, 3)
            value += per_step * rng.uniform(0.5, 1.5)

    store.bulk("INSERT INTO readings (meter_id, time, state) VALUES (?, ?, ?)", rows())


# ---------- bench ----------


def _bench(store: Store, customer: str, end: int, size: SeedSize, now: int) -> None:
    start = end - size.days * DAY
    for i in range(size.meters):
        meter_id = METER_BASE + i
        store.insert(
            "INSERT INTO meters (id, customer_id, entity_id, name, code, import_id, suit, "
            "energy, unit, measurement, direction, time_zone, active, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, NULL, ?, 'default', 'EL', 'kWh', 'readings', 'consumption', "
            "'UTC', 1, ?, ?)",
            (meter_id, customer, ENTITY_BASE, f"Bench meter {i}", f"bench-{i:05d}", start, now),
        )
        per_step = 10.0 * size.interval / 3600
        store.bulk(
            "INSERT INTO readings (meter_id, time, state) VALUES (?, ?, ?)",
            (
                (meter_id, t, 1000.0 + k * per_step)
                for k, t in enumerate(range(start, end + 1, size.interval))
            ),
        )


# ---------- what clients need to know ----------


def credentials(store: Store, api_url: str) -> dict[str, object]:
    """The credentials file's content (tokens and ids of the seeded customers)."""
    main = store.get_meta("main_customer") or ""
    other = store.get_meta("other_customer") or ""

    def token(customer: str, label: str) -> str | None:
        row = store.one(
            "SELECT token FROM login_tokens WHERE customer_id = ? AND label = ?", (customer, label)
        )
        return None if row is None else row[0]

    def ids(sql: str) -> list[str]:
        return [str(r[0]) for r in store.all(sql, (main,))]

    def import_token(customer: str) -> str | None:
        row = store.one("SELECT import_token FROM customers WHERE id = ?", (customer,))
        return None if row is None else row[0]

    return {
        "api_url": api_url,
        "seed": store.get_meta("seed"),
        "customer_id": main,
        "import_token": import_token(main),
        "login_token": token(main, "login_token"),
        "login_token_limited": token(main, "login_token_limited"),
        "other_customer_id": other,
        "other_import_token": import_token(other),
        "other_login_token": token(other, "login_token"),
        "meter_ids": ids("SELECT id FROM meters WHERE customer_id = ? ORDER BY id"),
        "entity_ids": ids("SELECT id FROM entities WHERE customer_id = ? ORDER BY id"),
        "data_series_ids": ids("SELECT id FROM data_series WHERE customer_id = ? ORDER BY id"),
        "virtual_meter_ids": ids("SELECT id FROM virtual_meters WHERE customer_id = ? ORDER BY id"),
    }
