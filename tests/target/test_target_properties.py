"""Property tests of the target's own record conversion (``RecordPreparation.job_for``).

- a time without offset read in ``input_time_zone`` is sent with that zone's offset, on the
  same wall clock, and means the same instant (an ambiguous one, with no previous record of
  its series: the first occurrence); one in a DST gap is refused, naming the gap and zone;
- ``suit`` absent or null is the ``default`` series, for creates and deletes;
- any record built from the target's own record schemas (plus values off the schema) either
  becomes a request whose body the contract accepts, or is refused with a named rule
  (:class:`InvalidRecordError`): never another exception.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from target_enectiva import DEFAULT_SENDER, schemas
from target_enectiva.invalid import InvalidRecordError
from target_enectiva.kinds import KINDS
from target_enectiva.plan import Job
from target_enectiva.sinks import RecordPreparation

from enectiva import contract, rules
from enectiva.times import parse_timestamp

CUSTOMER = "11111111-2222-4333-8444-555555555555"
API = "http://api.test"
ZONES = (
    "UTC",
    "Europe/Prague",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Africa/Casablanca",
)
SERIES_KINDS = ("readings", "data_points", "profiles")
PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plan_for(kind: str, tz_name: str | None = None) -> RecordPreparation:
    return RecordPreparation(
        KINDS[kind],
        kind,
        api_url=API,
        customer_id=CUSTOMER,
        sender=DEFAULT_SENDER,
        default_tz=ZoneInfo(tz_name) if tz_name else None,
        want_order=False,
    )


def attributes_of(job: Job) -> dict[str, Any]:
    assert job.body is not None
    return json.loads(job.body)["data"]["attributes"]


# ---------- naive times + input_time_zone ----------


def offset_changes(tz_name: str, years: range) -> list[datetime]:
    """The UTC instants (to the minute) at which a zone's offset changes."""
    zone = ZoneInfo(tz_name)
    found = []
    day = datetime(years.start, 1, 1, tzinfo=UTC)
    while day.year < years.stop:
        after = day + timedelta(days=1)
        if day.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            low, high = day, after
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                same = middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            found.append(high)
        day = after
    return found


def near_a_change(tz_name: str) -> st.SearchStrategy[tuple[str, datetime]]:
    """Wall-clock times within two hours of a DST change: the gaps and the repeated hours.

    Counted on the wall clock from the last minute before the change, so a time that is
    skipped (spring) or repeated (autumn) comes up as often as any other.
    """
    zone = ZoneInfo(tz_name)
    last_walls = [
        (change - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
        for change in offset_changes(tz_name, range(2015, 2020))
    ]
    return st.builds(
        lambda wall, minutes: (tz_name, wall + timedelta(minutes=minutes)),
        st.sampled_from(last_walls),
        st.integers(-120, 120),
    )


LOCAL_TIMES = st.one_of(
    st.tuples(
        st.sampled_from(ZONES),
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2020, 12, 31)),
    ),
    *(near_a_change(z) for z in ZONES if offset_changes(z, range(2015, 2020))),
)


@PROPERTIES
@given(zoned=LOCAL_TIMES, kind=st.sampled_from(("readings", "data_points")))
@example(zoned=("Europe/Prague", datetime(2023, 10, 29, 2, 30)), kind="readings")  # twice
@example(zoned=("Europe/Prague", datetime(2023, 3, 26, 2, 30)), kind="readings")  # never
@example(zoned=("Australia/Lord_Howe", datetime(2023, 4, 2, 1, 45)), kind="data_points")
def test_a_naive_time_is_sent_with_the_zones_offset_and_means_the_same_instant(
    zoned: tuple[str, datetime], kind: str
) -> None:
    tz_name, local = zoned
    wall = local.replace(microsecond=0).isoformat()
    value_field = "state" if kind == "readings" else "value"
    zone = ZoneInfo(tz_name)
    naive = datetime.fromisoformat(wall)
    occurrences = sorted(
        moment
        for fold in (0, 1)
        if (moment := naive.replace(tzinfo=zone, fold=fold).astimezone(UTC))
        .astimezone(zone)
        .replace(tzinfo=None)
        == naive
    )
    prepare = plan_for(kind, tz_name)
    record = {"time": wall, value_field: 1.0, "import_id": "m"}
    if not occurrences:  # in a DST gap: an invalid record whose reason names gap and zone
        with pytest.raises(InvalidRecordError) as refused:
            prepare.job_for(record)
        assert refused.value.reason.startswith(
            f"time {wall} does not exist in {tz_name} (clocks went from "
        )
        return
    job = prepare.job_for(record)
    sent = attributes_of(job)["time"]
    instant = parse_timestamp(sent)  # raises when the offset is missing
    assert sent[:19] == wall  # same wall clock, offset appended
    # a real local time: the first occurrence when it is ambiguous (no previous record)
    assert instant == occurrences[0]
    # the sent text round-trips: read again (any zone setting), same instant, same body
    assert parse_timestamp(sent, ZoneInfo("Asia/Tokyo")) == instant
    again = plan_for(kind).job_for({"time": sent, value_field: 1.0, "import_id": "m"})
    assert again.body == job.body


