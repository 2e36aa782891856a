"""JSON:API plumbing of the sandbox: problems, query parameters, resources, list pages."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from enectiva import contract
from enectiva.errors import NOT_FOUND, error_document
from enectiva.rules import Violation
from enectiva.times import TimeFormatError, parse_local, parse_timestamp

_FILTER = re.compile(r"^([A-Za-z_]+)\.time(<=|>=|>|<)(.*)$", re.S)
MAX_FILTERS = 3
MAX_PAGE = 1_000_000_000


class Problem(Exception):
    """An error answer: raised by handlers, turned into a JSON:API error document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
        document: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = headers or {}
        self.document = document or error_document(
            status, detail, code=code, pointer=pointer, parameter=parameter
        )

    @classmethod
    def invalid(cls, violations: list[Violation]) -> Problem:
        from enectiva.errors import violations_document

        return cls(400, str(violations[0]), document=violations_document(violations))


def not_found(what: str) -> Problem:
    return Problem(404, f"{what} not found", code=NOT_FOUND)


_DAYS: dict[int, str] = {}  # day number -> "YYYY-MM-DDT"
_HOURS = tuple(f"{h:02d}:" for h in range(24))
_MINUTES_SECONDS = tuple(f"{m:02d}:{s:02d}Z" for m in range(60) for s in range(60))


def iso_z(t: int | None) -> str | None:
    """Unix seconds as RFC 3339 UTC with ``Z`` (from tables: list pages call it per record)."""
    if t is None:
        return None
    day, second = divmod(t, 86_400)
    date = _DAYS.get(day)
    if date is None:
        if len(_DAYS) >= 100_000:
            _DAYS.clear()
        g = time.gmtime(day * 86_400)
        date = _DAYS[day] = f"{g.tm_year:04d}-{g.tm_mon:02d}-{g.tm_mday:02d}T"
    hour, rest = divmod(second, 3_600)
    return date + _HOURS[hour] + _MINUTES_SECONDS[rest]


def parse_id(value: str, what: str) -> int:
    """A numeric resource id from a path; anything else is simply not found."""
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise not_found(what)
    return int(value)


# ---------- query parameters ----------


@dataclass
class Bound:
    """A time window from ``filter[]`` values: ``lower`` with ``>``/``>=``, ``upper`` with ``<``."""

    lower: Any = None
    lower_inclusive: bool = False
    upper: Any = None


@dataclass
class Query:
    """The parsed query string of a request."""

    pairs: list[tuple[str, str]]
    page: int = 1
    sort_desc: bool = False
    include_deactivated: bool = False
    bound: Bound = field(default_factory=Bound)


def _allowed_parameters(op: contract.Operation) -> set[str]:
    out = set()
    for param in op.raw.get("parameters", []):
        if "$ref" in param:
            param = contract.spec()["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        if param.get("in") == "query":
            out.add(param["name"])
    return out


_ALLOWED: dict[str, set[str]] = {}


def allowed_parameters(op: contract.Operation) -> set[str]:
    if op.operation_id not in _ALLOWED:
        _ALLOWED[op.operation_id] = _allowed_parameters(op)
    return _ALLOWED[op.operation_id]


def parse_query(op: contract.Operation, query_string: str, local_times: bool = False) -> Query:
    """Check and read ``page``, ``sort``, ``include_deactivated`` and ``filter[]``.

    Unknown parameters are refused (400) so a client's typo cannot pass silently.
    """
    pairs = parse_qsl(query_string, keep_blank_values=True)
    allowed = allowed_parameters(op)
    query = Query(pairs=pairs)
    seen: set[str] = set()
    filters: list[str] = []
    for name, value in pairs:
        if name not in allowed:
            raise Problem(400, f"unknown query parameter {name!r}", parameter=name)
        if name == "filter[]":
            filters.append(value)
            continue
        if name in seen:
            raise Problem(400, f"query parameter {name!r} given twice", parameter=name)
        seen.add(name)
        if name == "page":
            if (
                not (value.isascii() and value.isdigit() and len(value) <= 10)
                or not 1 <= int(value) <= MAX_PAGE
            ):
                raise Problem(400, "page must be an integer >= 1", parameter="page")
            query.page = int(value)
        elif name == "sort":
            if value not in ("time", "-time"):
                raise Problem(400, "sort must be time or -time", parameter="sort")
            query.sort_desc = value == "-time"
        elif name == "include_deactivated":
            if value not in ("true", "false"):
                raise Problem(400, "include_deactivated must be true or false", parameter=name)
            query.include_deactivated = value == "true"
    if len(filters) > MAX_FILTERS:
        raise Problem(400, f"at most {MAX_FILTERS} filter[] values", parameter="filter[]")
    for value in filters:
        _apply_filter(query.bound, op.filter_type or "", value, local_times)
    return query


def _apply_filter(bound: Bound, filter_type: str, value: str, local_times: bool) -> None:
    m = _FILTER.match(value)
    if not m:
        raise Problem(
            400,
            f"filter[] must look like {filter_type}.time>VALUE (also >= and <)",
            parameter="filter[]",
        )
    ftype, operator, raw = m.groups()
    if ftype != filter_type:
        raise Problem(
            400, f"unknown filter field {ftype}.time (use {filter_type}.time)", parameter="filter[]"
        )
    if operator == "<=":
        raise Problem(400, "the <= filter operator is not supported", parameter="filter[]")
    try:
        if local_times:
            when: Any = parse_local(raw).strftime("%Y-%m-%dT%H:%M:%S")
        else:
            when = int(parse_timestamp(raw).timestamp())
    except (TimeFormatError, ValueError, OverflowError) as exc:
        hint = "" if local_times else " (percent-encode + as %2B)"
        raise Problem(400, f"filter[] value {exc}{hint}", parameter="filter[]") from None
    if operator == "<":
        bound.upper = when if bound.upper is None else min(bound.upper, when)
        return
    inclusive = operator == ">="
    if bound.lower is None or when > bound.lower or (when == bound.lower and not inclusive):
        bound.lower, bound.lower_inclusive = when, inclusive


# ---------- documents ----------


def to_one(kind: str, ident: Any) -> dict[str, Any]:
    return {"data": None if ident is None else {"type": kind, "id": str(ident)}}


def page_links(base: str, query: Query, has_next: bool) -> dict[str, Any]:
    """``self`` and absolute ``next`` (null at the end) keeping every other parameter."""
    others = [(k, v) for k, v in query.pairs if k != "page"]

    def url(page: int) -> str:
        params = [*others, ("page", str(page))] if page > 1 or query.page > 1 else others
        qs = urlencode(params, quote_via=quote, safe="")
        return f"{base}?{qs}" if qs else base

    return {"self": url(query.page), "next": url(query.page + 1) if has_next else None}


def list_document(base: str, query: Query, rows: list[Any], size: int, build) -> dict[str, Any]:
    """A list page; ``rows`` holds up to ``size + 1`` rows (one more tells a next page)."""
    has_next = len(rows) > size
    return {
        "data": [build(r) for r in rows[:size]],
        "links": page_links(base, query, has_next),
    }
