"""Unit tests of the target's parts that need no server."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from target_enectiva import DEFAULT_SENDER, schemas
from target_enectiva.invalid import InvalidRecordError
from target_enectiva.kinds import KINDS
from target_enectiva.sinks import RecordPreparation
from target_enectiva.watermark import Watermark

from enectiva import times

CUSTOMER = "11111111-2222-4333-8444-555555555555"


def plan(kind: str, **kwargs) -> RecordPreparation:
    options = {
        "api_url": "http://api.test/",
        "customer_id": CUSTOMER,
        "sender": DEFAULT_SENDER,
        "default_tz": None,
        "want_order": False,
    }
    options.update(kwargs)
    return RecordPreparation(KINDS[kind], kind, **options)


# ---------- schemas ----------


@pytest.mark.parametrize("kind", list(KINDS))
def test_committed_schema_files_equal_the_generator(kind: str) -> None:
    assert schemas.schema_path(kind).read_text(encoding="utf-8") == schemas.render(kind)


def test_invoice_schema_names_its_meter_and_every_kind_accepts_deletes() -> None:
    assert "meter_id" in schemas.load("invoices")["required"]
    for kind in KINDS:
        assert "_sdc_deleted_at" in schemas.load(kind)["properties"]


# ---------- watermark ----------


def test_state_waits_for_every_record_before_it_and_coalesces() -> None:
    written: list[object] = []
    mark = Watermark(written.append)
    a, b = mark.register(), mark.register()
    mark.offer({"s": 1})
    c = mark.register()
    mark.offer({"s": 2})
    assert written == []
    mark.ack(b)  # out of order: a is still pending
    assert written == []
    mark.ack(a)
    assert written == [{"s": 1}]
    mark.ack(c)
    assert written == [{"s": 1}, {"s": 2}]


def test_state_with_nothing_pending_is_written_at_once_and_not_repeated() -> None:
    written: list[object] = []
    mark = Watermark(written.append)
    mark.offer({"s": 1})
    mark.offer({"s": 1})
    assert written == [{"s": 1}]


def test_only_the_latest_releasable_state_is_written() -> None:
    written: list[object] = []
    mark = Watermark(written.append)
    seq = mark.register()
    for n in range(5):
        mark.offer({"s": n})
    assert mark.held_states == 1  # memory stays bounded however many STATEs arrive
    mark.ack(seq)
    assert written == [{"s": 4}]


# ---------- records into requests ----------


def test_reading_becomes_one_post_with_sender_and_floats() -> None:
    job = plan("readings").job_for(
        {"time": "2024-01-01T00:00:00Z", "state": Decimal("12.5"), "import_id": "m1", "id": "x"}
    )
    assert job.method == "POST"
    assert job.url == f"http://api.test/import/readings/{CUSTOMER}"
    assert job.lane == ("readings", "m1", "default")
    body = json.loads(job.body)
    assert body == {
        "data": {
            "type": "readings",
            "attributes": {
                "time": "2024-01-01T00:00:00Z",
                "state": 12.5,
                "import_id": "m1",
                "sender": DEFAULT_SENDER,
            },
        }
    }


def test_naive_time_is_refused_unless_input_time_zone_reads_it() -> None:
    record = {"time": "2024-01-01T00:00:00", "state": 1, "import_id": "m1"}
    with pytest.raises(InvalidRecordError, match="time must carry a UTC offset"):
        plan("readings").job_for(dict(record))
    job = plan("readings", default_tz=times.zone("Europe/Prague")).job_for(dict(record))
    assert json.loads(job.body)["data"]["attributes"]["time"] == "2024-01-01T00:00:00+01:00"


def test_deletes_address_the_series_by_time_or_range() -> None:
    job = plan("readings").job_for(
        {
            "time": "2024-01-01T00:00:00+01:00",
            "import_id": "a/b:c",
            "suit": "s1",
            "_sdc_deleted_at": "2024-02-01T00:00:00Z",
        }
    )
    assert job.method == "DELETE"
    assert job.body is None
    assert job.url == (
        f"http://api.test/import/readings/{CUSTOMER}/a%2Fb%3Ac/s1?time=2024-01-01T00%3A00%3A00%2B01%3A00"
    )
    job = plan("profiles").job_for(
        {
            "from": "2024-01-01T00:00:00Z",
            "to": "2024-01-01T01:00:00Z",
            "import_id": "p",
            "_sdc_deleted_at": "2024-02-01T00:00:00Z",
        }
    )
    assert job.url.endswith(
        "/import/profiles/" + CUSTOMER + "/p/default?from=2024-01-01T00%3A00%3A00Z"
        "&to=2024-01-01T01%3A00%3A00Z"
    )


def test_invoices_cannot_be_deleted_and_need_a_meter() -> None:
    invoice = {"from": "2024-01-01", "to": "2024-01-31", "cost": 10}
    with pytest.raises(InvalidRecordError, match="meter_id is required"):
        plan("invoices").job_for(dict(invoice))
    with pytest.raises(InvalidRecordError, match="invoices cannot be deleted"):
        plan("invoices").job_for({**invoice, "meter_id": "7", "_sdc_deleted_at": "2024-02-01"})
    job = plan("invoices").job_for({**invoice, "meter_id": "7"})
    assert job.url == "http://api.test/meters/7/invoices/received"
    assert job.kind.token == "access"
    assert json.loads(job.body)["data"]["attributes"] == invoice


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"time": "2024-01-01T00:00:00Z", "state": 1}, "import_id is required"),
        ({"time": "2999-01-01T00:00:00Z", "state": 1, "import_id": "m"}, "must be in the past"),
        ({"time": "2024-01-01T00:00:00Z", "state": 1, "import_id": "m n"}, "white space"),
        ({"time": "2024-01-01T00:00:00Z", "state": 1e400, "import_id": "m"}, "finite"),
    ],
)
def test_rule_breaks_are_named(record: dict, message: str) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        plan("readings").job_for(record)
