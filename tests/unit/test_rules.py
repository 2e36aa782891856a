"""Import rules shared by the target (client-side checks) and the sandbox (400s)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enectiva import rules

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
READING = {"time": "2026-05-01T00:00:00Z", "state": 1.5, "import_id": "meter-1"}
PROFILE = {
    "from": "2026-05-01T00:00:00Z",
    "to": "2026-05-01T00:15:00Z",
    "value": 2.0,
    "import_id": "p-1",
}
INVOICE = {"from": "2026-04-01", "to": "2026-04-30", "cost": 10.0}


def broken(kind: str, attrs: dict, **kw) -> dict[str, str]:
    return {v.attribute: v.message for v in rules.check_input(kind, attrs, now=NOW, **kw)}


@pytest.mark.parametrize(
    ("kind", "good"),
    [("readings", READING), ("profiles", PROFILE), ("received_invoices", INVOICE)],
)
def test_valid_records_pass(kind: str, good: dict) -> None:
    assert broken(kind, good) == {}


# One rule broken at a time: (kind, change, attribute, words in the message)
CASES = [
    ("readings", {"time": None}, "time", "type"),
    ("readings", {"state": None}, "state", "type"),
    ("readings", {"state": "1"}, "state", "type"),
    ("readings", {"state": math.nan}, "state", "finite"),
    ("readings", {"state": math.inf}, "state", "finite"),
    ("readings", {"import_id": ""}, "import_id", "empty"),
    ("readings", {"import_id": "a b"}, "import_id", "white space"),
    ("readings", {"import_id": "x" * 256}, "import_id", "255"),
    ("readings", {"suit": ""}, "suit", "empty"),
    ("readings", {"suit": "a b"}, "suit", "white space"),
    ("readings", {"unit": "u" * 51}, "unit", "50"),
    ("readings", {"sender": "s" * 256}, "sender", "255"),
    ("readings", {"time": "2026-05-01T00:00:00"}, "time", "offset"),
    ("readings", {"time": "2026-05-01"}, "time", "RFC 3339"),
    ("readings", {"time": "yesterday"}, "time", "RFC 3339"),
    ("readings", {"time": "2026-02-30T00:00:00Z"}, "time", "valid"),
    ("readings", {"time": "2027-01-01T00:00:00Z"}, "time", "past"),
    ("readings", {"customer_uuid": "not-a-uuid"}, "customer_uuid", "uuid"),
    ("data_points", {"value": math.nan}, "value", "finite"),
    ("profiles", {"to": "2026-05-01T00:00:00Z"}, "to", "after from"),
    ("profiles", {"to": "2027-05-01T00:00:00Z"}, "to", "future"),
    ("profiles", {"from": "2026-05-01T00:00:00"}, "from", "offset"),
    ("received_invoices", {"cost": -1.0}, "cost", ">= 0"),
    ("received_invoices", {"to": "2026-03-01"}, "to", "before from"),
    ("received_invoices", {"to": "2026-06-01"}, "to", "before today"),
    ("received_invoices", {"from": "2026/04/01"}, "from", "date"),
    ("received_invoices", {"note": "n" * 256}, "note", "255"),
]


@pytest.mark.parametrize(("kind", "change", "attribute", "words"), CASES)
def test_each_rule_broken_alone(kind: str, change: dict, attribute: str, words: str) -> None:
    base = {"readings": READING, "data_points": {**READING, "value": 1.0}, "profiles": PROFILE}
    good = base.get(kind, INVOICE)
    if kind == "data_points":
        good = {k: v for k, v in good.items() if k != "state"}
    found = broken(kind, {**good, **change})
    assert attribute in found, found
    assert words.lower() in found[attribute].lower()


def test_missing_required_fields_are_named() -> None:
    assert broken("readings", {"state": 1.0}) == {"time": "is required", "import_id": "is required"}
    found = broken("received_invoices", {"from": "2026-04-01", "to": "2026-04-02"})
    assert "cost" in found


def test_customer_uuid_must_match_the_path() -> None:
    cid = "8f14e45f-ceea-467f-a0e6-0b0a0a0a0a0a"
    other = "8f14e45f-ceea-467f-a0e6-0b0a0a0a0a0b"
    assert broken("readings", {**READING, "customer_uuid": cid}, customer_uuid=cid) == {}
    assert "customer_uuid" in broken(
        "readings", {**READING, "customer_uuid": other}, customer_uuid=cid
    )


def test_naive_time_read_in_the_input_time_zone() -> None:
    attrs = {**READING, "time": "2026-05-01T00:00:00"}
    assert broken("readings", attrs, default_tz=ZoneInfo("Europe/Prague")) == {}


def test_suspicious_rule() -> None:
    assert rules.is_suspicious("MWh", "kWh", 1.0, 1.0)
    assert rules.is_suspicious("kWh", "kWh", 1001.0 * 5, 5.0)
    assert not rules.is_suspicious("kWh", "kWh", 999.0 * 5, 5.0)
    assert not rules.is_suspicious(None, "kWh", 1.0, None)


def test_series_and_ranges() -> None:
    assert rules.series_key({"import_id": "a"}) == ("a", "default")
    assert rules.series_key({"import_id": "a", "suit": None}) == ("a", "default")
    assert rules.series_key({"import_id": "a", "suit": "x"}) == ("a", "x")
    assert not rules.ranges_overlap(0, 10, 10, 20)  # `to` is excluded
    assert rules.ranges_overlap(0, 11, 10, 20)


@settings(deadline=None)
@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2026, 5, 31)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(
        alphabet=st.characters(blacklist_categories=("Zs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=255,
    ).filter(lambda s: not any(c.isspace() for c in s)),
)
def test_any_well_formed_past_reading_is_valid(
    when: datetime, state: float, import_id: str
) -> None:
    attrs = {"time": when.replace(tzinfo=UTC).isoformat(), "state": state, "import_id": import_id}
    assert rules.check_input("readings", attrs, now=NOW) == []


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["time", "state", "import_id", "suit", "unit", "x"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.floats(),
            st.text(max_size=300),
            st.booleans(),
            st.lists(st.integers(), max_size=2),
        ),
    )
)
def test_validation_never_raises(attrs: dict) -> None:
    for kind in rules.INPUT_SCHEMAS:
        for v in rules.check_input(kind, attrs, now=NOW):
            assert isinstance(v.message, str) and v.message


def test_future_by_one_second_is_refused() -> None:
    attrs = {**READING, "time": (NOW + timedelta(seconds=1)).isoformat()}
    assert "time" in broken("readings", attrs)
