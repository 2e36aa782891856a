"""Every decision of the answer policy, table-driven (contract sections 1, 5, 7 and 8)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enectiva.auth import AccessToken
from enectiva.credentials import AccessTokens, TokenPair
from enectiva.errors import Outcome
from enectiva.policy import (
    Action,
    Answer,
    Attempts,
    CredentialPolicy,
    Limits,
    Request,
    backoff_delay,
    classify,
    decide,
    retry_after_seconds,
)

DONE, REJECT, RETRY, STOP = Action.DONE, Action.REJECT, Action.RETRY, Action.STOP


@pytest.mark.parametrize(
    ("token", "method", "kind", "status", "code", "action", "outcome"),
    [
        ("import", "POST", "readings", 201, None, DONE, Outcome.OK),
        ("import", "POST", "profiles", 200, None, DONE, Outcome.OK),
        ("import", "DELETE", "readings", 204, None, DONE, Outcome.OK),
        ("access", "GET", "meters", 200, None, DONE, Outcome.OK),
        ("import", "POST", "readings", 409, "duplicate", DONE, Outcome.DUPLICATE),
        ("import", "POST", "readings", 409, None, DONE, Outcome.DUPLICATE),
        ("import", "POST", "data_points", 409, None, DONE, Outcome.DUPLICATE),
        ("import", "POST", "profiles", 409, None, REJECT, Outcome.REJECT),
        ("import", "POST", "profiles", 409, "overlap", REJECT, Outcome.REJECT),
        ("access", "POST", "received_invoices", 409, "duplicate", DONE, Outcome.DUPLICATE),
        ("access", "POST", "received_invoices", 409, None, REJECT, Outcome.REJECT),
        ("import", "DELETE", "readings", 404, "not_found", DONE, Outcome.ALREADY_DELETED),
        ("import", "DELETE", "readings", 404, None, DONE, Outcome.ALREADY_DELETED),
        ("import", "DELETE", "readings", 404, "unknown_customer", STOP, Outcome.FATAL),
        ("import", "POST", "readings", 404, "unknown_customer", STOP, Outcome.FATAL),
        ("access", "POST", "received_invoices", 404, "not_found", REJECT, Outcome.REJECT),
        ("access", "GET", "readings", 404, "not_found", REJECT, Outcome.REJECT),
        ("import", "POST", "readings", 400, None, REJECT, Outcome.REJECT),
        ("import", "POST", "readings", 422, None, REJECT, Outcome.REJECT),
        ("import", "POST", "readings", 403, None, STOP, Outcome.FATAL),
        ("access", "GET", "meters", 403, None, STOP, Outcome.FATAL),
        ("import", "POST", "readings", 406, None, STOP, Outcome.FATAL),
        ("import", "POST", "readings", 415, None, STOP, Outcome.FATAL),
        ("import", "POST", "readings", 500, None, RETRY, None),
        ("access", "GET", "meters", 502, None, RETRY, None),
        ("import", "POST", "readings", 503, None, RETRY, None),
        ("import", "POST", "readings", 408, None, RETRY, None),
        ("import", "POST", "readings", 0, None, RETRY, None),
        ("import", "POST", "readings", 429, None, RETRY, None),
        ("access", "GET", "meters", 429, None, RETRY, None),
        ("login", "POST", None, 201, None, DONE, Outcome.OK),
        ("login", "POST", None, 403, None, STOP, Outcome.FATAL),
        ("login", "POST", None, 400, None, STOP, Outcome.FATAL),
        ("login", "POST", None, 429, None, RETRY, None),
        ("login", "POST", None, 503, None, RETRY, None),
        ("login", "POST", None, 0, None, RETRY, None),
    ],
)
def test_decisions(token, method, kind, status, code, action, outcome) -> None:
    request = Request(token=token, method=method, kind=kind)
    decision = decide(request, Answer(status, code, "why"), Attempts())
    assert decision.action is action
    assert decision.outcome is outcome
    assert bool(decision.reason) == (action in (REJECT, STOP))
    if token != "login" and outcome is not None:  # the exchange has no records to reject
        assert classify(status, code, kind=kind, method=method) is outcome


@pytest.mark.parametrize(
    ("request_", "status", "says"),
    [
        (Request("import", "POST", "readings"), 403, "other customer or missing scope"),
        (Request("access", "GET", "meters", scope="meters"), 403, "needs the 'meters' scope"),
        (Request("import", "POST", "readings"), 404, "check customer_id"),
        (Request("import", "POST", "readings"), 415, "media type"),
        (Request("login", "POST"), 403, "check login_token and api_url"),
    ],
)
def test_stops_say_what_to_do(request_: Request, status: int, says: str) -> None:
    code = "unknown_customer" if status == 404 else None
    decision = decide(request_, Answer(status, code, "nope"), Attempts())
    assert decision.action is STOP and says in decision.reason
    assert f"HTTP {status}: nope" in decision.reason


def test_retries_are_bounded_by_max_retries() -> None:
    limits = Limits(max_retries=3)
    request = Request("import", "POST", "readings")
    assert decide(request, Answer(503), Attempts(failures=2), limits).action is RETRY
    stop = decide(request, Answer(503, detail="busy"), Attempts(failures=3), limits)
    assert stop.action is STOP and stop.reason == "gave up after 3 retries: HTTP 503: busy"
    gone = decide(request, Answer(0, detail="ConnectionResetError"), Attempts(failures=3), limits)
    assert gone.reason == "gave up after 3 retries: ConnectionResetError"


def test_backoff_has_full_jitter_and_a_cap() -> None:
    rng = random.Random(5)
    request = Request("import", "POST", "readings")
    delays = [decide(request, Answer(500), Attempts(failures=n), rng=rng).delay for n in range(8)]
    assert all(0 <= d <= 30 for d in delays) and len(set(delays)) == len(delays)
    for attempt in range(1, 80):
        assert 0 <= backoff_delay(attempt, base=0.5, cap=4) <= 4


def test_429_waits_retry_after_and_is_bounded_separately() -> None:
    request = Request("import", "POST", "readings")
    wait = decide(request, Answer(429, headers={"retry-after": "3"}), Attempts(failures=8))
    assert (wait.action, wait.delay) == (RETRY, 3.0)  # 429s do not use up max_retries
    assert decide(request, Answer(429), Attempts()).delay == 0.0  # the pacer's pause applies
    limits = Limits(max_throttles=5)
    stop = decide(request, Answer(429), Attempts(throttles=5), limits)
    assert stop.action is STOP and "rate limit" in stop.reason


def test_retry_after_as_seconds_and_as_http_date() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("-4") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds("Sun, 01 Mar 2026 12:00:10 GMT", now) == 10.0
    assert retry_after_seconds("Sun, 01 Mar 2026 11:59:00 GMT", now) == 0.0  # past: at once
    request = Request("access", "GET", "meters")
    answer = Answer(429, headers={"Retry-After": "Sun, 01 Mar 2026 12:00:07 GMT"})
    assert decide(request, answer, Attempts(), wall_now=now).delay == 7.0
    assert retry_after_seconds("Sun, 01 Mar 2026 12:00:10 GMT", now) == 10.0
    assert classify(409, None, kind="readings", method="POST") is Outcome.DUPLICATE


@given(
    status=st.integers(min_value=0, max_value=599),
    code=st.sampled_from([None, "duplicate", "overlap", "not_found", "unknown_customer", "x"]),
    token=st.sampled_from(["import", "access", "login"]),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    failures=st.integers(min_value=0, max_value=20),
)
def test_every_answer_has_one_decision(status, code, token, method, failures) -> None:
    request = Request(token=token, method=method, kind="readings")
    decision = decide(request, Answer(status, code, "d"), Attempts(failures=failures))
    assert decision.delay >= 0
    if decision.action is RETRY:
        assert status in (0, 408, 429) or status >= 500
    if decision.action is DONE:
        assert 200 <= status < 300 or status in (404, 409)
    if token == "login":
        assert decision.action in (DONE, RETRY, STOP)


# ---------- through the per-credential facade: tokens, pacer, counters ----------


def import_policy(second: str | None = "imp-2") -> CredentialPolicy:
    return CredentialPolicy("import", TokenPair("imp-1", second, setting="import_token"))


def answer_once(policy: CredentialPolicy, request: Request, answer: Answer, now: float = 0.0):
    slot = policy.reserve(now)
    assert policy.start(slot, slot.at) == 0.0
    grant = policy.grant(slot.at)
    assert grant is not None
    attempts = Attempts()
    return grant, policy.answered(slot, request, grant, answer, attempts, slot.at), attempts


def test_import_401_switches_with_one_warning_and_a_second_401_stops() -> None:
    policy = import_policy()
    write = Request("import", "POST", "readings")
    grant, switched, attempts = answer_once(policy, write, Answer(401, detail="expired"))
    assert grant.setting == "import_token"
    assert switched.action is Action.SWITCH and attempts.refusals == 1
    assert switched.warning == (
        "import_token was refused (HTTP 401: expired); using import_token_secondary "
        "for the rest of the run"
    )
    grant, stopped, _ = answer_once(policy, write, Answer(401, detail="expired"))
    assert grant.setting == "import_token_secondary"
    assert stopped.action is STOP
    assert "import_token and import_token_secondary" in stopped.reason
    summary = policy.summary(10.0)
    assert (summary.switches, summary.setting, summary.requests) == (
        1,
        "import_token_secondary",
        2,
    )
    assert "imp-" not in summary.line()


def test_import_401_without_a_second_token_stops() -> None:
    _, decision, _ = answer_once(import_policy(None), Request("import", "POST"), Answer(401))
    assert decision.action is STOP and decision.reason.endswith("check import_token")


def test_403_never_switches() -> None:
    policy = import_policy()
    _, decision, _ = answer_once(policy, Request("import", "POST", "readings"), Answer(403))
    assert decision.action is STOP
    assert policy.summary(1.0).switches == 0 and policy.grant(1.0).setting == "import_token"  # type: ignore[union-attr]


def test_access_401_renews_then_probation_switches_to_the_second_login_token() -> None:
    tokens = AccessTokens(TokenPair("login-1", "login-2", setting="login_token"))
    policy = CredentialPolicy("login", tokens)
    read = Request("access", "GET", "meters")
    assert policy.grant(0.0) is None  # exchange first
    login = tokens.login()
    tokens.obtained(login, AccessToken("acc-1", expires_at=300.0, obtained_at=0.0))
    _, first, _ = answer_once(policy, read, Answer(200))
    assert first.action is DONE
    _, renew, _ = answer_once(policy, read, Answer(401))
    assert renew.action is Action.RENEW and policy.grant(0.0) is None
    tokens.obtained(tokens.login(), AccessToken("acc-2", expires_at=300.0, obtained_at=0.0))
    _, switch, _ = answer_once(policy, read, Answer(401))
    assert switch.action is Action.SWITCH and "login_token_secondary" in switch.warning
    assert tokens.login().setting == "login_token_secondary"


def test_a_429_through_the_facade_pauses_the_credential() -> None:
    policy = import_policy()
    write = Request("import", "POST", "readings")
    answer = Answer(429, headers={"Retry-After": "2", "X-RateLimit-Limit": "10"})
    _, decision, attempts = answer_once(policy, write, answer, now=5.0)
    assert decision.delay == 2.0 and attempts.throttles == 1
    later = policy.reserve(5.0)
    assert later.at >= 7.0
    summary = policy.summary(7.0)
    assert (summary.throttled, summary.rate, summary.learned) == (1, 10.0, False)


def test_transport_failures_count_and_retry() -> None:
    policy = import_policy()
    slot = policy.reserve(0.0)
    policy.start(slot, slot.at)
    grant = policy.grant(0.0)
    assert grant is not None
    attempts = Attempts()
    decision = policy.failed(slot, Request("import", "POST"), grant, "timeout", attempts, 1.0)
    assert decision.action is RETRY and attempts.failures == 1
    assert policy.summary(1.0).requests == 1
