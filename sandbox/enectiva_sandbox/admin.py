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
        if kind not in _RECORD_COLUMNS:
            kinds = ", ".join(_RECORD_COLUMNS)
            return _json({"errors": [f"kind must be one of {kinds}"]}, 404)
        customer = request.query_params.get("customer_id") or server.store.get_meta("main_customer")
        return _json(records(server, kind, customer or ""))
    return _json({"errors": [f"no admin endpoint {method} {raw_path}"]}, 404)


def _text(value: Any) -> str:
    return str(value)


# Per kind: how each column of ``store.RECORD_QUERIES`` is named and shown (None: as stored).
_RECORD_COLUMNS: dict[str, tuple[tuple[str, Any], ...]] = {
    "readings": (
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
    "data_points": (
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
    "profiles": (
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
    "invoices": (
        ("id", _text),
        ("meter_id", _text),
        ("from", None),
        ("to", None),
        ("cost", None),
        ("consumption", None),
        ("note", None),
    ),
}


def records(server: Server, kind: str, customer_id: str) -> list[dict[str, Any]]:
    """Every stored record of a kind for a customer, with ids and owners."""
    columns = _RECORD_COLUMNS[kind]
    rows = server.store.records(kind, customer_id)
    return [
        {name: show(v) if show else v for (name, show), v in zip(columns, row, strict=True)}
        for row in rows
    ]
