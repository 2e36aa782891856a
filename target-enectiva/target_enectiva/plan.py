"""The request for a checked record: :class:`RequestPlan` builds a :class:`Job`.

One plan per sink: the contract's operations and the URLs are looked up once, so per record
only the body is encoded and the series' lane named. The record was checked before (see
:class:`~target_enectiva.sinks.RecordPreparation`); nothing here refuses a record.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import msgspec

from enectiva import contract, rules
from target_enectiva.kinds import Kind

#: Request bodies are encoded with msgspec: compact UTF-8 JSON, a few times cheaper than json.
_BODY_ENCODER = msgspec.json.Encoder()


@dataclass(slots=True, eq=False)
class Job:
    """One record turned into its request."""

    stream: str
    kind: Kind
    method: str
    url: str  # absolute and already percent-encoded
    body: bytes | None
    lane: tuple[str, ...]
    key: str  # names the record in messages
    record: dict[str, t.Any]  # as received, for the rejects file
    order_value: datetime | None = None  # compared with the series' latest (skip option)
    latest_url: str | None = None
    seq: int = -1

    @property
    def is_delete(self) -> bool:
        return self.method == "DELETE"


class RequestPlan:
    """How checked records of one kind become requests (URLs precomputed per sink)."""

    def __init__(
        self, kind: Kind, stream: str, *, api_url: str, customer_id: str, want_order: bool
    ) -> None:
        self.kind = kind
        self.stream = stream
        self.api_url = api_url.rstrip("/")
        self.customer_id = customer_id
        self.create = contract.operation(kind.create_operation)
        self.delete = contract.operation(kind.delete_operation) if kind.delete_operation else None
        latest = contract.operation(kind.latest_operation) if kind.latest_operation else None
        #: The latest endpoint, when ``skip_already_imported`` compares records with it.
        self.latest = latest if want_order and kind.order_field else None
        #: Invoices are created under their meter (``{meterId}`` in the path), the rest per
        #: customer (one URL for every record).
        self.per_meter = "{meterId}" in self.create.path
        self.create_url = (
            None if self.per_meter else self.api_url + self.create.url_path(customerId=customer_id)
        )

    def create_job(
        self,
        attributes: dict[str, t.Any],
        *,
        key: str,
        record: dict[str, t.Any],
        meter_id: str | None,
        order_value: datetime | None,
    ) -> Job:
        """The create (or upsert) request; ``meter_id`` for invoices, ``order_value`` to skip."""
        body = {"data": {"type": self.kind.api_type, "attributes": attributes}}
        if meter_id is not None:
            url = self.api_url + self.create.url_path(meterId=meter_id)
            lane: tuple[str, ...] = (self.kind.name, meter_id)
        else:
            assert self.create_url is not None
            url = self.create_url
            lane = (self.kind.name, *rules.series_key(attributes))
        job = Job(
            stream=self.stream,
            kind=self.kind,
            method=self.create.method,
            url=url,
            body=_BODY_ENCODER.encode(body),
            lane=lane,
            key=key,
            record=record,
        )
        if self.latest is not None:
            job.order_value = order_value
            job.latest_url = self.api_url + self.latest.url_path(
                customerId=self.customer_id, importId=lane[1], suit=lane[2]
            )
        return job

    def delete_job(
        self, attributes: dict[str, t.Any], *, key: str, record: dict[str, t.Any]
    ) -> Job:
        """The delete request of a series record (its times in the query)."""
        assert self.delete is not None
        import_id, suit = rules.series_key(attributes)
        path = self.delete.url_path(customerId=self.customer_id, importId=import_id, suit=suit)
        query = "&".join(
            f"{name}={quote(str(attributes[name]), safe='')}" for name in self.kind.time_fields
        )
        return Job(
            stream=self.stream,
            kind=self.kind,
            method=self.delete.method,
            url=f"{self.api_url}{path}?{query}",
            body=None,
            lane=(self.kind.name, import_id, suit),
            key=key,
            record=record,
        )