# ---------- suit ----------

SUITS = st.one_of(
    st.just(...),  # absent
    st.none(),
    st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=12),
)


def series_record(kind: str, suit: Any, *, delete: bool) -> dict[str, Any]:
    record: dict[str, Any] = {"import_id": "boiler-1"}
    if kind == "profiles":
        record.update({"from": "2024-01-01T00:00:00Z", "to": "2024-01-01T00:15:00Z", "value": 1})
    else:
        value_field = "state" if kind == "readings" else "value"
        record.update({"time": "2024-01-01T00:00:00Z", value_field: 1})
    if suit is not ...:
        record["suit"] = suit
    if delete:
        record["_sdc_deleted_at"] = "2024-02-01T00:00:00Z"
    return record


@PROPERTIES
@given(kind=st.sampled_from(SERIES_KINDS), suit=SUITS, delete=st.booleans())
def test_a_null_or_absent_suit_is_the_default_series(kind: str, suit: Any, delete: bool) -> None:
    job = plan_for(kind).job_for(series_record(kind, suit, delete=delete))
    expected = "default" if suit in (..., None) else suit
    assert job.lane == (kind, "boiler-1", expected)
    if delete:
        assert job.method == "DELETE"
        path = urlsplit(job.url).path
        assert path.endswith("/boiler-1/default") == (expected == "default")
    else:
        assert attributes_of(job).get("suit") == (None if expected == "default" else suit)
        assert rules.suit_of(attributes_of(job)) == expected


# ---------- anything the record schemas describe (and a bit beyond) ----------

PAST_MOMENTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2020, 1, 1))
TIMESTAMPS = st.one_of(
    PAST_MOMENTS.map(lambda d: d.isoformat() + "Z"),
    st.builds(
        lambda d, zone: d.replace(tzinfo=zone).isoformat(),
        PAST_MOMENTS,
        st.sampled_from([ZoneInfo(z) for z in ZONES]),
    ),
)
BAD_TIMESTAMPS = st.one_of(
    PAST_MOMENTS.map(datetime.isoformat),  # no offset
    st.just((datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.sampled_from(["", "yesterday", "2024-02-30T00:00:00Z", "2024-01-01 00:00:00z"]),
)
DATES = st.dates(min_value=date(1990, 1, 1), max_value=date(2020, 1, 1)).map(date.isoformat)
BAD_DATES = st.sampled_from(["", "2024-02-30", "2024-1-1", "2999-01-01", "2024-01-01T00:00:00Z"])
NUMBERS = st.one_of(
    st.floats(min_value=0, max_value=1e12),
    st.integers(min_value=0, max_value=10**12),
    st.decimals(min_value=0, max_value=10**9, places=4),
)
BAD_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.just(Decimal("1e400")),
    st.text(max_size=3),
)
JSON_ANYTHING = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=5,
)
NO_SPACE = st.characters(categories=("L", "N", "P", "S"))
BLANK = st.sampled_from(["", " ", "a b", "\t"])


def _types(schema: dict[str, Any]) -> list[str]:
    if "anyOf" in schema:
        return [t for branch in schema["anyOf"] for t in _types(branch)]
    types = schema.get("type", [])
    return [types] if isinstance(types, str) else list(types)


