"""Singer inputs for the target, the truth they imply, and what the sandbox holds of them."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.sandbox import Sandbox

BASE = datetime(2024, 1, 1, tzinfo=UTC)
#: Which key identifies a stored record of each kind (besides its series).
KEY_FIELDS = {
    "readings": ("import_id", "suit", "time"),
    "data_points": ("import_id", "suit", "time"),
    "profiles": ("import_id", "suit", "from", "to"),
    "invoices": ("meter_id", "from", "to"),
}
VALUE_FIELD = {"readings": "state", "data_points": "value", "profiles": "value", "invoices": "cost"}


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def schema_message(stream: str) -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": {}},
        "key_properties": [],
    }


@dataclass
class Workload:
    """An ordered list of Singer messages; STATE values are ``{"pos": records before it}``."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "RECORD"]

    def lines(self) -> str:
        return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in self.messages)

    def after(self, pos: int) -> Workload:
        """What a tap replays from a STATE covering the first ``pos`` records."""
        out, seen = [], 0
        streams = [m for m in self.messages if m["type"] == "SCHEMA"]
        for m in self.messages:
            if m["type"] == "RECORD":
                seen += 1
                if seen > pos:
                    out.append(m)
            elif m["type"] == "STATE" and seen >= pos and m["value"]["pos"] > pos:
                out.append(m)
        return Workload(streams + out)

    @property
    def last_state(self) -> dict[str, Any]:
        return next(m["value"] for m in reversed(self.messages) if m["type"] == "STATE")


def build_workload(
    prefix: str,
    *,
    seed: int,
    readings: int = 600,
    series: int = 12,
    data_points: int = 0,
    profiles: int = 0,
    invoice_meters: list[str] | None = None,
    invoices_per_meter: int = 0,
    invoice_year: int = 2010,
    corrections: int = 0,
    state_every: int = 50,
) -> Workload:
    """Readings over ``series`` series (odd ids: unicode, some with a suit), corrections
    (same key, new state) later in the input, data points, profiles and invoices,
    shuffled across streams but in order within each series."""
    rng = random.Random(seed)
    per_series: list[list[dict[str, Any]]] = []
    for s in range(series):
        import_id = f"{prefix}-r{s}" if s % 2 == 0 else f"{prefix}-měřič {s}".replace(" ", "_")
        suit = None if s % 3 else f"suit-{s}"
        rows = []
        for n in range(readings // series):
            rec = {
                "time": stamp(BASE + timedelta(minutes=15 * n)),
                "state": round(1000.0 * s + n * 1.5 + rng.random(), 3),
                "import_id": import_id,
            }
            if suit:
                rec["suit"] = suit
            rows.append({"type": "RECORD", "stream": "readings", "record": rec})
        for _ in range(corrections if s == 0 else 0):
            fixed = dict(rng.choice(rows)["record"])
            fixed["state"] = round(fixed["state"] + 0.25 + rng.random(), 3)
            rows.append({"type": "RECORD", "stream": "readings", "record": fixed})
        per_series.append(rows)
    if data_points:
        per_series.append(
            [
                {
                    "type": "RECORD",
                    "stream": "data_points",
                    "record": {
                        "time": stamp(BASE + timedelta(hours=n)),
                        "value": round(rng.uniform(-50, 50), 3),
                        "import_id": f"{prefix}-dp",
                        "unit": "°C",
                    },
                }
                for n in range(data_points)
            ]
        )
    if profiles:
        per_series.append(
            [
                {
                    "type": "RECORD",
                    "stream": "profiles",
                    "record": {
                        "from": stamp(BASE + timedelta(minutes=15 * n)),
                        "to": stamp(BASE + timedelta(minutes=15 * (n + 1))),
                        "value": float(n),
                        "import_id": f"{prefix}-p",
                    },
                }
                for n in range(profiles)
            ]
        )
    for m, meter_id in enumerate(invoice_meters or []):
        rows = []
        for n in range(invoices_per_meter):
            start = datetime(invoice_year + n // 12, n % 12 + 1, 1)
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            rows.append(
                {
                    "type": "RECORD",
                    "stream": "invoices",
                    "record": {
                        "meter_id": meter_id,
                        "from": start.strftime("%Y-%m-%d"),
                        "to": end.strftime("%Y-%m-%d"),
                        "cost": round(100 + m + n * 0.5 + rng.random(), 2),
                        "note": f"{prefix} n{n}",
                    },
                }
            )
        per_series.append(rows)
    # interleave series at random, keeping each series' order
    cursors = [0] * len(per_series)
    streams = sorted({rows[0]["stream"] for rows in per_series if rows})
    messages: list[dict[str, Any]] = [schema_message(s) for s in streams]
    count = 0
    while True:
        open_series = [i for i, rows in enumerate(per_series) if cursors[i] < len(rows)]
        if not open_series:
            break
        i = rng.choice(open_series)
        messages.append(per_series[i][cursors[i]])
        cursors[i] += 1
        count += 1
        if count % state_every == 0:
            messages.append({"type": "STATE", "value": {"pos": count}})
    if count % state_every:
        messages.append({"type": "STATE", "value": {"pos": count}})
    return Workload(messages)


def record_key(kind: str, rec: dict[str, Any]) -> tuple[Any, ...]:
    values = []
    for name in KEY_FIELDS[kind]:
        value = rec.get(name)
        if name == "suit" and value is None:
            value = "default"
        values.append(value)
    return tuple(values)


def expected(workload: Workload | list[dict[str, Any]], kind: str) -> dict[tuple, Any]:
    """Key -> the value that must be stored (the last one sent wins: corrections)."""
    messages = workload.records if isinstance(workload, Workload) else workload
    return {
        record_key(kind, m["record"]): m["record"][VALUE_FIELD[kind]]
        for m in messages
        if m["type"] == "RECORD" and m["stream"] == kind
    }


@dataclass
class Comparison:
    """Stored vs. expected records of one kind."""

    checked: int
    lost: list[tuple]  # expected but not stored
    wrong: list[tuple]  # stored with another value
    duplicated: list[tuple]  # stored more than once
    unexpected: list[tuple]  # stored, never sent

    @property
    def ok(self) -> bool:
        return not (self.lost or self.wrong or self.duplicated or self.unexpected)

    def describe(self) -> str:
        return (
            f"lost {self.lost[:5]}, wrong {self.wrong[:5]}, "
            f"duplicated {self.duplicated[:5]}, unexpected {self.unexpected[:5]}"
        )


def compare(sb: Sandbox, kind: str, want: dict[tuple, Any], owned: Any) -> Comparison:
    """What the sandbox holds of the records ``owned(record)`` says belong to this run."""
    stored = [r for r in sb.records(kind) if owned(r)]
    counts = Counter(record_key(kind, r) for r in stored)
    values = {record_key(kind, r): r[VALUE_FIELD[kind]] for r in stored}
    return Comparison(
        checked=len(want),
        lost=sorted(k for k in want if k not in values),
        wrong=sorted(k for k in want if k in values and values[k] != want[k]),
        duplicated=sorted(k for k, n in counts.items() if n > 1),
        unexpected=sorted(k for k in values if k not in want),
    )


def owned_by(prefix: str, kind: str) -> Any:
    if kind == "invoices":
        return lambda r: str(r.get("note") or "").startswith(prefix)
    return lambda r: str(r.get("import_id") or "").startswith(prefix)
