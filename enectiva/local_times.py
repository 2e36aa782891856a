"""Local wall-clock times without an offset, read in a zone (contract section 5).

Building exports write local times; twice a year such a time is not one instant:

- in the spring *gap* (clocks go forward) it denotes no instant: :class:`LocalTimeError`;
- in the autumn *fold* (clocks go back) it denotes two: the ``ambiguous_local_times`` policy
  picks one. ``infer`` takes the first occurrence unless the previous record of the same series
  (input order) is at or after it, and then the second, so an hourly export
  ``01:00, 02:00, 02:00, 03:00`` lands on four distinct instants.

Pure functions and a small per-series memory; the target's sinks drive it.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from enectiva.times import TimeFormatError

AmbiguityPolicy = Literal["infer", "earliest", "latest", "refuse"]
POLICIES: tuple[AmbiguityPolicy, ...] = ("infer", "earliest", "latest", "refuse")
DEFAULT_POLICY: AmbiguityPolicy = "infer"


class LocalTimeError(TimeFormatError):
    """A local time that names no instant, or two under ``refuse``: the reason says which.

    A :class:`~enectiva.times.TimeFormatError`, so callers that check a record's times
    (``enectiva.rules.check_input``) report it like any other unreadable time.
    """


def occurrences(naive: datetime, zone: tzinfo) -> list[datetime]:
    """The instants (UTC, in order) a wall-clock time denotes in ``zone``: none, one or two."""
    found: list[datetime] = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        # A wall time exists when it survives the round trip (gap times come back shifted).
        if instant.astimezone(zone).replace(tzinfo=None) == naive and instant not in found:
            found.append(instant)
    return sorted(found)


def _transition(naive: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """Wall-clock times just before and at the offset change next to ``naive``."""
    before = naive.replace(tzinfo=zone, fold=0).utcoffset() or timedelta(0)
    after = naive.replace(tzinfo=zone, fold=1).utcoffset() or timedelta(0)
    low = (naive - max(before, after)).replace(tzinfo=UTC)
    high = (naive - min(before, after)).replace(tzinfo=UTC)
    # The change lies between the two readings of ``naive``; find it to the second.
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
            low = middle
        else:
            high = middle
    high = high.replace(microsecond=0)  # changes happen on whole seconds
    old = low.astimezone(zone).utcoffset() or timedelta(0)
    new = high.astimezone(zone).utcoffset() or timedelta(0)
    return (high + old).replace(tzinfo=None), (high + new).replace(tzinfo=None)


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M" if moment.second == 0 else "%H:%M:%S")


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)


def gap_reason(naive: datetime, zone: tzinfo) -> str:
    """Why a time in the spring gap is refused, e.g. ``... (clocks went from 02:00 to 03:00)``."""
    start, end = _transition(naive, zone)
    return (
        f"{naive.isoformat()} does not exist in {_zone_name(zone)} "
        f"(clocks went from {_clock(start)} to {_clock(end)})"
    )


def ambiguous_reason(naive: datetime, zone: tzinfo) -> str:
    """Why ``refuse`` refuses a time of the autumn fold."""
    start, end = _transition(naive, zone)
    return (
        f"{naive.isoformat()} occurs twice in {_zone_name(zone)} (clocks went back from "
        f"{_clock(start)} to {_clock(end)}); set ambiguous_local_times to infer, earliest "
        "or latest"
    )


def resolve(
    naive: datetime,
    zone: tzinfo,
    policy: AmbiguityPolicy = DEFAULT_POLICY,
    previous: datetime | None = None,
) -> tuple[datetime, bool]:
    """The instant (UTC) of a wall-clock time, and whether ``infer`` had to choose.

    ``previous`` is the instant of the previous record of the same series (``infer`` only).
    """
    found = occurrences(naive, zone)
    if not found:
        raise LocalTimeError(gap_reason(naive, zone))
    if len(found) == 1:
        return found[0], False
    first, second = found
    if policy == "earliest":
        return first, False
    if policy == "latest":
        return second, False
    if policy == "refuse":
        raise LocalTimeError(ambiguous_reason(naive, zone))
    return (second if previous is not None and previous >= first else first), True


class SeriesClock:
    """Reads a stream's local times in one zone, remembering each series' previous instant.

    Call :meth:`read` for a record's time fields in order (the first is the record's own time:
    ``time``, or a profile's ``from``), then :meth:`keep` once the record is accepted; records
    refused as invalid are never kept, as the contract says.
    """

    def __init__(self, zone: tzinfo, policy: AmbiguityPolicy = DEFAULT_POLICY) -> None:
        self.zone = zone
        self.policy = policy
        self._previous: dict[Hashable, datetime] = {}

    def read(
        self, naive: datetime, series: Hashable, *, after: datetime | None = None
    ) -> tuple[datetime, bool]:
        """The instant of ``naive`` in this series; ``after``: an earlier field of the record."""
        previous = after if after is not None else self._previous.get(series)
        return resolve(naive, self.zone, self.policy, previous)

    def keep(self, series: Hashable, instant: datetime) -> None:
        """The record of ``series`` at ``instant`` was accepted: the next one follows it."""
        self._previous[series] = instant
