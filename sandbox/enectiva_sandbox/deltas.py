"""Monthly deltas: consumption per local calendar month from interpolated meter states.

A month's value is the meter state at its end minus the state at its start, each linearly
interpolated between the valid readings around that instant (contract section 3). The first
month starts at the first reading, the current month ends at the last one; months the readings
do not span have no record. Only the readings around each boundary are read (two indexed
queries per boundary), and a meter's result is cached until its readings change.

The docs' example (820 kWh at 2017-12-31 23:00, 824 at 2018-01-01 03:00, 978 at 2018-01-31
23:00, 980 at 2018-02-01 01:00 -> January = 979 - 821 = 158) reads those times as the meter's
local wall-clock times: a UTC meter with those times in UTC gives exactly 821 and 979.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo

from enectiva.times import add_months, format_local, month_start, zone
from enectiva_sandbox.store import Store

Point = tuple[int, float]  # (Unix seconds, state)
#: (local month start ``YYYY-MM-01T00:00:00``, consumption)
MonthValue = tuple[str, float]


def interpolate(before: Point | None, after: Point | None, t: int) -> float:
    """The state at ``t`` on the straight line between two readings around it."""
    if before is None and after is None:
        raise ValueError("no reading around the instant")
    if before is None or (after is not None and before[0] == t):
        return before[1] if before is not None else after[1]  # type: ignore[index]
    if after is None or after[0] == before[0]:
        return before[1]
    share = (t - before[0]) / (after[0] - before[0])
    return before[1] + (after[1] - before[1]) * share


def month_values(
    first: Point, last: Point, tz: tzinfo, state_at: Callable[[int], float]
) -> list[MonthValue]:
    """Consumption of each local month spanned by ``[first, last]``."""
    out: list[MonthValue] = []
    start = month_start(datetime.fromtimestamp(first[0], UTC).astimezone(tz).replace(tzinfo=None))
    end_local = datetime.fromtimestamp(last[0], UTC).astimezone(tz).replace(tzinfo=None)
    begin_state = first[1]
    while start <= end_local:
        following = add_months(start, 1)
        boundary = int(following.replace(tzinfo=tz).timestamp())
        if boundary >= last[0]:
            out.append((format_local(start), last[1] - begin_state))
            break
        end_state = state_at(boundary)
        out.append((format_local(start), end_state - begin_state))
        begin_state = end_state
        start = following
    return out


def points_state_at(points: list[Point]) -> Callable[[int], float]:
    """``state_at`` over an in-memory, time-sorted list of readings (tests, small data)."""
    import bisect

    times = [p[0] for p in points]

    def state_at(t: int) -> float:
        i = bisect.bisect_left(times, t)
        after = points[i] if i < len(points) else None
        if after is not None and after[0] == t:
            return after[1]
        before = points[i - 1] if i > 0 else None
        return interpolate(before, after, t)

    return state_at


class DeltaCalculator:
    """Per-meter monthly deltas from the store, cached by the meter's write counter."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[int, tuple[int, list[MonthValue]]] = {}

    def meter_months(self, meter_id: int, time_zone: str | None) -> list[MonthValue]:
        version = self.store.versions.get(meter_id, 0)
        cached = self._cache.get(meter_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        span = self.store.valid_span(meter_id)
        if span is None:
            values: list[MonthValue] = []
        else:

            def state_at(t: int) -> float:
                before, after = self.store.valid_neighbours(meter_id, t)
                return interpolate(before, after, t)

            values = month_values(span[0], span[1], zone(time_zone), state_at)
        self._cache[meter_id] = (version, values)
        return values

    def summed(self, meters: Iterable[dict | object]) -> dict[tuple[str, str, str | None], float]:
        """(month, energy, unit) -> sum of the meters' consumption."""
        totals: dict[tuple[str, str, str | None], float] = {}
        for m in meters:
            for month, value in self.meter_months(m["id"], m["time_zone"]):  # type: ignore[index]
                key = (month, m["energy"], m["unit"])  # type: ignore[index]
                totals[key] = totals.get(key, 0.0) + value
        return totals
