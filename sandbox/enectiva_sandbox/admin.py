"""The sandbox's own admin API under ``/_sandbox/`` (no auth, not part of the Enectiva API)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from enectiva_sandbox.faults import Stats
from enectiva_sandbox.jsonapi import iso_z

if TYPE_CHECKING:
    from enectiva_sandbox.app import Server

_encode = msgspec.json.Encoder().encode


def _json(doc: Any, status: int = 200) -> Response:
    return Response(_encode(doc), status, media_type="application/json")


async def handle(server: Server, request: Request, raw_path: str) -> Response:
    """Dispatch an admin request."""
    path, method = raw_path[len("/_sandbox/") :].strip("/"), request.method
    if path == "health" and method == "GET":
        return _json({"status": "ok"})
    if path == "faults" and method == "GET":
        return _json(server.faults.as_dict())
    if path == "faults" and method == "POST":
        try:
            changes = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            return _json({"errors": ["the body must be JSON"]}, 400)
        problems = server.faults.merge(changes)
        if problems:
            return _json({"errors": problems}, 400)
        return _json(server.faults.as_dict())
    if path == "stats" and method == "GET":
        return _json(server.stats.as_dict())
    if path == "stats/reset" and method == "POST":
        server.stats = Stats()
        return _json(server.stats.as_dict())
    if path.startswith("records/") and method == "GET":
        kind = path.split("/", 1)[1]
        if kind not in _RECORD_QUERIES:
            kinds = ", ".join(_RECORD_QUERIES)
            return _json({"errors": [f"kind must be one of {kinds}"]}, 404)
        customer = request.query_params.get("customer_id") or server.store.get_meta("main_customer")
        return _json(records(server, kind, customer or ""))
    return _json({"errors": [f"no admin endpoint {method} {raw_path}"]}, 404)


def _text(value: Any) -> str:
    return str(value)


# Per kind: the query (customer as its only parameter) and how each selected column is named
# and shown (None: as stored).
_RECORD_QUERIES: dict[str, tuple[str, tuple[tuple[str, Any], ...]]] = {
    "readings": (
        "SELECT r.id, r.meter_id, m.import_id, m.suit, r.time, r.state, r.unit, r.sender, "
        "r.suspicious FROM readings r JOIN meters m ON m.id = r.meter_id "
        "WHERE m.customer_id = ? ORDER BY r.meter_id, r.time",
        (
            ("id", _text),
            ("meter_id", _text),
            ("import_id", None),
            ("suit", None),
            ("time", iso_z),
            ("state", None),
            ("unit", None),
            ("sender", None),
            ("suspicious", bool),
        ),
    ),
    "data_points": (
        "SELECT p.id, p.series_id, s.import_id, s.suit, p.time, p.value, p.unit, p.sender, "
        "p.suspicious FROM data_points p JOIN data_series s ON s.id = p.series_id "
        "WHERE s.customer_id = ? ORDER BY p.series_id, p.time",
        (
            ("id", _text),
            ("data_series_id", _text),
            ("import_id", None),
            ("suit", None),
            ("time", iso_z),
            ("value", None),
            ("unit", None),
            ("sender", None),
            ("suspicious", bool),
        ),
    ),
    "profiles": (
        "SELECT p.id, p.meter_id, m.import_id, m.suit, p.from_t, p.to_t, p.value, p.unit, "
        "p.sender FROM profiles p JOIN meters m ON m.id = p.meter_id "
        "WHERE m.customer_id = ? ORDER BY p.meter_id, p.from_t",
        (
            ("id", _text),
            ("meter_id", _text),
            ("import_id", None),
            ("suit", None),
            ("from", iso_z),
            ("to", iso_z),
            ("value", None),
            ("unit", None),
            ("sender", None),
        ),
    ),
    "invoices": (
        "SELECT i.id, i.meter_id, i.from_d, i.to_d, i.cost, i.consumption, i.note "
        "FROM invoices i JOIN meters m ON m.id = i.meter_id WHERE m.customer_id = ? "
        "ORDER BY i.meter_id, i.from_d",
        (
            ("id", _text),
            ("meter_id", _text),
            ("from", None),
            ("to", None),
            ("cost", None),
            ("consumption", None),
            ("note", None),
        ),
    ),
}


def records(server: Server, kind: str, customer_id: str) -> list[dict[str, Any]]:
    """Every stored record of a kind for a customer, with ids and owners."""
    query, columns = _RECORD_QUERIES[kind]
    rows = server.store.db.execute(query, (customer_id,))
    return [
        {name: show(v) if show else v for (name, show), v in zip(columns, row, strict=True)}
        for row in rows
    ]
