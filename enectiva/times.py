"""Times as the API writes them: RFC 3339 instants, local month starts, dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$"
)
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TimeFormatError(ValueError):
    """A time value that breaks the contract's format rules."""


def parse_timestamp(value: object, default_tz: tzinfo | None = None) -> datetime:
    """Parse an RFC 3339 instant; fractional seconds are truncated (contract section 5).

    A value without an offset is refused unless ``default_tz`` says how to read it.
    """
    dt = parse_written(value)
    return dt if dt.tzinfo is not None else attach_zone(dt, default_tz)


def parse_written(value: object) -> datetime:
    """An RFC 3339 date-time as written: aware with its offset, naive without one.

    Fractional seconds are truncated (contract section 5). :func:`attach_zone` reads a naive
    result in a zone.
    """
    if isinstance(value, datetime):
        dt = value
    else:
        if not isinstance(value, str):
            raise TimeFormatError("must be an RFC 3339 date-time string")
        m = _RFC3339.match(value.strip())
        if not m:
            raise TimeFormatError("must be an RFC 3339 date-time (e.g. 2024-01-31T23:00:00Z)")
        try:
            dt = datetime.fromisoformat(value.strip().replace("z", "Z").replace("t", "T"))
        except ValueError as exc:
            raise TimeFormatError(f"is not a valid date-time ({exc})") from None
    return dt.replace(microsecond=0)


def attach_zone(naive: datetime, default_tz: tzinfo | None) -> datetime:
    """A time written without offset, read in ``default_tz`` (refused when there is none)."""
    if default_tz is None:
        raise TimeFormatError("must carry a UTC offset (e.g. Z or +01:00)")
    return naive.replace(tzinfo=default_tz)


def format_timestamp(dt: datetime) -> str:
    """UTC with ``Z``, whole seconds: how lists write times."""
    return dt.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_offset(dt: datetime) -> str:
    """RFC 3339 keeping the value's own offset (``Z`` for UTC)."""
    s = dt.replace(microsecond=0).isoformat()
    return s[:-6] + "Z" if s.endswith("+00:00") else s


def parse_local(value: str) -> datetime:
    """A local date-time without offset (delta times and delta filter values)."""
    if not isinstance(value, str) or not _LOCAL.match(value):
        raise TimeFormatError("must be a local date-time without offset (YYYY-MM-DDTHH:MM:SS)")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise TimeFormatError(f"is not a valid date-time ({exc})") from None


def format_local(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` without offset."""
    return dt.replace(tzinfo=None, microsecond=0).strftime("%Y-%m-%dT%H:%M:%S")


def parse_date(value: object) -> date:
    """A full date ``YYYY-MM-DD`` (invoice ranges)."""
    if not isinstance(value, str) or not _DATE.match(value):
        raise TimeFormatError("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise TimeFormatError(f"is not a valid date ({exc})") from None


def zone(name: str | None) -> tzinfo:
    """An IANA zone by name (UTC when empty); ValueError names a bad one."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None


def month_start(dt: datetime) -> datetime:
    """First instant of ``dt``'s month (same tzinfo)."""
    return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(dt: datetime, months: int) -> datetime:
    """Shift a month start by whole months."""
    index = dt.year * 12 + (dt.month - 1) + months
    return dt.replace(year=index // 12, month=index % 12 + 1, day=1)


def utcnow() -> datetime:
    """Now, aware, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


ONE_SECOND = timedelta(seconds=1)
