"""Import operations: readings, data points, profiles (import token) and invoices."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec

from enectiva import rules
from enectiva.errors import DUPLICATE, OVERLAP
from enectiva.times import TimeFormatError, parse_timestamp
from enectiva_sandbox.handler import Context, Handler, Reply
from enectiva_sandbox.jsonapi import Problem, iso_z, not_found, parse_id, to_one

if TYPE_CHECKING:
    from sqlite3 import Row

    from enectiva_sandbox.app import Server
    from enectiva_sandbox.store import Store
_decode = msgspec.json.Decoder().decode


def read_attributes(ctx: Context, kind: str) -> dict[str, Any]:
    """The ``data.attributes`` of a create body, checked with the shared rules."""
    if not ctx.body:
        raise Problem(400, "the request body is required", pointer="/data")
    try:
        doc = _decode(ctx.body)
    except (msgspec.DecodeError, UnicodeDecodeError, ValueError):
        raise Problem(400, "the request body is not valid JSON", pointer="") from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict):
        raise Problem(400, 'the body must be {"data": {...}}', pointer="/data")
    if data.get("type") != kind:
        raise Problem(400, f"data.type must be {kind!r}", pointer="/data/type")
    attributes = data.get("attributes")
    customer = ctx.customer_id if kind != "received_invoices" else None
    violations = rules.check_input(kind, attributes, customer_uuid=customer)
    if violations:
        raise Problem.invalid(violations)
    return attributes  # type: ignore[return-value]


def _epoch(value: Any) -> int:
    return int(parse_timestamp(value).timestamp())


def _relationship(kind: str, ident: Any) -> dict[str, Any]:
    return {"meter" if kind == "meters" else "data_series": to_one(kind, ident)}


# ---------- readings ----------


def reading_document(meter: Row, row: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "readings",
            "id": str(row["id"]),
            "attributes": {
                "time": iso_z(row["time"]),
                "state": row["state"],
                "import_id": meter["import_id"],
                "suit": meter["suit"],
                "unit": row["unit"],
                "sender": row["sender"],
                "suspicious": bool(row["suspicious"]),
            },
            "relationships": _relationship("meters", meter["id"]),
        }
    }


def create_reading(server: Server, ctx: Context) -> Reply:
    attrs = read_attributes(ctx, "readings")
    store = server.store
    import_id, suit = rules.series_key(attrs)
    t = _epoch(attrs["time"])
    state = float(attrs["state"])
    unit, sender = attrs.get("unit"), attrs.get("sender")
    meter = store.series_meter(ctx.customer_id, import_id, suit)
    if meter is None:  # a new series: its meter and first reading commit together
        with store.transaction():
            meter = store.create_series_meter(ctx.customer_id, import_id, suit, unit, "readings")
            reading_id, suspicious = _store_reading(store, meter, t, state, unit, sender)
    else:
        reading_id, suspicious = _store_reading(store, meter, t, state, unit, sender)
    row = {"id": reading_id, "time": t, "state": state, "unit": unit, "sender": sender}
    row["suspicious"] = suspicious
    return 201, reading_document(meter, row)


def _store_reading(
    store: Store, meter: Row, t: int, state: float, unit: str | None, sender: str | None
) -> tuple[int, int]:
    """Insert or correct a reading: (id, suspicious), or a 409 when it is stored already."""
    meter_id = meter["id"]
    tail = store.reading_tail(meter_id)
    if tail.last_time is None or t > tail.last_time:
        # later than every stored reading (the common case): no duplicate is possible and the
        # previous valid state is known, so one INSERT is all it takes
        previous = tail.last_valid_state
        suspicious = int(rules.is_suspicious(unit, meter["unit"], state, previous))
        return store.append_reading(meter_id, t, state, unit, sender, suspicious), suspicious
    with store.transaction():
        existing = store.reading_at(meter_id, t)
        if existing is not None and existing["state"] == state:
            raise Problem(
                409,
                f"reading {meter['import_id']}/{meter['suit']} at {iso_z(t)} with state "
                f"{state:g} is stored already",
                code=DUPLICATE,
            )
        previous = store.previous_valid_state(meter_id, t)
        suspicious = int(rules.is_suspicious(unit, meter["unit"], state, previous))
        # same time, another state: a correction replaces the stored value (keeps its id)
        existing_id = None if existing is None else existing["id"]
        reading_id = store.put_reading(meter_id, t, state, unit, sender, suspicious, existing_id)
    return reading_id, suspicious


def _series_meter(server: Server, ctx: Context) -> Row:
    meter = server.store.series_meter(ctx.customer_id, ctx.params["importId"], ctx.params["suit"])
    if meter is None:
        raise not_found(f"series {ctx.params['importId']}/{ctx.params['suit']}")
    return meter


def latest_reading(server: Server, ctx: Context) -> Reply:
    meter = _series_meter(server, ctx)
    row = server.store.latest_reading(meter["id"])
    if row is None:
        raise not_found(f"reading of series {meter['import_id']}/{meter['suit']}")
    return 200, reading_document(meter, row)


def delete_reading_by_id(server: Server, ctx: Context) -> Reply:
    reading_id = parse_id(ctx.params["id"], f"reading {ctx.params['id']}")
    if not server.store.delete_reading(ctx.customer_id, reading_id):
        raise not_found(f"reading {ctx.params['id']}")
    return 204, None


def _query_time(ctx: Context, name: str) -> int:
    values = [v for k, v in parse_qsl(ctx.query_string, keep_blank_values=True) if k == name]
    if len(values) != 1:
        raise Problem(400, f"the query parameter {name} is required once", parameter=name)
    try:
        return _epoch(values[0])
    except (TimeFormatError, ValueError, OverflowError) as exc:
        raise Problem(400, f"{name} {exc} (percent-encode + as %2B)", parameter=name) from None


def _check_query_names(ctx: Context, allowed: set[str]) -> None:
    for key, _ in parse_qsl(ctx.query_string, keep_blank_values=True):
        if key not in allowed:
            raise Problem(400, f"unknown query parameter {key!r}", parameter=key)


def delete_reading_by_time(server: Server, ctx: Context) -> Reply:
    _check_query_names(ctx, {"time"})
    t = _query_time(ctx, "time")
    meter = _series_meter(server, ctx)
    if not server.store.delete_reading_at(meter["id"], t):
        raise not_found(f"reading of series {meter['import_id']}/{meter['suit']} at {iso_z(t)}")
    return 204, None


# ---------- data points ----------


def data_point_document(series: Row, row: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "data_points",
            "id": str(row["id"]),
            "attributes": {
                "time": iso_z(row["time"]),
                "value": row["value"],
                "import_id": series["import_id"],
                "suit": series["suit"],
                "unit": row["unit"],
                "sender": row["sender"],
                "suspicious": bool(row["suspicious"]),
            },
            "relationships": _relationship("data_series", series["id"]),
        }
    }


def create_data_point(server: Server, ctx: Context) -> Reply:
    attrs = read_attributes(ctx, "data_points")
    store = server.store
    import_id, suit = rules.series_key(attrs)
    t = _epoch(attrs["time"])
    value = float(attrs["value"])
    unit, sender = attrs.get("unit"), attrs.get("sender")
    with store.transaction():
        series = store.data_series(ctx.customer_id, import_id, suit)
        if series is None:
            name = f"{import_id} ({suit})"
            store.add_data_series(ctx.customer_id, import_id, suit, name, unit)
            series = store.data_series(ctx.customer_id, import_id, suit)
            assert series is not None
        existing = store.data_point_at(series["id"], t)
        if existing is not None and existing["value"] == value:
            raise Problem(
                409,
                f"data point {import_id}/{suit} at {iso_z(t)} with value {value:g} "
                "is stored already",
                code=DUPLICATE,
            )
        suspicious = int(rules.is_suspicious(unit, series["unit"], None, None))
        existing_id = None if existing is None else existing["id"]
        point_id = store.put_data_point(
            series["id"], t, value, unit, sender, suspicious, existing_id
        )
    row = {"id": point_id, "time": t, "value": value, "unit": unit, "sender": sender}
    row["suspicious"] = suspicious
    return 201, data_point_document(series, row)


def _path_series(server: Server, ctx: Context) -> Row:
    series = server.store.data_series(ctx.customer_id, ctx.params["importId"], ctx.params["suit"])
    if series is None:
        raise not_found(f"data series {ctx.params['importId']}/{ctx.params['suit']}")
    return series


def latest_data_point(server: Server, ctx: Context) -> Reply:
    series = _path_series(server, ctx)
    row = server.store.latest_data_point(series["id"])
    if row is None:
        raise not_found(f"data point of series {series['import_id']}/{series['suit']}")
    return 200, data_point_document(series, row)


def _delete_owned(ctx: Context, what: str, delete: Callable[[str, int], bool]) -> Reply:
    """Delete a record by id when its owner (series or meter) belongs to the caller's customer."""
    record_id = parse_id(ctx.params["id"], f"{what} {ctx.params['id']}")
    if not delete(ctx.customer_id, record_id):
        raise not_found(f"{what} {ctx.params['id']}")
    return 204, None


