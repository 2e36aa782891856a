"""The cached reading-import path answers as the plain SQL rules would (in-process, no socket).

Creates at random times (out of order, duplicates, corrections, suspicious jumps and units),
deletes and a reopened database: after each step the answer must match what the stored
readings say, computed from the database alone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
from enectiva_sandbox.app import Server, build_app
from enectiva_sandbox.jsonapi import iso_z
from enectiva_sandbox.seed import credentials, seed
from enectiva_sandbox.store import Store
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from enectiva import rules
from enectiva.media import MEDIA_TYPE

BASE = 1_704_067_200  # 2024-01-01T00:00:00Z
SERIES = ("a", "b")

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"),
            st.sampled_from(SERIES),
            st.integers(0, 8),  # time slot: small, so duplicates and corrections happen
            st.sampled_from([1.0, 2.0, 1500.0, 3000.0, 0.0]),
            st.sampled_from(["kWh", "kWh", "MWh"]),
        ),
        st.tuples(st.just("delete"), st.sampled_from(SERIES), st.integers(0, 8)),
        st.tuples(st.just("reopen")),
    ),
    max_size=40,
)


class InProcess:
    """One sandbox server over a database file, called through its ASGI app."""

    def __init__(self, path: Path) -> None:
        self.store = Store(path)
        if self.store.new:
            seed(self.store, "empty")
        self.creds = credentials(self.store, "http://test")
        self.app = build_app(Server(self.store, secret=self.store.get_meta("jwt_secret") or ""))

    def call(self, method: str, path: str, body: bytes = b"", query: bytes = b"") -> Any:
        headers = [
            (b"host", b"test"),
            (b"accept", MEDIA_TYPE.encode()),
            (b"authorization", f"Bearer {self.creds['import_token']}".encode()),
        ]
        if body:
            headers.append((b"content-type", MEDIA_TYPE.encode()))
        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode()}
        scope.update(query_string=query, headers=headers, scheme="http")
        answer: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            else:
                answer["doc"] = msgspec.json.decode(message["body"]) if message["body"] else None

        asyncio.run(self.app(scope, receive, send))
        return answer["status"], answer["doc"]

    def expected(self, import_id: str, t: int, state: float, unit: str) -> tuple[int, bool]:
        """Status and suspicious flag from the stored rows alone (no cache)."""
        customer = self.creds["customer_id"]
        meter = self.store.one(
            "SELECT id, unit FROM meters WHERE customer_id = ? AND import_id = ? AND suit = ?",
            (customer, import_id, "default"),
        )
        if meter is None:
            return 201, False
        same = self.store.one(
            "SELECT state FROM readings WHERE meter_id = ? AND time = ?", (meter["id"], t)
        )
        if same is not None and same[0] == state:
            return 409, False
        previous = self.store.one(
            "SELECT state FROM readings WHERE meter_id = ? AND time < ? AND suspicious = 0 "
            "ORDER BY time DESC LIMIT 1",
            (meter["id"], t),
        )
        prev = None if previous is None else previous[0]
        return 201, rules.is_suspicious(unit, meter["unit"], state, prev)

    def close(self) -> None:
        self.store.close()


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
@example(  # the latest valid reading deleted: the next one compares with the one before
    steps=[
        ("create", "a", 0, 1.0, "kWh"),
        ("create", "a", 1, 2.0, "kWh"),
        ("delete", "a", 1),
        ("create", "a", 2, 1500.0, "kWh"),
    ]
)
@example(  # a reopened database: the tail comes back from the stored rows
    steps=[("create", "a", 0, 1.0, "kWh"), ("reopen",), ("create", "a", 3, 3000.0, "kWh")]
)
def test_cached_reading_path_matches_the_stored_rows(tmp_path: Path, steps: list[tuple]) -> None:
    path = tmp_path / f"hot-{abs(hash(tuple(steps)))}.db"
    path.unlink(missing_ok=True)
    server = InProcess(path)
    customer = server.creds["customer_id"]
    try:
        for step in steps:
            if step[0] == "reopen":
                server.close()
                server = InProcess(path)
                continue
            import_id, t = step[1], BASE + 900 * step[2]
            if step[0] == "delete":
                status, _ = server.call(
                    "DELETE",
                    f"/import/readings/{customer}/{import_id}/default",
                    query=f"time={iso_z(t)}".encode(),
                )
                assert status in (204, 404)
                continue
            state, unit = step[3], step[4]
            want_status, want_suspicious = server.expected(import_id, t, state, unit)
            attributes = {"import_id": import_id, "time": iso_z(t), "state": state, "unit": unit}
            body = msgspec.json.encode({"data": {"type": "readings", "attributes": attributes}})
            status, doc = server.call("POST", f"/import/readings/{customer}", body)
            assert status == want_status, doc
            if status == 201:
                assert doc["data"]["attributes"]["suspicious"] is want_suspicious
                stored = server.store.one(
                    "SELECT time, state, suspicious FROM readings WHERE id = ?",
                    (int(doc["data"]["id"]),),
                )
                assert tuple(stored) == (t, state, int(want_suspicious))
    finally:
        server.close()
