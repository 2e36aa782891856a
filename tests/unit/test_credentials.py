"""The token state machines: switch once, renew, probation (contract sections 5 and 8)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from enectiva.auth import AccessToken
from enectiva.credentials import AccessTokens, TokenPair, Verdict

WHY = "HTTP 401: token expired"


def pair(second: str | None = "imp-2") -> TokenPair:
    return TokenPair("imp-1", second, setting="import_token")


def test_import_401_switches_once_to_the_second_token() -> None:
    tokens = pair()
    first = tokens.grant()
    assert (first.setting, first.secret) == ("import_token", "imp-1")
    refusal = tokens.refused(first, WHY)
    assert refusal.verdict is Verdict.SWITCH
    assert refusal.message == (
        f"import_token was refused ({WHY}); using import_token_secondary for the rest of the run"
    )
    assert "imp-" not in refusal.message
    second = tokens.grant()
    assert (second.setting, second.secret) == ("import_token_secondary", "imp-2")
    assert tokens.switches == 1


def test_requests_in_flight_with_the_first_token_retry_without_switching_again() -> None:
    tokens = pair()
    in_flight = [tokens.grant() for _ in range(5)]
    verdicts = [tokens.refused(grant, WHY).verdict for grant in in_flight]
    assert verdicts == [Verdict.SWITCH] + [Verdict.RETRY] * 4
    assert tokens.switches == 1


def test_both_refused_stops_naming_both_settings() -> None:
    tokens = pair()
    tokens.refused(tokens.grant(), WHY)
    refusal = tokens.refused(tokens.grant(), WHY)
    assert refusal.verdict is Verdict.STOP
    assert "import_token and import_token_secondary" in refusal.message
    assert tokens.switches == 1


def test_without_a_second_token_a_401_stops() -> None:
    tokens = pair(None)
    refusal = tokens.refused(tokens.grant(), WHY)
    assert refusal.verdict is Verdict.STOP
    assert refusal.message == f"import_token was refused ({WHY}); check import_token"
    assert not tokens.has_secondary and tokens.switches == 0


def token(value: str, now: float, lifetime: float = 300.0) -> AccessToken:
    return AccessToken(token=value, expires_at=now + lifetime, obtained_at=now)


def logins(second: str | None = "login-2") -> AccessTokens:
    return AccessTokens(TokenPair("login-1", second, setting="login_token"))


def exchange(tokens: AccessTokens, value: str, now: float, lifetime: float = 300.0):
    login = tokens.login()
    return login, tokens.obtained(login, token(value, now, lifetime))


def test_access_token_held_until_due() -> None:
    tokens = logins()
    assert tokens.grant(0.0) is None  # none held: exchange
    login, grant = exchange(tokens, "acc-1", 0.0)
    assert login.setting == "login_token" and grant.setting == "login_token"
    assert tokens.grant(100.0) == grant
    assert tokens.grant(271.0) is None  # less than 30 s left: renew before expiry


def test_401_renews_then_a_refused_renewal_moves_to_the_second_login_token() -> None:
    tokens = logins()
    _, first = exchange(tokens, "acc-1", 0.0)
    tokens.accepted(first)
    assert tokens.refused(first, WHY, 10.0).verdict is Verdict.RENEW
    assert tokens.grant(10.0) is None
    _, renewed = exchange(tokens, "acc-2", 10.0)  # on probation
    refusal = tokens.refused(renewed, WHY, 11.0)
    assert refusal.verdict is Verdict.SWITCH
    assert "using login_token_secondary" in refusal.message
    assert tokens.grant(11.0) is None  # exchange anew, with the second login token
    login, third = exchange(tokens, "acc-3", 11.0)
    assert login.setting == "login_token_secondary" and login.secret == "login-2"
    assert tokens.switches == 1
    # the second login token's tokens: a 401 renews once, a refused renewal stops
    assert tokens.refused(third, WHY, 12.0).verdict is Verdict.RENEW
    _, fourth = exchange(tokens, "acc-4", 12.0)
    stop = tokens.refused(fourth, WHY, 13.0)
    assert stop.verdict is Verdict.STOP
    assert "login_token and login_token_secondary" in stop.message


def test_a_refused_renewal_without_a_second_login_token_stops() -> None:
    tokens = logins(None)
    _, first = exchange(tokens, "acc-1", 0.0)
    assert tokens.refused(first, WHY, 1.0).verdict is Verdict.RENEW
    _, renewed = exchange(tokens, "acc-2", 1.0)
    refusal = tokens.refused(renewed, WHY, 2.0)
    assert refusal.verdict is Verdict.STOP
    assert refusal.message == f"login_token was refused ({WHY}); check login_token"


def test_an_accepted_renewal_leaves_probation() -> None:
    tokens = logins(None)
    _, first = exchange(tokens, "acc-1", 0.0)
    tokens.refused(first, WHY, 1.0)
    _, renewed = exchange(tokens, "acc-2", 1.0)
    tokens.accepted(renewed)
    assert tokens.refused(renewed, WHY, 200.0).verdict is Verdict.RENEW


def test_a_renewal_refused_when_due_renews_again() -> None:
    # it may have expired in flight: not proof that the login token yields bad tokens
    tokens = logins(None)
    _, first = exchange(tokens, "acc-1", 0.0)
    tokens.refused(first, WHY, 1.0)
    _, renewed = exchange(tokens, "acc-2", 1.0, lifetime=60.0)
    assert tokens.refused(renewed, WHY, 40.0).verdict is Verdict.RENEW


def test_401s_for_an_older_access_token_only_retry() -> None:
    tokens = logins()
    _, first = exchange(tokens, "acc-1", 0.0)
    in_flight = [first] * 4
    assert tokens.refused(in_flight[0], WHY, 5.0).verdict is Verdict.RENEW
    _, renewed = exchange(tokens, "acc-2", 5.0)
    assert [tokens.refused(g, WHY, 5.1).verdict for g in in_flight[1:]] == [Verdict.RETRY] * 3
    assert tokens.grant(5.1) == renewed


def test_login_refused_at_the_exchange_switches_once_then_stops() -> None:
    tokens = logins()
    login = tokens.login()
    first = tokens.login_refused(login, WHY)
    assert first.verdict is Verdict.SWITCH
    assert tokens.login_refused(login, WHY).verdict is Verdict.RETRY  # a stale refusal
    second = tokens.login()
    assert second.setting == "login_token_secondary"
    stop = tokens.login_refused(second, WHY)
    assert stop.verdict is Verdict.STOP and "login_token_secondary" in stop.message


@given(st.lists(st.sampled_from(["first", "current"]), min_size=1, max_size=30))
def test_a_run_switches_at_most_once_and_never_leaks_a_token(order: list[str]) -> None:
    tokens = pair()
    first = tokens.grant()
    for which in order:
        refusal = tokens.refused(first if which == "first" else tokens.grant(), WHY)
        assert "imp-1" not in refusal.message and "imp-2" not in refusal.message
        if refusal.verdict is Verdict.STOP:
            break
    assert tokens.switches <= 1
