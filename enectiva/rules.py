"""Rules of the import endpoints: schema checks plus what JSON Schema cannot say.

Used by the target (before sending) and by the sandbox (answering 400/409), so a rule that
changes, changes here. Kinds are the JSON:API types of the import bodies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from typing_extensions import override

from enectiva import contract
from enectiva.times import TimeFormatError, parse_date, parse_timestamp, utcnow

#: JSON:API type -> input component of the contract.
INPUT_SCHEMAS = {
    "readings": "ReadingInput",
    "data_points": "DataPointInput",
    "profiles": "ProfileInput",
    "received_invoices": "InvoiceInput",
}
#: Instant-valued attributes per kind (RFC 3339 with offset).
TIME_FIELDS = {"readings": ("time",), "data_points": ("time",), "profiles": ("from", "to")}
#: Number-valued attributes per kind (must be finite).
NUMBER_FIELDS = {
    "readings": ("state",),
    "data_points": ("value",),
    "profiles": ("value",),
    "received_invoices": ("cost", "consumption"),
}
DEFAULT_SUIT = "default"
#: A reading whose state jumps by more than this factor over the previous one is suspicious.
SUSPICIOUS_JUMP_FACTOR = 1000.0


@dataclass(frozen=True)
class Violation:
    """One broken rule: which attribute and what is wrong, in words for a user."""

    attribute: str
    message: str

    @property
    def pointer(self) -> str:
        return f"/data/attributes/{self.attribute}" if self.attribute else "/data/attributes"

    @override
    def __str__(self) -> str:
        return f"{self.attribute} {self.message}" if self.attribute else self.message


def _schema_message(error: Any) -> tuple[str, str]:
    if error.validator == "anyOf" and error.absolute_path and error.context:
        # nullable fields: report why the non-null branch failed, not "anyOf"
        specific = [e for e in error.context if e.validator != "type"]
        if specific:
            return _schema_message(specific[0])
    path = [p for p in error.absolute_path if isinstance(p, str)]
    attr = path[0] if path else ""
    v = error.validator
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return missing, "is required"
    if v == "pattern":
        return attr, "must not be empty or contain white space"
    if v == "maxLength":
        return attr, f"must be at most {error.validator_value} characters"
    if v == "minLength":
        return attr, "must not be empty"
    if v == "minimum":
        return attr, f"must be >= {error.validator_value}"
    if v == "type":
        return attr, f"must be of type {error.validator_value}"
    if v == "format":
        return attr, f"must be a valid {error.validator_value}"
    if v == "anyOf" and not attr:
        return "cost", "or consumption must be present (at least one)"
    if v == "anyOf":
        return attr, "has an invalid value"
    return attr, error.message


def check_input(
    kind: str,
    attributes: Any,
    *,
    now: datetime | None = None,
    customer_uuid: str | None = None,
    default_tz: tzinfo | None = None,
    instants: Mapping[str, datetime | TimeFormatError] | None = None,
) -> list[Violation]:
    """Every rule a create body's attributes break (empty when valid).

    ``customer_uuid`` is the path's customer, ``default_tz`` how to read times without offset
    (the server passes None: such a time is a 400). ``instants``: the time fields already
    parsed by the caller (each an instant or the :class:`TimeFormatError` its value raised),
    so a time is parsed once; without it the times are parsed here with ``default_tz``.
    """
    if not isinstance(attributes, dict):
        return [Violation("", "attributes must be an object")]
    out: list[Violation] = []
    seen: set[str] = set()
    schema = INPUT_SCHEMAS[kind]
    if not contract.fast_check(schema)(attributes):
        for error in contract.validator(schema).iter_errors(attributes):
            attr, msg = _schema_message(error)
            if attr not in seen:
                seen.add(attr)
                out.append(Violation(attr, msg))
    now = now or utcnow()
    for field in NUMBER_FIELDS[kind]:
        value = attributes.get(field)
        if _is_number(value) and not _is_finite(value) and field not in seen:
            out.append(Violation(field, "must be a finite number (NaN and infinity are refused)"))
            seen.add(field)
    times: dict[str, datetime] = {}
    for field in TIME_FIELDS.get(kind, ()):
        value = attributes.get(field)
        if value is None or field in seen:
            continue
        moment = instants.get(field) if instants is not None else _parse(value, default_tz)
        if isinstance(moment, TimeFormatError):
            out.append(Violation(field, str(moment)))
            seen.add(field)
        elif moment is not None:
            times[field] = moment
    if kind in ("readings", "data_points") and "time" in times and times["time"] > now:
        out.append(Violation("time", "must be in the past"))
    if kind == "profiles" and "from" in times and "to" in times:
        if times["from"] >= times["to"]:
            out.append(Violation("to", "must be after from"))
        if times["to"] > now:
            out.append(Violation("to", "must not be in the future"))
    if kind == "received_invoices":
        out.extend(_invoice_dates(attributes, seen, now))
    if customer_uuid is not None:
        given = attributes.get("customer_uuid")
        if given not in (None, customer_uuid):
            out.append(Violation("customer_uuid", "must equal the customer in the path"))
    return out


def _parse(value: Any, default_tz: tzinfo | None) -> datetime | TimeFormatError:
    try:
        return parse_timestamp(value, default_tz)
    except TimeFormatError as exc:
        return exc


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    """Finite and representable as a float (a huge JSON integer is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _invoice_dates(attributes: dict[str, Any], seen: set[str], now: datetime) -> list[Violation]:
    out: list[Violation] = []
    dates: dict[str, date] = {}
    for field in ("from", "to"):
        value = attributes.get(field)
        if value is None or field in seen:
            continue
        try:
            dates[field] = parse_date(value)
        except TimeFormatError as exc:
            out.append(Violation(field, str(exc)))
    if "from" in dates and "to" in dates and dates["from"] > dates["to"]:
        out.append(Violation("to", "must not be before from"))
    if "to" in dates and dates["to"] >= now.astimezone(UTC).date():
        out.append(Violation("to", "must be before today (the whole range in the past)"))
    return out


def suit_of(attributes: dict[str, Any]) -> str:
    """The series' suit: absent or null means ``default``."""
    suit = attributes.get("suit")
    return DEFAULT_SUIT if suit is None else str(suit)


def series_key(attributes: dict[str, Any]) -> tuple[str, str]:
    """A series is ``(import_id, suit)`` within a customer."""
    return str(attributes.get("import_id")), suit_of(attributes)


def ranges_overlap(a_from: Any, a_to: Any, b_from: Any, b_to: Any) -> bool:
    """Half-open ``[from, to)`` ranges overlap (profiles)."""
    return a_from < b_to and b_from < a_to


def dates_overlap(a_from: date, a_to: date, b_from: date, b_to: date) -> bool:
    """Inclusive date ranges overlap (invoices)."""
    return a_from <= b_to and b_from <= a_to


def is_suspicious(
    unit: str | None, series_unit: str | None, state: float | None, previous: float | None
) -> bool:
    """[ours] A unit other than the series' first, or a jump over 1000x the previous state."""
    if unit and series_unit and unit != series_unit:
        return True
    if state is None or previous is None:
        return False
    return previous > 0 and state > previous * SUSPICIOUS_JUMP_FACTOR
