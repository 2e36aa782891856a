"""Read-side operations (access token): meters, entities, readings, data points, deltas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from enectiva_sandbox.jsonapi import (
    Query,
    iso_z,
    list_document,
    not_found,
    parse_id,
    parse_query,
    to_one,
)

if TYPE_CHECKING:
    from sqlite3 import Row

    from enectiva_sandbox.app import Context, Server

Answer = tuple[int, dict[str, Any] | None]


def meter_resource(m: Row) -> dict[str, Any]:
    return {
        "type": "meters",
        "id": str(m["id"]),
        "attributes": {
            "name": m["name"],
            "code": m["code"],
            "import_id": m["import_id"],
            "suit": m["suit"],
            "energy": m["energy"],
            "unit": m["unit"],
            "measurement": m["measurement"],
            "direction": m["direction"],
            "time_zone": m["time_zone"],
            "active": bool(m["active"]),
            "deactivated_at": iso_z(m["deactivated_at"]),
            "created_at": iso_z(m["created_at"]),
            "updated_at": iso_z(m["updated_at"]),
        },
        "relationships": {"entity": to_one("entities", m["entity_id"])},
    }


def entity_resource(e: Row) -> dict[str, Any]:
    return {
        "type": "entities",
        "id": str(e["id"]),
        "attributes": {
            "name": e["name"],
            "kind": e["kind"],
            "time_zone": e["time_zone"],
            "created_at": iso_z(e["created_at"]),
            "updated_at": iso_z(e["updated_at"]),
        },
        "relationships": {"parent": to_one("entities", e["parent_id"])},
    }


def _window(query: Query, offset: int, limit: int) -> tuple[str, list[Any]]:
    """SQL conditions on ``time``, ordering and paging from a parsed query."""
    sql, args = "", []
    b = query.bound
    if b.lower is not None:
        sql += " AND time >= ?" if b.lower_inclusive else " AND time > ?"
        args.append(b.lower)
    if b.upper is not None:
        sql += " AND time < ?"
        args.append(b.upper)
    sql += " ORDER BY time DESC" if query.sort_desc else " ORDER BY time"
    sql += " LIMIT ? OFFSET ?"
    args += [limit, offset]
    return sql, args


def _page(server: Server, query: Query) -> tuple[int, int]:
    size = server.page_size
    return size, (query.page - 1) * size


def list_meters(server: Server, ctx: Context) -> Answer:
    query = parse_query(ctx.op, ctx.query_string)
    size, offset = _page(server, query)
    rows = server.store.meters(ctx.customer_id, query.include_deactivated, size + 1, offset)
    return 200, list_document(ctx.base, query, rows, size, meter_resource)


def get_meter(server: Server, ctx: Context) -> Answer:
    meter = _meter(server, ctx)
    return 200, {"data": meter_resource(meter)}


def list_entities(server: Server, ctx: Context) -> Answer:
    query = parse_query(ctx.op, ctx.query_string)
    size, offset = _page(server, query)
    rows = server.store.entities(ctx.customer_id, size + 1, offset)
    return 200, list_document(ctx.base, query, rows, size, entity_resource)


def get_entity(server: Server, ctx: Context) -> Answer:
    return 200, {"data": entity_resource(_entity(server, ctx))}


def _meter(server: Server, ctx: Context) -> Row:
    meter_id = parse_id(ctx.params["meterId"], "meter")
    meter = server.store.meter(ctx.customer_id, meter_id)
    if meter is None:
        raise not_found(f"meter {ctx.params['meterId']}")
    return meter


def _entity(server: Server, ctx: Context) -> Row:
    entity_id = parse_id(ctx.params["entityId"], "entity")
    entity = server.store.entity(ctx.customer_id, entity_id)
    if entity is None:
        raise not_found(f"entity {ctx.params['entityId']}")
    return entity


def list_readings(server: Server, ctx: Context) -> Answer:
    meter = _meter(server, ctx)
    query = parse_query(ctx.op, ctx.query_string)
    size, offset = _page(server, query)
    where, args = _window(query, offset, size + 1)
    rows = server.store.all(
        "SELECT id, time, state FROM readings WHERE meter_id = ? AND suspicious = 0" + where,
        [meter["id"], *args],
    )
    unit = meter["unit"]

    def build(r: Any) -> dict[str, Any]:
        return {
            "type": "readings",
            "id": str(r[0]),
            "attributes": {"time": iso_z(r[1]), "state": r[2], "unit": unit},
        }

    return 200, list_document(ctx.base, query, rows, size, build)


def list_data_points(server: Server, ctx: Context) -> Answer:
    series_id = parse_id(ctx.params["dataSeriesId"], "data series")
    series = server.store.one(
        "SELECT id, unit FROM data_series WHERE id = ? AND customer_id = ?",
        (series_id, ctx.customer_id),
    )
    if series is None:
        raise not_found(f"data series {ctx.params['dataSeriesId']}")
    query = parse_query(ctx.op, ctx.query_string)
    size, offset = _page(server, query)
    where, args = _window(query, offset, size + 1)
    rows = server.store.all(
        "SELECT id, time, value, unit FROM data_points WHERE series_id = ? AND suspicious = 0"
        + where,
        [series_id, *args],
    )
    unit = series["unit"]

    def build(r: Any) -> dict[str, Any]:
        return {
            "type": "data_points",
            "id": str(r[0]),
            "attributes": {"time": iso_z(r[1]), "value": r[2], "unit": r[3] or unit},
        }

    return 200, list_document(ctx.base, query, rows, size, build)


# ---------- deltas ----------


def _delta_page(
    server: Server,
    ctx: Context,
    kind: str,
    owner: str,
    totals: dict[tuple[str, str, str | None], float],
) -> Answer:
    query = parse_query(ctx.op, ctx.query_string, local_times=True)
    b = query.bound
    keys = []
    for key in totals:
        month = key[0]
        if b.lower is not None and (
            month < b.lower or (month == b.lower and not b.lower_inclusive)
        ):
            continue
        if b.upper is not None and month >= b.upper:
            continue
        keys.append(key)
    keys.sort(key=lambda k: (k[0], k[1] or "", k[2] or ""), reverse=False)
    if query.sort_desc:
        keys.sort(key=lambda k: k[0], reverse=True)  # stable: energies stay in order
    size, offset = _page(server, query)
    rows = keys[offset : offset + size + 1]

    def build(k: tuple[str, str, str | None]) -> dict[str, Any]:
        month, energy, unit = k
        return {
            "type": kind,
            "id": f"{owner}-{energy}-{unit}-{month[:7]}",
            "attributes": {
                "time": month,
                "value": round(totals[k], 9),
                "unit": unit,
                "energy": energy,
            },
        }

    return 200, list_document(ctx.base, query, rows, size, build)


def list_meter_deltas(server: Server, ctx: Context) -> Answer:
    meter = _meter(server, ctx)
    meters = [meter] if meter["measurement"] == "readings" else []
    totals = server.deltas.summed(meters)
    return _delta_page(server, ctx, "meter_deltas", f"m{meter['id']}", totals)


def list_entity_deltas(server: Server, ctx: Context) -> Answer:
    entity = _entity(server, ctx)
    meters = [
        m
        for m in server.store.entity_tree_meters(entity["id"])
        if m["direction"] == "consumption" and m["measurement"] == "readings"
    ]
    totals = server.deltas.summed(meters)
    return _delta_page(server, ctx, "entity_deltas", f"e{entity['id']}", totals)


def list_virtual_meter_deltas(server: Server, ctx: Context) -> Answer:
    vm_id = parse_id(ctx.params["virtualMeterId"], "virtual meter")
    vm = server.store.virtual_meter(ctx.customer_id, vm_id)
    if vm is None:
        raise not_found(f"virtual meter {ctx.params['virtualMeterId']}")
    members = [
        m for m in server.store.virtual_meter_members(vm_id) if m["measurement"] == "readings"
    ]
    totals = server.deltas.summed(members)
    return _delta_page(server, ctx, "virtual_meter_deltas", f"v{vm_id}", totals)


HANDLERS = {
    "listMeters": list_meters,
    "getMeter": get_meter,
    "listEntities": list_entities,
    "getEntity": get_entity,
    "listReadings": list_readings,
    "listDataPoints": list_data_points,
    "listMeterDeltas": list_meter_deltas,
    "listEntityDeltas": list_entity_deltas,
    "listVirtualMeterDeltas": list_virtual_meter_deltas,
}