def delete_data_point_by_id(server: Server, ctx: Context) -> Reply:
    return _delete_owned(ctx, "data point", server.store.delete_data_point)


def delete_data_point_by_time(server: Server, ctx: Context) -> Reply:
    _check_query_names(ctx, {"time"})
    t = _query_time(ctx, "time")
    series = _path_series(server, ctx)
    if not server.store.delete_data_point_at(series["id"], t):
        raise not_found(f"data point of series {series['import_id']}/{series['suit']}")
    return 204, None


# ---------- profiles ----------


def profile_document(meter: Row, row: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "profiles",
            "id": str(row["id"]),
            "attributes": {
                "from": iso_z(row["from_t"]),
                "to": iso_z(row["to_t"]),
                "value": row["value"],
                "import_id": meter["import_id"],
                "suit": meter["suit"],
                "unit": row["unit"],
                "sender": row["sender"],
            },
            "relationships": _relationship("meters", meter["id"]),
        }
    }


def upsert_profile(server: Server, ctx: Context) -> Reply:
    attrs = read_attributes(ctx, "profiles")
    store = server.store
    import_id, suit = rules.series_key(attrs)
    start, end = _epoch(attrs["from"]), _epoch(attrs["to"])
    value = float(attrs["value"])
    unit, sender = attrs.get("unit"), attrs.get("sender")
    with store.transaction():
        meter = store.series_meter(ctx.customer_id, import_id, suit)
        if meter is None:
            meter = store.create_series_meter(ctx.customer_id, import_id, suit, unit, "profiles")
        overlapping = store.overlapping_profiles(meter["id"], start, end)
        same = [p for p in overlapping if p["from_t"] == start and p["to_t"] == end]
        if same:
            status = 200
            profile_id = store.put_profile(
                meter["id"], start, end, value, unit, sender, same[0]["id"]
            )
        elif overlapping:
            other = overlapping[0]
            raise Problem(
                409,
                f"profile {import_id}/{suit} [{iso_z(start)}, {iso_z(end)}) overlaps the stored "
                f"range [{iso_z(other['from_t'])}, {iso_z(other['to_t'])})",
                code=OVERLAP,
            )
        else:
            status = 201
            profile_id = store.put_profile(meter["id"], start, end, value, unit, sender, None)
    row: dict[str, Any] = {"id": profile_id, "from_t": start, "to_t": end, "value": value}
    row.update(unit=unit, sender=sender)
    return status, profile_document(meter, row)


