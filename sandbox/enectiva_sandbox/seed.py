"""Deterministic seeds: ``demo`` (a small realistic customer), ``empty`` and ``bench``.

Every seed has a main customer and an ``other`` customer (for 403 tests). Each customer has
two import tokens and two login tokens (``import_primary``, ``import_secondary``,
``login_primary``, ``login_secondary``; the main one also ``login_limited``). Tokens and ids
depend only on the seed name; reading times end two days before the day of seeding.
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from enectiva_sandbox.security import ALL_SCOPES
from enectiva_sandbox.store import DATA_FORMAT, DEFAULT_UNITS, Store

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
        store.set_meta("format", DATA_FORMAT)
        if name == "demo":
            _demo(store, rng, main, other, end, size or DEFAULT_SIZES["demo"], now)
        elif name == "bench":
            _bench(store, main, end, size or DEFAULT_SIZES["bench"], now)


def _customer(store: Store, rng: random.Random, role: str, name: str, now: int) -> str:
    customer_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    import_token = _token(rng, "imp")
    root_id = ENTITY_BASE if role == "main" else ENTITY_BASE + 800
    store.add_customer(customer_id, name, root_id)
    store.add_entity(
        root_id, customer_id, None, f"{name} portfolio", "portfolio", "Europe/Prague", now, now
    )
    store.add_token(customer_id, "import", "import_primary", import_token)
    store.add_token(customer_id, "login", "login_primary", _token(rng, "login"), ALL_SCOPES)
    if role == "main":
        limited = tuple(s for s in ALL_SCOPES if s not in LIMITED_WITHOUT)
        store.add_token(customer_id, "login", "login_limited", _token(rng, "login"), limited)
    # the second token of each kind from a generator of its own: the first ones stay as they were
    second = random.Random(f"{customer_id}/secondary")
    store.add_token(customer_id, "import", "import_secondary", _token(second, "imp"))
    store.add_token(customer_id, "login", "login_secondary", _token(second, "login"), ALL_SCOPES)
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
        store.add_entity(
            ENTITY_BASE + offset, customer, ENTITY_BASE + parent, name, kind, tz, created, now
        )
    deactivated_at = end - 120 * DAY
    for offset, spec in enumerate(DEMO_METERS):
        name, code, import_id, suit, energy, entity, tz, interval, direction, rate = spec
        interval = size.interval if interval == 900 else interval
        old = import_id == "DC-EL-OLD"
        meter_id = METER_BASE + offset
        store.add_meter(
            id=meter_id, customer_id=customer, entity_id=ENTITY_BASE + entity, name=name,
            code=code, import_id=import_id, suit=suit, energy=energy,
            unit=DEFAULT_UNITS[energy], measurement="readings", direction=direction,
            time_zone=tz, active=0 if old else 1,
            deactivated_at=deactivated_at if old else None, created_at=created, updated_at=now,
        )  # fmt: skip
        last = deactivated_at if old else end
        _readings(store, rng, meter_id, created, last, interval, rate, rng.uniform(1e3, 5e4))
    # one suspicious reading (another unit): stored, returned by latest, never listed
    store.add_readings(METER_BASE, [(end - 10 * DAY + 7 * 60, 12.5, "MWh", "demo-seed", 1)])
    store.add_virtual_meter(VIRTUAL_BASE, customer, "All electricity", [METER_BASE, METER_BASE + 3])
    series = (
        ("weather-prague", "temperature", "Outdoor temperature, Prague", "°C", 3600, 90),
        ("occupancy-a", "default", "Occupancy, building A", "persons", DAY, size.days),
    )
    for offset, (import_id, suit, name, unit, interval, days) in enumerate(series):
        series_id = SERIES_BASE + offset
        store.add_data_series(customer, import_id, suit, name, unit, series_id)
        store.add_data_points(
            series_id,
            (
                (t, round(rng.gauss(10 if unit == "°C" else 120, 6), 2), unit, "demo-seed")
                for t in range(end - days * DAY, end + 1, interval)
            ),
        )
    other_meter = METER_BASE + 100
    store.add_meter(
        id=other_meter, customer_id=other, entity_id=ENTITY_BASE + 800, name="Other main meter",
        code=None, import_id="O-EL", suit="default", energy="EL", unit="kWh",
        measurement="readings", direction="consumption", time_zone="UTC", active=1,
        created_at=created, updated_at=now,
    )  # fmt: skip
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

    def rows() -> Iterator[tuple[int, float, None, None, int]]:
        value = state
        per_step = rate_per_hour * interval / 3600
        for t in range(start, end + 1, interval):
            yield t, round(value, 3), None, None, 0
            value += per_step * rng.uniform(0.5, 1.5)

    store.add_readings(meter_id, rows())


# ---------- bench ----------


def _bench(store: Store, customer: str, end: int, size: SeedSize, now: int) -> None:
    start = end - size.days * DAY
    for i in range(size.meters):
        meter_id = METER_BASE + i
        store.add_meter(
            id=meter_id, customer_id=customer, entity_id=ENTITY_BASE, name=f"Bench meter {i}",
            code=None, import_id=f"bench-{i:05d}", suit="default", energy="EL", unit="kWh",
            measurement="readings", direction="consumption", time_zone="UTC", active=1,
            created_at=start, updated_at=now,
        )  # fmt: skip
        per_step = 10.0 * size.interval / 3600
        store.add_readings(
            meter_id,
            (
                (t, 1000.0 + k * per_step, None, None, 0)
                for k, t in enumerate(range(start, end + 1, size.interval))
            ),
        )


# ---------- what clients need to know ----------


#: Credentials-file keys of the tokens and the token names they hold (``other_`` + key for
#: the other customer). The primary tokens keep the keys they always had.
TOKEN_KEYS = (
    ("import_token", "import_primary"),
    ("import_token_secondary", "import_secondary"),
    ("login_token", "login_primary"),
    ("login_token_secondary", "login_secondary"),
    ("login_token_limited", "login_limited"),
)


def credentials(store: Store, api_url: str) -> dict[str, object]:
    """The credentials file's content (tokens and ids of the seeded customers).

    ``tokens`` / ``other_tokens`` map every token name of a customer to the token.
    """
    main = store.get_meta("main_customer") or ""
    other = store.get_meta("other_customer") or ""

    def named(customer: str) -> dict[str, str]:
        found = [c for c in store.credentials().values() if c.customer_id == customer]
        return {c.name: c.token for c in sorted(found, key=lambda c: c.name)}

    tokens, other_tokens = named(main), named(other)
    info: dict[str, object] = {
        "api_url": api_url,
        "seed": store.get_meta("seed"),
        "customer_id": main,
        "other_customer_id": other,
    }
    for key, name in TOKEN_KEYS:
        info[key] = tokens.get(name)
        if name in other_tokens:
            info[f"other_{key}"] = other_tokens[name]
    info["tokens"] = tokens
    info["other_tokens"] = other_tokens
    for key, table in (
        ("meter_ids", "meters"),
        ("entity_ids", "entities"),
        ("data_series_ids", "data_series"),
        ("virtual_meter_ids", "virtual_meters"),
    ):
        info[key] = store.ids(table, main)
    return info
