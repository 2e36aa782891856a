"""The sandbox's own admin API under ``/_sandbox/`` (no auth, not part of the Enectiva API)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from enectiva.times import TimeFormatError, parse_timestamp
from enectiva_sandbox.faults import Stats
from enectiva_sandbox.jsonapi import iso_z
from enectiva_sandbox.store import Credential

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
    customer = request.query_params.get("customer_id") or server.store.get_meta("main_customer")
    if path.startswith("records/") and method == "GET":
        kind = path.split("/", 1)[1]
        if kind not in _RECORD_COLUMNS:
            kinds = ", ".join(_RECORD_COLUMNS)
            return _json({"errors": [f"kind must be one of {kinds}"]}, 404)
        return _json(records(server, kind, customer or ""))
    if path == "tokens" and method == "GET":
        found = server.store.credentials().values()
        mine = sorted((c for c in found if c.customer_id == customer), key=lambda c: c.name)
        return _json([token_state(c) for c in mine])
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "tokens" and method == "POST":
        return await _change_token(server, request, customer or "", parts[1], parts[2])
    return _json({"errors": [f"no admin endpoint {method} {raw_path}"]}, 404)


def token_state(credential: Credential) -> dict[str, Any]:
    """A token's name, kind, window and state (never the token itself)."""
    return {
        "name": credential.name,
        "kind": credential.kind,
        "customer_id": credential.customer_id,
        "not_before": iso_z(credential.not_before),
        "not_after": iso_z(credential.not_after),
        "revoked": credential.revoked,
        "valid": credential.valid_at(time.time()),
    }


async def _change_token(
    server: Server, request: Request, customer: str, name: str, action: str
) -> Response:
    """``POST /_sandbox/tokens/{name}/expire|revoke|window`` (``?customer_id=``, else main)."""
    store = server.store
    current = store.credential_named(customer, name)
    if current is None:
        return _json({"errors": [f"customer {customer} has no token named {name!r}"]}, 404)
    if action == "expire":  # its window ends now
        store.set_token_window(customer, name, current.not_before, int(time.time()))
    elif action == "revoke":
        store.revoke_token(customer, name)
    elif action == "window":
        try:
            body = msgspec.json.decode(await request.body() or b"{}")
            if not isinstance(body, dict) or set(body) - {"not_before", "not_after"}:
                raise ValueError("the body takes only not_before and not_after")
            start, end = (_epoch_or_none(body.get(k)) for k in ("not_before", "not_after"))
        except (msgspec.DecodeError, TimeFormatError, ValueError, TypeError, AttributeError) as exc:
            return _json({"errors": [f"window: {exc} (RFC 3339 times or null)"]}, 400)
        store.set_token_window(customer, name, start, end)
    else:
        return _json({"errors": [f"no token action {action!r} (expire, revoke, window)"]}, 404)
    changed = store.credential_named(customer, name)
    assert changed is not None
    return _json(token_state(changed))


def _epoch_or_none(value: Any) -> int | None:
    return None if value is None else int(parse_timestamp(value).timestamp())


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
