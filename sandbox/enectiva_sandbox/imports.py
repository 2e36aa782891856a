"""Import operations: readings, data points, profiles (import token) and invoices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec

from enectiva import rules
from enectiva.errors import DUPLICATE, OVERLAP
from enectiva.times import TimeFormatError, parse_timestamp
from enectiva_sandbox.jsonapi import Problem, iso_z, not_found, parse_id, to_one

if TYPE_CHECKING:
    from sqlite3 import Row

    from enectiva_sandbox.app import Context, Server
    from enectiva_sandbox.store import Store

Answer = tuple[int, dict[str, Any] | None]
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


def create_reading(server: Server, ctx: Context) -> Answer:
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
        if existing is None:
            reading_id = store.insert(
                "INSERT INTO readings (meter_id, time, state, unit, sender, suspicious) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (meter_id, t, state, unit, sender, suspicious),
            )
        else:  # same time, another state: a correction replaces the stored value
            reading_id = existing["id"]
            store.db.execute(
                "UPDATE readings SET state = ?, unit = ?, sender = ?, suspicious = ? WHERE id = ?",
                (state, unit, sender, suspicious, reading_id),
            )
    store.touch(meter_id)
    return reading_id, suspicious


def _series_meter(server: Server, ctx: Context) -> Row:
    meter = server.store.series_meter(ctx.customer_id, ctx.params["importId"], ctx.params["suit"])
    if meter is None:
        raise not_found(f"series {ctx.params['importId']}/{ctx.params['suit']}")
    return meter


def latest_reading(server: Server, ctx: Context) -> Answer:
    meter = _series_meter(server, ctx)
    row = server.store.latest_reading(meter["id"])
    if row is None:
        raise not_found(f"reading of series {meter['import_id']}/{meter['suit']}")
    return 200, reading_document(meter, row)


def delete_reading_by_id(server: Server, ctx: Context) -> Answer:
    reading_id = parse_id(ctx.params["id"], f"reading {ctx.params['id']}")
    row = server.store.one(
        "SELECT r.id, r.meter_id FROM readings r JOIN meters m ON m.id = r.meter_id "
        "WHERE r.id = ? AND m.customer_id = ?",
        (reading_id, ctx.customer_id),
    )
    if row is None:
        raise not_found(f"reading {ctx.params['id']}")
    server.store.db.execute("DELETE FROM readings WHERE id = ?", (reading_id,))
    server.store.touch(row["meter_id"])
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


def delete_reading_by_time(server: Server, ctx: Context) -> Answer:
    _check_query_names(ctx, {"time"})
    t = _query_time(ctx, "time")
    meter = _series_meter(server, ctx)
    cursor = server.store.db.execute(
        "DELETE FROM readings WHERE meter_id = ? AND time = ?", (meter["id"], t)
    )
    if cursor.rowcount == 0:
        raise not_found(f"reading of series {meter['import_id']}/{meter['suit']} at {iso_z(t)}")
    server.store.touch(meter["id"])
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


def _series(server: Server, customer_id: str, import_id: str, suit: str) -> Row | None:
    return server.store.one(
        "SELECT id, import_id, suit, unit FROM data_series WHERE customer_id = ? "
        "AND import_id = ? AND suit = ?",
        (customer_id, import_id, suit),
    )


def create_data_point(server: Server, ctx: Context) -> Answer:
    attrs = read_attributes(ctx, "data_points")
    store = server.store
    import_id, suit = rules.series_key(attrs)
    t = _epoch(attrs["time"])
    value = float(attrs["value"])
    unit, sender = attrs.get("unit"), attrs.get("sender")
    with store.transaction():
        series = _series(server, ctx.customer_id, import_id, suit)
        if series is None:
            store.insert(
                "INSERT INTO data_series (customer_id, import_id, suit, name, unit) "
                "VALUES (?, ?, ?, ?, ?)",
                (ctx.customer_id, import_id, suit, f"{import_id} ({suit})", unit),
            )
            series = _series(server, ctx.customer_id, import_id, suit)
            assert series is not None
        existing = store.one(
            "SELECT id, value FROM data_points WHERE series_id = ? AND time = ?",
            (series["id"], t),
        )
        if existing is not None and existing["value"] == value:
            raise Problem(
                409,
                f"data point {import_id}/{suit} at {iso_z(t)} with value {value:g} "
                "is stored already",
                code=DUPLICATE,
            )
        suspicious = int(rules.is_suspicious(unit, series["unit"], None, None))
        if existing is None:
            point_id = store.insert(
                "INSERT INTO data_points (series_id, time, value, unit, sender, suspicious) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (series["id"], t, value, unit, sender, suspicious),
            )
        else:
            point_id = existing["id"]
            store.db.execute(
                "UPDATE data_points SET value = ?, unit = ?, sender = ?, suspicious = ? "
                "WHERE id = ?",
                (value, unit, sender, suspicious, point_id),
            )
    row = {"id": point_id, "time": t, "value": value, "unit": unit, "sender": sender}
    row["suspicious"] = suspicious
    return 201, data_point_document(series, row)


def _path_series(server: Server, ctx: Context) -> Row:
    series = _series(server, ctx.customer_id, ctx.params["importId"], ctx.params["suit"])
    if series is None:
        raise not_found(f"data series {ctx.params['importId']}/{ctx.params['suit']}")
    return series


def latest_data_point(server: Server, ctx: Context) -> Answer:
    series = _path_series(server, ctx)
    row = server.store.one(
        "SELECT id, time, value, unit, sender, suspicious FROM data_points WHERE series_id = ? "
        "ORDER BY time DESC LIMIT 1",
        (series["id"],),
    )
    if row is None:
        raise not_found(f"data point of series {series['import_id']}/{series['suit']}")
    return 200, data_point_document(series, row)


def _delete_owned(
    server: Server, ctx: Context, what: str, table: str, owner_column: str, owner_table: str
) -> Answer:
    """Delete a record by id when its owner (series or meter) belongs to the caller's customer."""
    record_id = parse_id(ctx.params["id"], f"{what} {ctx.params['id']}")
    cursor = server.store.db.execute(
        f"DELETE FROM {table} WHERE id = ? AND {owner_column} IN "
        f"(SELECT id FROM {owner_table} WHERE customer_id = ?)",
        (record_id, ctx.customer_id),
    )
    if cursor.rowcount == 0:
        raise not_found(f"{what} {ctx.params['id']}")
    return 204, None