def latest_profile(server: Server, ctx: Context) -> Reply:
    meter = _series_meter(server, ctx)
    row = server.store.latest_profile(meter["id"])
    if row is None:
        raise not_found(f"profile of series {meter['import_id']}/{meter['suit']}")
    return 200, profile_document(meter, row)


def delete_profile_by_id(server: Server, ctx: Context) -> Reply:
    return _delete_owned(ctx, "profile", server.store.delete_profile)


def delete_profile_by_range(server: Server, ctx: Context) -> Reply:
    _check_query_names(ctx, {"from", "to"})
    start, end = _query_time(ctx, "from"), _query_time(ctx, "to")
    meter = _series_meter(server, ctx)
    if not server.store.delete_profile_range(meter["id"], start, end):
        raise not_found(
            f"profile of series {meter['import_id']}/{meter['suit']} with range "
            f"[{iso_z(start)}, {iso_z(end)})"
        )
    return 204, None


# ---------- invoices ----------


def create_received_invoice(server: Server, ctx: Context) -> Reply:
    meter_id = parse_id(ctx.params["meterId"], f"meter {ctx.params['meterId']}")
    meter = server.store.meter(ctx.customer_id, meter_id)
    if meter is None:
        raise not_found(f"meter {ctx.params['meterId']}")
    attrs = read_attributes(ctx, "received_invoices")
    start, end = attrs["from"], attrs["to"]
    cost, consumption, note = attrs.get("cost"), attrs.get("consumption"), attrs.get("note")
    cost = None if cost is None else float(cost)
    consumption = None if consumption is None else float(consumption)
    store = server.store
    with store.transaction():
        overlapping = store.overlapping_invoices(meter_id, start, end)
        for other in overlapping:
            identical = (other["from_d"], other["to_d"], other["cost"]) == (start, end, cost)
            if identical and (other["consumption"], other["note"]) == (consumption, note):
                raise Problem(
                    409,
                    f"invoice {start}..{end} of meter {meter_id} is stored already",
                    code=DUPLICATE,
                )
        if overlapping:
            other = overlapping[0]
            raise Problem(
                409,
                f"invoice {start}..{end} overlaps the stored invoice "
                f"{other['from_d']}..{other['to_d']} of meter {meter_id}",
                code=OVERLAP,
            )
        invoice_id = store.add_invoice(meter_id, start, end, cost, consumption, note)
    return 201, {
        "data": {
            "type": "received_invoices",
            "id": str(invoice_id),
            "attributes": {
                "from": start,
                "to": end,
                "cost": cost,
                "consumption": consumption,
                "note": note,
            },
            "relationships": _relationship("meters", meter_id),
        }
    }


HANDLERS: dict[str, Handler] = {
    "createReading": create_reading,
    "latestReading": latest_reading,
    "deleteReadingById": delete_reading_by_id,
    "deleteReadingByTime": delete_reading_by_time,
    "createDataPoint": create_data_point,
    "latestDataPoint": latest_data_point,
    "deleteDataPointById": delete_data_point_by_id,
    "deleteDataPointByTime": delete_data_point_by_time,
    "upsertProfile": upsert_profile,
    "latestProfile": latest_profile,
    "deleteProfileById": delete_profile_by_id,
    "deleteProfileByRange": delete_profile_by_range,
    "createReceivedInvoice": create_received_invoice,
}
