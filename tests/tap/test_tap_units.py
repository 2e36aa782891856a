"""The tap's request building and answer handling, without a server."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse, urlsplit

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.streams.rest import PageContext
from tap_enectiva.client import utc_time
from tap_enectiva.errors import TapError, brief
from tap_enectiva.paging import NextLinkPaginator
from tap_enectiva.tap import TapEnectiva

from enectiva.errors import parse_error
from enectiva.fatal import fatal_line
from enectiva.policy import Action, Answer, Attempts, decide

BASE = {"api_url": "http://api.test", "login_token": "login-secret-token"}


def make_tap(state: dict | None = None, **config: object) -> TapEnectiva:
    return TapEnectiva(config={**BASE, **config}, state=state or {}, setup_mapper=False)


def first_page_query(stream, context: dict) -> dict[str, list[str]]:
    request = stream.get_http_request(page=PageContext(context, None))
    prepared = requests.Request("GET", request.url, params=request.encode_params()).prepare()
    return parse_qs(urlsplit(prepared.url).query)


def answer(status: int, body: dict | None = None, headers: dict | None = None):
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body or {}).encode()
    response.headers.update(headers or {})
    response.request = requests.Request("GET", "http://api.test/meters").prepare()
    return response


def partition_state(stream: str, key: str, value: str, context: dict) -> dict:
    return {
        "bookmarks": {
            stream: {
                "partitions": [
                    {"context": context, "replication_key": key, "replication_key_value": value}
                ]
            }
        }
    }


def test_first_run_filters_from_start_date_inclusive_and_sorts():
    tap = make_tap(start_date="2024-03-01T00:00:00+01:00", end_date="2024-04-01T00:00:00Z")
    query = first_page_query(tap.streams["readings"], {"meter_id": "7"})
    assert query["filter[]"] == [
        "readings.time>=2024-02-29T23:00:00Z",
        "readings.time<2024-04-01T00:00:00Z",
    ]
    assert query["sort"] == ["time"]


def test_bookmark_filters_strictly_after_it():
    context = {"meter_id": "7"}
    state = partition_state("readings", "time", "2024-03-05T10:00:00Z", context)
    tap = make_tap(state, start_date="2024-01-01T00:00:00Z")
    query = first_page_query(tap.streams["readings"], context)
    assert query["filter[]"] == ["readings.time>2024-03-05T10:00:00Z"]


def test_start_date_later_than_bookmark_wins():
    context = {"data_series_id": "3"}
    state = partition_state("data_points", "time", "2023-01-01T00:00:00Z", context)
    tap = make_tap(state, start_date="2024-01-01T00:00:00Z")
    query = first_page_query(tap.streams["data_points"], context)
    assert query["filter[]"] == ["data_series.time>=2024-01-01T00:00:00Z"]


@pytest.mark.parametrize(
    ("stream", "key", "lookback", "expected"),
    [
        ("readings", "meter_id", 2, "readings.time>2024-03-03T10:00:00Z"),
        ("data_points", "data_series_id", 0.5, "data_series.time>2024-03-04T22:00:00Z"),
        ("readings", "meter_id", 0, "readings.time>2024-03-05T10:00:00Z"),
        # The window never reaches before start_date: from start_date on, inclusive.
        ("readings", "meter_id", 30, "readings.time>=2024-03-01T00:00:00Z"),
    ],
)
def test_lookback_days_moves_the_first_instant_back_from_the_bookmark(
    stream, key, lookback, expected
):
    context = {key: "7"}
    state = partition_state(stream, "time", "2024-03-05T10:00:00Z", context)
    tap = make_tap(state, start_date="2024-03-01T00:00:00Z", lookback_days=lookback)
    assert first_page_query(tap.streams[stream], context)["filter[]"] == [expected]


def test_filter_values_are_percent_encoded():
    tap = make_tap(start_date="2024-03-01T00:00:00Z")
    request = tap.streams["readings"].get_http_request(page=PageContext({"meter_id": "7"}, None))
    encoded = request.encode_params()
    assert "filter%5B%5D=readings.time%3E%3D2024-03-01T00%3A00%3A00Z" in encoded
    assert request.url == "http://api.test/meters/7/readings"


def test_next_pages_follow_links_next_verbatim():
    tap = make_tap(start_date="2024-03-01T00:00:00Z")
    link = "http://api.test/meters/7/readings?page=2&filter%5B%5D=readings.time%3E1"
    page = PageContext({"meter_id": "7"}, urlparse(link))
    request = tap.streams["readings"].get_http_request(page=page)
    assert request.url == link
    assert request.encode_params() == ""


@pytest.mark.parametrize(
    ("bookmark", "lookback", "expected"),
    [
        ("2024-06-01T00:00:00", 3, "2024-03-01T00:00:00"),
        ("2024-02-01T00:00:00", 3, "2023-11-01T00:00:00"),
        ("2024-06-01T00:00:00", 0, "2024-06-01T00:00:00"),
    ],
)
def test_deltas_reread_the_lookback_window(bookmark, lookback, expected):
    context = {"meter_id": "7"}
    state = partition_state("meter_deltas", "time", bookmark, context)
    tap = make_tap(state, start_date="2020-01-15T00:00:00Z", deltas_lookback_months=lookback)
    query = first_page_query(tap.streams["meter_deltas"], context)
    assert query["filter[]"] == [f"meter_deltas.time>={expected}"]


def test_deltas_first_run_starts_at_start_dates_month():
    tap = make_tap(start_date="2024-05-20T10:00:00Z")
    query = first_page_query(tap.streams["entity_deltas"], {"entity_id": "1"})
    assert query["filter[]"] == ["entity_deltas.time>=2024-05-01T00:00:00"]


def test_lookback_never_goes_before_start_date():
    context = {"virtual_meter_id": "4"}
    state = partition_state("virtual_meter_deltas", "time", "2024-02-01T00:00:00", context)
    tap = make_tap(state, start_date="2024-01-10T00:00:00Z")
    query = first_page_query(tap.streams["virtual_meter_deltas"], context)
    assert query["filter[]"] == ["virtual_meter_deltas.time>=2024-01-01T00:00:00"]


def test_paginator_ends_only_when_links_next_is_null():
    paginator = NextLinkPaginator()
    short_page = answer(200, {"data": [{"id": "1"}], "links": {"next": "http://api.test/x?page=2"}})
    paginator.advance(short_page)
    assert not paginator.finished
    assert paginator.current_value.geturl() == "http://api.test/x?page=2"
    empty_page = answer(200, {"data": [], "links": {"next": "http://api.test/x?page=3"}})
    assert paginator.continue_if_empty(empty_page)
    paginator.advance(answer(200, {"data": [], "links": {"next": None}}))
    assert paginator.finished


def test_times_are_emitted_in_utc_with_z():
    assert utc_time("2024-01-31T23:00:00Z") == "2024-01-31T23:00:00Z"
    assert utc_time("2024-02-01T00:00:00+01:00") == "2024-01-31T23:00:00Z"
    assert utc_time("2024-02-01T00:00:00.750+00:00") == "2024-02-01T00:00:00Z"


def read_failure(stream, status: int, body: dict, headers: dict | None = None):
    """What the stream raises for an answer the policy does not retry (None: it retries)."""
    response = answer(status, body, headers)
    error = parse_error(status, response.content)
    said = Answer(status, error.code, brief(error.detail), response.headers)
    decision = decide(stream._policy_request, said, Attempts())
    if decision.action is Action.RETRY:
        return None
    return stream.refusal_error(said, decision)


def test_answers_map_to_retry_or_a_clear_failure():
    stream = make_tap().streams["meters"]
    assert read_failure(stream, 503, {"errors": [{"status": "503", "title": "x"}]}) is None
    assert read_failure(stream, 429, {}, {"Retry-After": "1"}) is None
    detail = {"errors": [{"status": "400", "title": "Invalid", "detail": "bad filter value"}]}
    failure = read_failure(stream, 400, detail)
    assert isinstance(failure, FatalAPIError)
    assert re.search(r"stream 'meters'.*bad filter value", str(failure))
    failure = read_failure(stream, 403, {"errors": [{"status": "403", "title": "F"}]})
    assert isinstance(failure, TapError)
    assert re.search(r"stream 'meters' needs the 'meters' scope", str(failure))


def test_catalog_has_contract_schemas_and_no_secrets():
    tap = make_tap()
    catalog = json.dumps(tap.catalog_dict)
    assert "login-secret-token" not in catalog
    readings = tap.streams["readings"]
    assert readings.primary_keys == ("meter_id", "time")
    assert readings.replication_key == "time"
    assert set(readings.schema["properties"]) == {
        "id",
        "meter_id",
        "import_id",
        "suit",
        "time",
        "state",
        "unit",
    }
    deltas = tap.streams["meter_deltas"].schema["properties"]
    assert "format" not in deltas["time"]  # local month start, no offset
    assert "time_zone" in deltas


@pytest.mark.parametrize(
    ("status", "action"),
    [(400, "check the stream's ids and dates in the config"), (403, "a token with that scope")],
)
def test_failure_lines_keep_their_action_within_200_characters(status, action):
    stream = make_tap().streams["virtual_meter_deltas"]
    detail = {"errors": [{"status": str(status), "title": "T", "detail": "very long " * 60}]}
    failure = read_failure(stream, status, detail)
    assert isinstance(failure, TapError | FatalAPIError)
    line = fatal_line("tap-enectiva", str(failure))
    assert line.startswith("tap-enectiva: error: stream 'virtual_meter_deltas'")
    assert line.endswith(action) and len(line) <= len("tap-enectiva: error: ") + 200


def _reading(time: str) -> dict:
    return {"meter_id": "m1", "time": time, "value": 1.0}


def write_page_records(stream, records: list[dict], context: dict) -> None:
    for record in records:
        stream.note_written(record, context)
    stream.close_page(context)


def test_a_sorted_page_moves_the_bookmark_to_its_last_time_and_never_back():
    readings = make_tap().streams["readings"]
    context = {"meter_id": "m1", "import_id": None, "suit": None, "time_zone": None}
    page = [_reading(f"2026-01-01T0{h}:00:00Z") for h in range(4)]
    write_page_records(readings, page, context)
    assert readings.bookmark(context).isoformat() == "2026-01-01T03:00:00+00:00"
    # A page re-read inside the look-back window leaves the bookmark where it is.
    write_page_records(readings, page[:2], context)
    assert readings.bookmark(context).isoformat() == "2026-01-01T03:00:00+00:00"


def test_a_page_out_of_order_still_ends_at_its_latest_time():
    readings = make_tap().streams["readings"]
    context = {"meter_id": "m1", "import_id": None, "suit": None, "time_zone": None}
    write_page_records(readings, [_reading("2026-01-01T05:00:00Z")], context)
    page = [_reading("2026-01-01T07:00:00Z"), _reading("2026-01-01T06:00:00Z")]
    write_page_records(readings, page, context)
    assert readings.bookmark(context).isoformat() == "2026-01-01T07:00:00+00:00"
    # Times not written as UTC text go record by record, to the same end.
    write_page_records(readings, [_reading("2026-01-01T09:00:00+01:00")], context)
    assert readings.bookmark(context) == datetime(2026, 1, 1, 8, tzinfo=UTC)


def test_a_page_written_at_once_gives_the_lines_of_records_written_one_by_one(capsysbinary):
    from singer_sdk.singerlib.encoding.simple import RecordMessage
    from tap_enectiva.output import BufferedMsgSpecWriter

    extracted = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    records = [_reading("2026-01-01T00:00:00Z"), {"id": "x", "value": None, "note": "é\n"}]
    one_by_one, at_once = BufferedMsgSpecWriter(), BufferedMsgSpecWriter()
    for record in records:
        one_by_one.write_record("readings", record, 3, extracted)
    one_by_one.out.flush()
    expected = capsysbinary.readouterr().out
    # the SDK's own RECORD lines
    sdk = [
        RecordMessage(stream="readings", record=r, version=3, time_extracted=extracted)
        for r in records
    ]
    assert expected == b"".join(bytes(one_by_one.format_message(m)) for m in sdk)
    lines = at_once.page_lines("readings", 3, extracted)
    for record in records:
        lines.add(record)
    assert capsysbinary.readouterr().out == b""  # nothing before the page's one write
    lines.write()
    at_once.out.flush()
    assert capsysbinary.readouterr().out == expected
    assert expected.count(b"\n") == 2
    assert at_once.record_bytes == one_by_one.record_bytes == len(expected)


def test_rows_are_let_go_as_they_are_read_and_the_links_stay_readable():
    from tap_enectiva.paging import next_link

    body = {"data": [{"id": str(i), "attributes": {}} for i in range(3)], "links": {"next": "u"}}
    response = answer(200, body)
    rows = make_tap().streams["meters"].parse_response(response)
    assert next(rows)["id"] == "0"
    assert next_link(response) == "u"  # read from the JSON, apart from the rows
    assert [row["id"] for row in rows] == ["1", "2"]


def test_state_lines_are_the_sdks_own():
    from singer_sdk.singerlib.encoding.simple import StateMessage
    from tap_enectiva.output import BufferedMsgSpecWriter, state_line

    value = {
        "bookmarks": {
            "readings": {
                "partitions": [
                    {
                        "context": {"meter_id": "7"},
                        "replication_key": "time",
                        "replication_key_value": "2026-01-01T00:00:00Z",
                        "progress_markers": None,
                    }
                ]
            }
        },
        "note": "é",
    }
    message = StateMessage(value=value)
    assert state_line(message) == bytes(BufferedMsgSpecWriter().format_message(message))