def delete_data_point_by_id(server: Server, ctx: Context) -> Answer:
    return _delete_owned(server, ctx, "data point", "data_points", "series_id", "data_series")


def delete_data_point_by_time(server: Server, ctx: Context) -> Answer:
    _check_query_names(ctx, {"time"})
    t = _query_time(ctx, "time")
    series = _path_series(server, ctx)
    cursor = server.store.db.execute(
        "DELETE FROM data_points WHERE series_id = ? AND time = ?", (series["id"], t)
    )
    if cursor.rowcount == 0:
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


def upsert_profile(server: Server, ctx: Context) -> Answer:
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
        overlapping = store.all(
            "SELECT id, from_t, to_t FROM profiles WHERE meter_id = ? AND from_t < ? AND to_t > ?",
            (meter["id"], end, start),
        )
        same = [p for p in overlapping if p["from_t"] == start and p["to_t"] == end]
        if same:
            profile_id, status = same[0]["id"], 200
            store.db.execute(
                "UPDATE profiles SET value = ?, unit = ?, sender = ? WHERE id = ?",
                (value, unit, sender, profile_id),
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
            profile_id = store.insert(
                "INSERT INTO profiles (meter_id, from_t, to_t, value, unit, sender) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (meter["id"], start, end, value, unit, sender),
            )
    row = {"id": profile_id, "from_t": start, "to_t": end, "value": value}
    row.update(unit=unit, sender=sender)
    return status, profile_document(meter, row)


_PROFILE_COLUMNS = "id, from_t, to_t, value, unit, sender"


def latest_profile(server: Server, ctx: Context) -> Answer:
    meter = _series_meter(server, ctx)
    row = server.store.one(
        f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE meter_id = ? ORDER BY from_t DESC LIMIT 1",
        (meter["id"],),
    )
    if row is None:
        raise not_found(f"profile of series {meter['import_id']}/{meter['suit']}")
    return 200, profile_document(meter, row)


def delete_profile_by_id(server: Server, ctx: Context) -> Answer:
    return _delete_owned(server, ctx, "profile", "profiles", "meter_id", "meters")


def delete_profile_by_range(server: Server, ctx: Context) -> Answer:
    _check_query_names(ctx, {"from", "to"})
    start, end = _query_time(ctx, "from"), _query_time(ctx, "to")
    meter = _series_meter(server, ctx)
    cursor = server.store.db.execute(
        "DELETE FROM profiles WHERE meter_id = ? AND from_t = ? AND to_t = ?",
        (meter["id"], start, end),
    )
    if cursor.rowcount == 0:
        raise not_found(
            f"profile of series {meter['import_id']}/{meter['suit']} with range "
            f"[{iso_z(start)}, {iso_z(end)})"
        )
    return 204, None


# ---------- invoices ----------


def create_received_invoice(server: Server, ctx: Context) -> Answer:
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
        overlapping = store.all(
            "SELECT id, from_d, to_d, cost, consumption, note FROM invoices "
            "WHERE meter_id = ? AND from_d <= ? AND to_d >= ?",
            (meter_id, end, start),
        )
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
        invoice_id = store.insert(
            "INSERT INTO invoices (meter_id, from_d, to_d, cost, consumption, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (meter_id, start, end, cost, consumption, note),
        )
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


HANDLERS = {
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
