"""Local times at DST changes (contract section 5): gaps refused, folds resolved per policy."""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enectiva.local_times import LocalTimeError, SeriesClock, occurrences, resolve

PRAGUE = ZoneInfo("Europe/Prague")
ZONES = ["Europe/Prague", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_contracts_gap_example() -> None:
    with pytest.raises(LocalTimeError) as err:
        resolve(datetime(2024, 3, 31, 2, 30), PRAGUE)
    assert str(err.value) == (
        "2024-03-31T02:30:00 does not exist in Europe/Prague (clocks went from 02:00 to 03:00)"
    )


def test_a_thirty_minute_gap_is_named_as_such() -> None:
    # Lord Howe Island moves its clocks by 30 minutes (first Sunday of October, at 02:00).
    with pytest.raises(LocalTimeError, match=r"clocks went from 02:00 to 02:30"):
        resolve(datetime(2024, 10, 6, 2, 15), ZoneInfo("Australia/Lord_Howe"))


def test_ordinary_times_have_one_instant() -> None:
    assert occurrences(datetime(2024, 7, 1, 12, 0), PRAGUE) == [utc("2024-07-01T10:00:00")]
    assert resolve(datetime(2024, 1, 1, 0, 0), PRAGUE) == (utc("2023-12-31T23:00:00"), False)


@pytest.mark.parametrize(
    ("policy", "previous", "expected", "inferred"),
    [
        ("earliest", None, "2024-10-27T00:30:00", False),
        ("latest", None, "2024-10-27T01:30:00", False),
        ("infer", None, "2024-10-27T00:30:00", True),
        ("infer", "2024-10-27T00:15:00", "2024-10-27T00:30:00", True),
        ("infer", "2024-10-27T00:30:00", "2024-10-27T01:30:00", True),
        ("infer", "2024-10-27T01:00:00", "2024-10-27T01:30:00", True),
    ],
)
def test_a_repeated_time_follows_the_policy(
    policy: str, previous: str | None, expected: str, inferred: bool
) -> None:
    before = utc(previous) if previous else None
    got = resolve(datetime(2024, 10, 27, 2, 30), PRAGUE, policy, before)  # type: ignore[arg-type]
    assert got == (utc(expected), inferred)


def test_refuse_names_the_fold_and_the_setting() -> None:
    with pytest.raises(LocalTimeError) as err:
        resolve(datetime(2024, 10, 27, 2, 30), PRAGUE, "refuse")
    assert "occurs twice in Europe/Prague (clocks went back from 03:00 to 02:00)" in str(err.value)
    assert "ambiguous_local_times" in str(err.value)


def test_an_hourly_export_lands_on_distinct_instants() -> None:
    clock = SeriesClock(PRAGUE)
    landed = []
    for hour in (1, 2, 2, 3):
        instant, _ = clock.read(datetime(2024, 10, 27, hour), "A")
        clock.keep("A", instant)
        landed.append(instant)
    assert landed == [
        utc("2024-10-26T23:00:00"),
        utc("2024-10-27T00:00:00"),
        utc("2024-10-27T01:00:00"),
        utc("2024-10-27T02:00:00"),
    ]


def test_series_are_inferred_apart_and_refused_records_are_not_kept() -> None:
    clock = SeriesClock(PRAGUE)
    first, _ = clock.read(datetime(2024, 10, 27, 2), "A")
    clock.keep("A", first)
    # another series has seen nothing yet: its 02:00 is the first occurrence too
    assert clock.read(datetime(2024, 10, 27, 2), "B")[0] == first
    # a record that was read but refused is never kept: A's next 02:00 is the second one
    assert clock.read(datetime(2024, 10, 27, 2), "A")[0] == first + timedelta(hours=1)


def test_a_later_field_of_one_record_follows_its_earlier_field() -> None:
    # a profile [02:00 first, 02:00 second): `to` is read after `from`
    clock = SeriesClock(PRAGUE)
    start, _ = clock.read(datetime(2024, 10, 27, 2), "P")
    end, _ = clock.read(datetime(2024, 10, 27, 2), "P", after=start)
    assert end - start == timedelta(hours=1)


@functools.cache
def transitions(zone_name: str, year: int) -> list[datetime]:
    """The instants (to the hour) at which the zone's offset changes in a year."""
    zone = ZoneInfo(zone_name)
    hours = [datetime(year, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(366 * 24)]
    return [
        b
        for a, b in itertools.pairwise(hours)
        if a.astimezone(zone).utcoffset() != b.astimezone(zone).utcoffset()
    ]


@settings(deadline=None, max_examples=300)
@given(
    zone_name=st.sampled_from(ZONES),
    year=st.integers(min_value=2020, max_value=2030),
    which=st.integers(min_value=0, max_value=1),
    lead=st.floats(min_value=0, max_value=1),
    step_minutes=st.sampled_from([1, 5, 15, 30, 60, 90, 120, 180]),
    steps=st.lists(st.integers(min_value=1, max_value=4), min_size=2, max_size=300),
)
def test_infer_keeps_a_chronological_export_distinct_and_in_order(
    zone_name: str,
    year: int,
    which: int,
    lead: float,
    step_minutes: int,
    steps: list[int],
) -> None:
    """Wall-clock times of increasing instants that cross a DST change (an export never holds
    a gap time) land on distinct instants in input order, never after the true ones; with
    steps shorter than the fold, on the true ones."""
    zone = ZoneInfo(zone_name)
    change = transitions(zone_name, year)[which]  # spring or autumn, as the zone has them
    span = timedelta(minutes=step_minutes * sum(steps))
    instant = change - span * lead  # the series crosses the change
    clock = SeriesClock(zone)
    landed: list[datetime] = []
    truth: list[datetime] = []
    for n in steps:
        instant += timedelta(minutes=step_minutes * n)
        wall = instant.astimezone(zone).replace(tzinfo=None)
        got, _ = clock.read(wall, "series")
        clock.keep("series", got)
        landed.append(got)
        truth.append(instant)
    assert all(a < b for a, b in itertools.pairwise(landed))
    assert all(got <= true for got, true in zip(landed, truth, strict=True))
    if step_minutes * max(steps) < 30 and landed[0] == truth[0]:
        # steps shorter than every fold of these zones, and a start infer cannot know
        # better (a series starting inside the fold's second hour reads as the first)
        assert landed == truth


@settings(deadline=None, max_examples=200)
@given(
    zone_name=st.sampled_from(ZONES),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
)
def test_every_existing_wall_time_resolves_to_one_of_its_instants(
    zone_name: str, moment: datetime
) -> None:
    zone = ZoneInfo(zone_name)
    naive = moment.replace(microsecond=0)
    found = occurrences(naive, zone)
    if not found:
        with pytest.raises(LocalTimeError, match="does not exist"):
            resolve(naive, zone)
        return
    for policy in ("infer", "earliest", "latest"):
        instant, _ = resolve(naive, zone, policy)  # type: ignore[arg-type]
        assert instant in found
        assert instant.astimezone(zone).replace(tzinfo=None) == naive
