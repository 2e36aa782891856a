"""Sandbox ``--seed-size`` values (``METERSxDAYSxINTERVAL``) for a number of readings."""

from __future__ import annotations

DAY = 86_400
INTERVAL = 900
PER_DAY = DAY // INTERVAL


def seed_size_for(readings: int, meters: int | None = None) -> str:
    """About ``readings`` readings (a meter holds ``days * 96 + 1``) at 15-minute steps."""
    meters = meters or max(1, min(10, readings // 10_000))
    days = max(1, round(readings / meters / PER_DAY))
    return f"{meters}x{days}x{INTERVAL}"


def readings_of(size: str) -> int:
    meters, days, interval = (int(p) for p in size.split("x"))
    return meters * (days * DAY // interval + 1)
