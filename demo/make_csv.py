"""Write ``demo/data/bms_export.csv``: a deterministic, realistic BMS export of meter registers.

Hourly cumulative registers of four meters of one office building over three months, written
the way building-management systems export them: local wall-clock times without an offset
(Europe/Prague), one row per meter and hour. On the night clocks go back (2026-10-25) the
hour from 02:00 happens twice, and the export writes it twice, as a real one does: two rows
per meter stamped ``02:00:00``, the first meaning 02:00 CEST, the second 02:00 CET. The target
tells them apart by the order of the rows (``ambiguous_local_times: infer``).

Run ``python demo/make_csv.py`` to regenerate; the output is committed and must not change
unless this script does.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

OUTPUT = Path(__file__).resolve().parent / "data" / "bms_export.csv"
LOCAL_ZONE = ZoneInfo("Europe/Prague")
FIRST_LOCAL = datetime(2026, 8, 1, 0, 0)
LAST_LOCAL = datetime(2026, 10, 31, 23, 0)
#: The night clocks go back inside the export: 02:00-03:00 local happens twice.
FALL_BACK = date(2026, 10, 25)
SEED = 20260801
COLUMNS = ("timestamp", "meter", "register_kwh", "unit")


@dataclass(frozen=True)
class Meter:
    """One exported register: its BMS tag, starting register value and load shape."""

    tag: str
    register_start: float
    base_kw: float
    office_kw: float
    heating_kw: float
    noise: float


METERS = (
    Meter("bms.hq.el.main", 184_230.0, 38.0, 95.0, 0.0, 0.06),
    Meter("bms.hq.el.hvac", 52_874.5, 6.0, 41.0, 0.0, 0.10),
    Meter("bms.hq.el.datacenter", 310_502.2, 24.0, 2.0, 0.0, 0.02),
    Meter("bms.hq.he.main", 9_812.0, 1.5, 3.0, 160.0, 0.08),
)


def hours() -> Iterator[datetime]:
    """Every hour of the period, in time order, as naive local time (the repeated hour twice)."""
    instant = FIRST_LOCAL.replace(tzinfo=LOCAL_ZONE).astimezone(UTC)
    last = LAST_LOCAL.replace(tzinfo=LOCAL_ZONE).astimezone(UTC)
    while instant <= last:
        yield instant.astimezone(LOCAL_ZONE).replace(tzinfo=None)
        instant += timedelta(hours=1)


def heating_need(local: datetime) -> float:
    """0 in high summer rising to ~1 by late October, colder at night."""
    days = (local - FIRST_LOCAL).total_seconds() / 86_400
    season = max(0.0, min(1.0, (days - 35) / 55))
    night = 0.25 * (1 + math.cos(2 * math.pi * (local.hour - 4) / 24))
    return season * (0.7 + night)


def office_share(local: datetime) -> float:
    """How busy the building is: weekdays 7-19 full, shoulders partial, weekends idle."""
    if local.weekday() >= 5:
        return 0.05
    if 7 <= local.hour < 19:
        return 1.0
    if local.hour in (6, 19, 20):
        return 0.4
    return 0.0


def hourly_kwh(meter: Meter, local: datetime, rng: random.Random) -> float:
    """The energy one meter consumed in the hour that starts at ``local``."""
    load = (
        meter.base_kw
        + meter.office_kw * office_share(local)
        + meter.heating_kw * heating_need(local)
    )
    return max(0.0, load * (1 + rng.gauss(0, meter.noise)))


def rows() -> Iterator[tuple[str, str, str, str]]:
    """The export's rows in time order, all meters per hour."""
    rng = random.Random(SEED)
    registers = {meter.tag: meter.register_start for meter in METERS}
    for local in hours():
        stamp = local.strftime("%Y-%m-%d %H:%M:%S")
        for meter in METERS:
            yield stamp, meter.tag, f"{registers[meter.tag]:.2f}", "kWh"
            registers[meter.tag] += hourly_kwh(meter, local, rng)


def main() -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows())
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
