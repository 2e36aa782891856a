"""Times, error classification and token handling from the shared package."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enectiva import auth, errors, policy, times
from enectiva.errors import Outcome

KEY = "k" * 32


@settings(deadline=None)
@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_timestamp_round_trip(dt: datetime, offset_minutes: int) -> None:
    tz = timezone(timedelta(minutes=offset_minutes))
    aware = dt.replace(tzinfo=tz)
    text = aware.isoformat()
    parsed = times.parse_timestamp(text)
    assert parsed == aware.replace(microsecond=0)
    assert times.parse_timestamp(times.format_timestamp(parsed)) == parsed


@settings(deadline=None)
@given(st.text(max_size=40))
def test_parse_timestamp_only_raises_time_format_error(text: str) -> None:
    with contextlib.suppress(times.TimeFormatError):
        times.parse_timestamp(text)


def test_naive_times() -> None:
    with pytest.raises(times.TimeFormatError, match="offset"):
        times.parse_timestamp("2024-01-01T00:00:00")
    got = times.parse_timestamp("2024-01-01T00:00:00.987", default_tz=UTC)
    assert got == datetime(2024, 1, 1, tzinfo=UTC)


def test_months() -> None:
    d = datetime(2024, 11, 15, 7, 30)
    assert times.add_months(times.month_start(d), 2) == datetime(2025, 1, 1)
    assert times.add_months(datetime(2024, 1, 1), -3) == datetime(2023, 10, 1)
    assert times.format_local(datetime(2024, 1, 1)) == "2024-01-01T00:00:00"


@pytest.mark.parametrize(
    ("status", "code", "kind", "method", "outcome"),
    [
        (201, None, "readings", "POST", Outcome.OK),
        (409, "duplicate", "profiles", "POST", Outcome.DUPLICATE),
        (409, None, "readings", "POST", Outcome.DUPLICATE),
        (409, None, "profiles", "POST", Outcome.REJECT),
        (409, "overlap", "profiles", "POST", Outcome.REJECT),
        (404, "not_found", "readings", "DELETE", Outcome.ALREADY_DELETED),
        (404, "unknown_customer", "readings", "DELETE", Outcome.FATAL),
        (404, "not_found", "received_invoices", "POST", Outcome.REJECT),
        (400, None, "readings", "POST", Outcome.REJECT),
        (401, None, "readings", "POST", Outcome.RENEW_TOKEN),
        (403, None, "readings", "POST", Outcome.FATAL),
        (429, None, "readings", "POST", Outcome.RATE_LIMITED),
        (503, None, "readings", "POST", Outcome.RETRY),
    ],
)
def test_classify(status, code, kind, method, outcome) -> None:
    assert policy.classify(status, code, kind=kind, method=method) is outcome


def test_parse_error_is_tolerant() -> None:
    doc = errors.violations_document([])
    doc["errors"] = [errors.error_object(409, "already stored", code="duplicate")]
    e = errors.parse_error(409, doc)
    assert (e.code, e.detail) == ("duplicate", "already stored")
    assert errors.parse_error(502, b"<html>bad gateway</html>").detail.startswith("<html>")
    assert errors.parse_error(500, b"").detail == "Internal server error"


def test_retry_after() -> None:
    assert policy.retry_after_seconds("3") == 3.0
    assert policy.retry_after_seconds(None) is None
    assert policy.retry_after_seconds("soon") is None
    now = time.time()
    http_date = datetime.fromtimestamp(now + 10, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 8 <= policy.retry_after_seconds(http_date, now=now) <= 11


def test_backoff_is_bounded() -> None:
    for attempt in range(1, 30):
        assert 0 <= policy.backoff_delay(attempt, base=0.5, cap=4) <= 4


def test_access_token_exchange_and_renewal() -> None:
    token, jti, _ = auth.issue_access_token(
        KEY, subject="login-1", customer="c", scopes=["meters"], lifetime=300, now=1000
    )
    doc = {"data": {"type": "access_tokens", "id": jti, "attributes": {"token": token}}}
    held = auth.parse_access_token_document(doc, now=1000)
    assert held.expires_at == 1300 and held.scopes == ("meters",)
    assert not held.should_renew(now=1200)
    assert held.should_renew(now=1271)  # less than 30 s left
    assert token not in repr(held)
    fresh, _, _ = auth.issue_access_token(KEY, subject="s", customer="c", scopes=["readings"])
    assert auth.verify_access_token(KEY, fresh)["scp"] == ["readings"]


def test_expired_and_forged_tokens() -> None:
    token, _, _ = auth.issue_access_token(KEY, subject="s", customer="c", scopes=[], now=0)
    with pytest.raises(auth.TokenError) as info:
        auth.verify_access_token(KEY, token)
    assert info.value.reason == "expired"
    fresh, _, _ = auth.issue_access_token(KEY, subject="s", customer="c", scopes=[])
    with pytest.raises(auth.TokenError) as info:
        auth.verify_access_token(KEY + "x", fresh)
    assert info.value.reason == "invalid"


def test_redact() -> None:
    assert auth.redact("Bearer abcdef failed", ["abcdef", None]) == "Bearer *** failed"


def test_a_long_fatal_line_keeps_its_start_and_what_to_do() -> None:
    from enectiva.fatal import MAX_MESSAGE, fatal_line

    message = "stream readings, record import_id=A time=T: " + "detail " * 60 + "; check api_url"
    line = fatal_line("tap-enectiva", message, ["secret-token"])
    text = line.removeprefix("tap-enectiva: error: ")
    assert len(text) == MAX_MESSAGE
    assert text.startswith("stream readings, record import_id=A time=T: detail")
    assert text.endswith("; check api_url")
    assert "…" in text


def test_a_long_fatal_line_drops_its_details_first() -> None:
    from enectiva.fatal import fatal_line

    message = (
        "line 22: stream readings, record import_id=b-0 time=2024-01-01T00:00:00Z: both "
        "import_token and import_token_secondary were refused (HTTP 401: the bearer token is "
        "not an import token (unknown or invalid) " + "x" * 40 + "); renew them"
    )
    line = fatal_line("target-enectiva", message)
    assert line.endswith("were refused (…); renew them"), line