def _string_schema(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf", [schema])
    return next((b for b in branches if "string" in _types(b)), schema)


def valid_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value a property schema (the keywords the generated record schemas use) accepts."""
    types = _types(schema)
    if "number" in types or "integer" in types:
        return NUMBERS
    text = _string_schema(schema)
    if text.get("format") == "date-time":
        return TIMESTAMPS
    if text.get("format") == "date":
        return DATES
    alphabet = NO_SPACE if "pattern" in text else st.characters(codec="utf-8")
    value = st.text(alphabet, min_size=1, max_size=min(text.get("maxLength", 300), 20))
    return value | st.none() if "null" in types else value


def invalid_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of the property's type that breaks one of its rules."""
    types = _types(schema)
    if "number" in types or "integer" in types:
        return BAD_NUMBERS
    text = _string_schema(schema)
    if text.get("format") == "date-time":
        return BAD_TIMESTAMPS
    if text.get("format") == "date":
        return BAD_DATES
    size = text.get("maxLength")
    alphabet = NO_SPACE if "pattern" in text else st.characters(codec="utf-8")
    too_long = st.text(alphabet, min_size=size + 1, max_size=size + 1) if size else st.nothing()
    return too_long | BLANK | st.integers()


def _consistent(kind: str, record: dict[str, Any]) -> None:
    """Order ranges (profiles: from < to; invoices: from <= to) and give invoices a cost."""
    if kind == "profiles" and {"from", "to"} <= record.keys():
        start, end = sorted((record["from"], record["to"]), key=parse_timestamp)
        if parse_timestamp(start) == parse_timestamp(end):
            end = (parse_timestamp(end) + timedelta(minutes=15)).isoformat()
        record["from"], record["to"] = start, end
    if kind == "invoices":
        if {"from", "to"} <= record.keys():
            record["from"], record["to"] = sorted((record["from"], record["to"]))
        if record.get("cost") is None and record.get("consumption") is None:
            record["cost"] = 1.0


@st.composite
def records_of(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A record of the kind's schema: valid, or broken in one way (a field missing, a rule
    broken, a value off the schema), or a delete."""
    schema = schemas.load(kind)
    required = list(schema["required"])
    optional = [n for n in schema["properties"] if n not in required and n != "_sdc_deleted_at"]
    chosen = draw(st.sets(st.sampled_from(optional)))
    record: dict[str, Any] = {}
    for name in required + [n for n in optional if n in chosen]:
        if name == "customer_uuid":
            record[name] = draw(st.just(CUSTOMER) | st.none())
        else:
            record[name] = draw(valid_value(schema["properties"][name]))
    _consistent(kind, record)
    how = draw(st.sampled_from(["valid", "missing", "broken", "off-schema", "delete"]))
    name = draw(st.sampled_from(sorted(record)))
    if how == "missing":
        del record[draw(st.sampled_from(required))]
    elif how == "broken":
        record[name] = draw(invalid_value(schema["properties"][name]))
    elif how == "off-schema":
        record[name] = draw(JSON_ANYTHING)
    elif how == "delete":
        record["_sdc_deleted_at"] = draw(TIMESTAMPS)
    return record


@pytest.mark.parametrize("kind", list(KINDS))
@PROPERTIES
@given(data=st.data())
def test_a_record_becomes_a_valid_request_or_a_named_refusal(kind: str, data: Any) -> None:
    record = data.draw(records_of(kind), label="record")
    plan = plan_for(kind)
    try:
        job = plan.job_for(dict(record))
    except InvalidRecordError as exc:
        assert exc.reason and exc.key == plan.key_of(record)
        return
    assert job.url.startswith(API + "/") and job.stream == kind
    if job.method == "DELETE":
        assert record.get("_sdc_deleted_at") and job.body is None
        return
    attributes = attributes_of(job)
    assert rules.check_input(KINDS[kind].api_type, attributes, customer_uuid=CUSTOMER) == []
    assert contract.validator(KINDS[kind].input_component).is_valid(attributes)
    for name in KINDS[kind].number_fields:
        value = attributes.get(name)
        assert value is None or math.isfinite(value)
