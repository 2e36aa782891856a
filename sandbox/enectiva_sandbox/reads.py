"""Read-side operations (access token): meters, entities, readings, data points, deltas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from enectiva_sandbox.handler import Context, Handler, Reply
from enectiva_sandbox.jsonapi import (
    Query,
    iso_z,
    list_document,
    not_found,
    parse_id,
    parse_query,
    to_one,
)
from enectiva_sandbox.store import TimeWindow

if TYPE_CHECKING:
    from sqlite3 import Row

    from enectiva_sandbox.app import Server


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


def _window(query: Query, offset: int, limit: int) -> TimeWindow:
    """The time window, ordering and page of a parsed query."""
    b = query.bound
    return TimeWindow(b.lower, b.lower_inclusive, b.upper, query.sort_desc, limit, offset)


def _page(server: Server, query: Query) -> tuple[int, int]:
    size = server.page_size
    return size, (query.page - 1) * size


def list_meters(server: Server, ctx: Context) -> Reply:
    query = parse_query(ctx.op, ctx.query_string)
    size, offset = _page(server, query)
    rows = server.store.meters(ctx.customer_id, query.include_deactivated, size + 1, offset)
    return 200, list_document(ctx.base, query, rows, size, meter_resource)


def get_meter(server: Server, ctx: Context) -> Reply:
    meter = _meter(server, ctx)
    return 200, {"data": meter_resource(meter)}


def list_entities(server: Server, ctx: Context) -> Reply:
    query = parse_query(ctx.op, ctx.query_string)
    size, offset = _page(server, query)
    rows = server.store.entities(ctx.customer_id, size + 1, offset)
    return 200, list_document(ctx.base, query, rows, size, entity_resource)


def get_entity(server: Server, ctx: Context) -> Reply:
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


def list_readings(server: Server, ctx: Context) -> Reply:
    meter = _meter(server, ctx)
    query = parse_query(ctx.op, ctx.query_string)
    size, offset = _page(server, query)
    rows = server.store.valid_readings(meter["id"], _window(query, offset, size + 1))
    unit = meter["unit"]

    def build(r: Any) -> dict[str, Any]:
        return {
            "type": "readings",
            "id": str(r[0]),
            "attributes": {"time": iso_z(r[1]), "state": r[2], "unit": unit},
        }

    return 200, list_document(ctx.base, query, rows, size, build)


def list_data_points(server: Server, ctx: Context) -> Reply:
    series_id = parse_id(ctx.params["dataSeriesId"], "data series")
    series = server.store.data_series_by_id(ctx.customer_id, series_id)
    if series is None:
        raise not_found(f"data series {ctx.params['dataSeriesId']}")
    query = parse_query(ctx.op, ctx.query_string)
    size, offset = _page(server, query)
    rows = server.store.valid_data_points(series_id, _window(query, offset, size + 1))
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
) -> Reply:
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


def list_meter_deltas(server: Server, ctx: Context) -> Reply:
    meter = _meter(server, ctx)
    meters = [meter] if meter["measurement"] == "readings" else []
    totals = server.deltas.summed(meters)
    return _delta_page(server, ctx, "meter_deltas", f"m{meter['id']}", totals)


def list_entity_deltas(server: Server, ctx: Context) -> Reply:
    entity = _entity(server, ctx)
    meters = [
        m
        for m in server.store.entity_tree_meters(entity["id"])
        if m["direction"] == "consumption" and m["measurement"] == "readings"
    ]
    totals = server.deltas.summed(meters)
    return _delta_page(server, ctx, "entity_deltas", f"e{entity['id']}", totals)


def list_virtual_meter_deltas(server: Server, ctx: Context) -> Reply:
    vm_id = parse_id(ctx.params["virtualMeterId"], "virtual meter")
    vm = server.store.virtual_meter(ctx.customer_id, vm_id)
    if vm is None:
        raise not_found(f"virtual meter {ctx.params['virtualMeterId']}")
    members = [
        m for m in server.store.virtual_meter_members(vm_id) if m["measurement"] == "readings"
    ]
    totals = server.deltas.summed(members)
    return _delta_page(server, ctx, "virtual_meter_deltas", f"v{vm_id}", totals)


HANDLERS: dict[str, Handler] = {
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
