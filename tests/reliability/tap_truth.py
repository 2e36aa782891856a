"""What the tap must emit, from the sandbox's own store."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.support.sandbox import Sandbox


def reading_key(r: dict[str, Any]) -> tuple:
    return (r["meter_id"], r["time"], r["state"])


def point_key(r: dict[str, Any]) -> tuple:
    return (r["data_series_id"], r["time"], r["value"])


def true_readings(sb: Sandbox, meter_ids: set[str], start: str) -> set[tuple]:
    """Listed readings (not suspicious) of these meters from ``start`` on."""
    return {
        reading_key(r)
        for r in sb.records("readings")
        if r["meter_id"] in meter_ids and not r["suspicious"] and r["time"] >= start
    }


def true_points(sb: Sandbox, series_ids: set[str], start: str) -> set[tuple]:
    return {
        point_key(p)
        for p in sb.records("data_points")
        if p["data_series_id"] in series_ids and not p["suspicious"] and p["time"] >= start
    }


def missing_and_doubled(emitted: list[tuple], truth: set[tuple]) -> tuple[int, int, int]:
    """(missing, emitted more than once, emitted but not in the truth)."""
    counts = Counter(emitted)
    missing = len(truth - set(counts))
    doubled = sum(1 for n in counts.values() if n > 1)
    extra = len(set(counts) - truth)
    return missing, doubled, extra
