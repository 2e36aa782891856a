"""What a client does with each answer: the one answer policy of tap and target (issue 11).

Contract sections 1, 5, 7 and 8. I/O-free: the drivers send, sleep and log; this module
decides. Pieces:

- :func:`classify` maps (status, code, kind, method) to an :class:`~enectiva.errors.Outcome`;
- :func:`decide` turns one answer (or a transport failure, status 0) into a
  :class:`Decision`: done, reject the record, retry after a delay, renew the access token,
  switch to the second token, or stop with one line saying what to do;
- :class:`CredentialPolicy` binds one credential's tokens
  (:mod:`enectiva.credentials`), its :class:`~enectiva.pacing.Pacer` and its counters, and
  is what a driver calls.

Retries. 5xx, 408 and transport failures: exponential backoff with full jitter, at most
``max_retries`` per request. 429: wait ``Retry-After`` (seconds or an HTTP date; absent, the
pacer's learned pause applies and the request goes back to the pacer at once); the pacer
slows every request of the credential. 429s do not use up ``max_retries`` (they are answers
of a working server) but are bounded by ``max_throttles`` per request (default 30: with
``Retry-After`` at least 1 s that is half a minute of refusals while already paced, so
something else is draining the budget); the target had no bound before, the tap counted
429s against ``max_retries``. A 401 asks the token state machine (renew, retry with the
token another request already renewed or switched to, switch once, or stop); 401 loops are
bounded by ``max_retries + 1`` refusals per request. A 403 never switches tokens.

How a driver uses it (one :class:`CredentialPolicy` per credential kind of a run: the
import tokens, the login tokens with their access tokens; shared by every thread or task)::

    policy = CredentialPolicy("import_token", TokenPair(token, second, setting="import_token"))

    # per request (synchronous driver; `clock` = time.time, `sleep` = time.sleep)
    attempts = Attempts()
    while True:
        slot = policy.reserve(clock())
        while (wait := policy.start(slot, clock())) > 0:
            sleep(wait)
        grant = policy.grant(clock())          # import: always a Grant
        if grant is None:                      # access: exchange first (see below)
            policy.cancel(slot); exchange(); continue
        try:
            response = session.request(..., headers=bearer(grant.secret))
        except TRANSPORT_ERRORS as exc:
            decision = policy.failed(slot, request, grant, describe(exc), attempts, clock())
        else:
            decision = policy.answered(slot, request, grant, Answer(
                response.status_code, error.code, error.detail, response.headers),
                attempts, clock())
        if decision.warning: logger.warning(decision.warning)      # a switch, said once
        match decision.action:
            case Action.DONE: return decision.outcome               # OK / DUPLICATE / ...
            case Action.REJECT: reject(decision.reason)             # or stop: on_invalid
            case Action.STOP: raise Fatal(f"stream {s}, record {k}: {decision.reason}")
            case Action.RENEW: exchange(); continue                 # then resend
            case _: sleep(decision.delay); continue                 # RETRY, SWITCH

The clock is ``time.time`` (Unix seconds) in every call: access tokens expire and HTTP-date
``Retry-After`` values count in Unix time, and the pacer only uses differences. The asyncio
driver is the same loop with ``await asyncio.sleep``: no call here awaits or blocks (the
internal ``threading.Lock`` is never held across an await). ``max_concurrency`` stays the
driver's ceiling of requests in flight (a semaphore around the loop above); the pacer spaces
their starts. Reads: a REJECT (404 ``not_found``, 400) has no record to reject; the driver
decides (the target's "latest" lookup reads a 404 as "none", the tap stops). The run summary
prints ``policy.summary(clock()).line()`` per credential.

The access-token exchange (``POST /access_tokens`` with the login token) runs under the
driver's own exchange lock (``threading.Lock`` / ``asyncio.Lock``) so that one caller
exchanges while the others wait, re-checking ``policy.grant(now)`` after taking the lock. It
goes through the same pacer (the login token's budget) with
``Request(token="login", method="POST")`` and ``login = policy.login()`` as the grant; on
``Action.DONE`` the driver parses the answer (``enectiva.auth.parse_access_token_document``)
and calls ``policy.obtained(login, token)``; a 401 there yields SWITCH (log the warning,
exchange again: ``policy.login()`` now gives the second login token) or STOP; a 403 STOP.
"""

from __future__ import annotations

import email.utils
import enum
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from enectiva.auth import AccessToken
from enectiva.budget import Budget, parse_budget
from enectiva.credentials import AccessTokens, Grant, Refusal, TokenPair, Verdict
from enectiva.errors import DUPLICATE, DUPLICATE_BY_DEFAULT, UNKNOWN_CUSTOMER, Outcome
from enectiva.pacing import Pacer, Slot

#: Which token a request carries: an import token, an access token, or a login token
#: (only at ``POST /access_tokens``).
TokenKind = Literal["import", "access", "login"]


def classify(status: int, code: str | None, *, kind: str | None, method: str) -> Outcome:
    """Map an answer to an outcome (contract sections 1, 5 and 7)."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 429:
        return Outcome.RATE_LIMITED
    if status >= 500 or status == 408:
        return Outcome.RETRY
    if status == 401:
        return Outcome.RENEW_TOKEN
    if status in (403, 406, 415):
        return Outcome.FATAL
    if status == 404:
        if code == UNKNOWN_CUSTOMER:
            return Outcome.FATAL
        return Outcome.ALREADY_DELETED if method == "DELETE" else Outcome.REJECT
    if status == 409:
        if code == DUPLICATE or (code is None and kind in DUPLICATE_BY_DEFAULT):
            return Outcome.DUPLICATE
        return Outcome.REJECT
    return Outcome.REJECT


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (``now``: Unix seconds, default
    the wall clock, which an HTTP date needs)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or an obsolete zone: HTTP dates are GMT
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def backoff_delay(
    attempt: int, *, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter for retry ``attempt`` (1-based)."""
    return (rng or random).uniform(0, min(cap, base * (2 ** min(attempt - 1, 62))))


class Action(enum.Enum):
    """What the driver does next."""

    DONE = "done"  # the record is settled: see Decision.outcome (OK, DUPLICATE, ...)
    REJECT = "reject"  # the record breaks a rule: report it, never resend it
    RETRY = "retry"  # resend after Decision.delay
    RENEW = "renew"  # exchange the login token for a new access token, then resend
    SWITCH = "switch"  # the run now uses the second token: log Decision.warning, resend
    STOP = "stop"  # stop the run with Decision.reason


@dataclass(frozen=True)
class Decision:
    action: Action
    outcome: Outcome | None = None
    delay: float = 0.0
    reason: str = ""  # why (REJECT, STOP: one line saying what to do)
    warning: str = ""  # to log once (SWITCH)


@dataclass(frozen=True)
class Limits:
    max_retries: int = 8  # 5xx, 408, transport failures per request
    max_throttles: int = 30  # 429s per request


@dataclass(frozen=True)
class Request:
    """What the policy needs to know about a request."""

    token: TokenKind
    method: str = "GET"
    kind: str | None = None  # the JSON:API type (e.g. "readings"), for 409 without a code
    scope: str | None = None  # the access-token scope a read needs, for a 403's message


@dataclass(frozen=True)
class Answer:
    """An answer as the policy reads it: status 0 when the transport failed (``detail``
    then says how)."""

    status: int
    code: str | None = None
    detail: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return None

    def describe(self) -> str:
        if self.status == 0:
            return self.detail or "no answer"
        return f"HTTP {self.status}: {self.detail}" if self.detail else f"HTTP {self.status}"


@dataclass
class Attempts:
    """Counters of one request across its retries (one per request, kept by the driver)."""

    failures: int = 0  # 5xx, 408, transport
    throttles: int = 0  # 429
    refusals: int = 0  # 401

    def count(self, status: int) -> None:
        """One more answer of ``status`` (0: the transport failed) for this request."""
        if status == 0 or status >= 500 or status == 408:
            self.failures += 1
        elif status == 429:
            self.throttles += 1
        elif status == 401:
            self.refusals += 1


_DONE_OK = Decision(Action.DONE, Outcome.OK)

_SETTING = {"import": "import_token", "access": "login_token", "login": "login_token"}


def decide(
    request: Request,
    answer: Answer,
    attempts: Attempts,
    limits: Limits = Limits(),
    *,
    refusal: Refusal | None = None,
    wall_now: float | None = None,
    rng: random.Random | None = None,
) -> Decision:
    """The decision for one answer; ``attempts`` counts the tries *before* this answer.

    A 401 needs ``refusal``, the token state machine's verdict for the token used
    (:meth:`CredentialPolicy.answered` obtains it); without one a 401 stops.
    """
    status = answer.status
    if 200 <= status < 300 and request.token != "login":
        return _DONE_OK  # the common case first: no allocation
    said = answer.describe()
    if status == 0 or status >= 500 or status == 408:
        failures = attempts.failures + 1
        if failures > limits.max_retries:
            return Decision(
                Action.STOP,
                reason=f"gave up after {limits.max_retries} retries: {said}",
            )
        return Decision(Action.RETRY, delay=backoff_delay(failures, rng=rng))
    if status == 429:
        if attempts.throttles + 1 > limits.max_throttles:
            return Decision(
                Action.STOP,
                reason=f"refused {limits.max_throttles} times for the rate limit ({said}); "
                "is another client using the same token?",
            )
        after = retry_after_seconds(answer.header("Retry-After"), wall_now)
        return Decision(Action.RETRY, delay=after if after is not None else 0.0)
    setting = _SETTING[request.token]
    if status == 401:
        if refusal is None or attempts.refusals + 1 > limits.max_retries + 1:
            return Decision(Action.STOP, reason=f"{setting} was refused ({said}); check {setting}")
        return _refused(refusal)
    if request.token == "login":
        return _exchange(answer, setting)
    outcome = classify(status, answer.code, kind=request.kind, method=request.method)
    if outcome in (Outcome.OK, Outcome.DUPLICATE, Outcome.ALREADY_DELETED):
        return Decision(Action.DONE, outcome)
    if outcome is Outcome.REJECT:
        return Decision(Action.REJECT, outcome, reason=f"refused by the API: {said}")
    return Decision(Action.STOP, outcome, reason=_fatal_reason(request, answer, setting))


def _refused(refusal: Refusal) -> Decision:
    match refusal.verdict:
        case Verdict.RETRY:
            return Decision(Action.RETRY)
        case Verdict.RENEW:
            return Decision(Action.RENEW)
        case Verdict.SWITCH:
            return Decision(Action.SWITCH, warning=refusal.message)
        case Verdict.STOP:
            return Decision(Action.STOP, reason=refusal.message)


def _exchange(answer: Answer, setting: str) -> Decision:
    """``POST /access_tokens``: 2xx done; 403 stops (never switches); anything else stops."""
    if 200 <= answer.status < 300:
        return Decision(Action.DONE, Outcome.OK)
    if answer.status == 403:
        return Decision(
            Action.STOP,
            Outcome.FATAL,
            reason=f"{setting} was refused ({answer.describe()}); check {setting} and api_url",
        )
    return Decision(
        Action.STOP, Outcome.FATAL, reason=f"the access token exchange failed ({answer.describe()})"
    )


def _fatal_reason(request: Request, answer: Answer, setting: str) -> str:
    said = answer.describe()
    status = answer.status
    if status == 403:
        if request.scope:
            return (
                f"{said} (needs the '{request.scope}' scope, which {setting} does not grant: "
                "deselect the stream or use a token with that scope)"
            )
        return f"{said} (the token does not allow this: other customer or missing scope)"
    if status == 404:
        return f"{said} (check customer_id)"
    if status in (406, 415):
        return f"{said} (the API refused the media type)"
    return f"{said} (stopping)"


# ---------- one credential of a run ----------


@dataclass(frozen=True)
class CredentialSummary:
    """The run summary's line for one credential."""

    name: str
    setting: str  # the setting in use at the end
    requests: int
    throttled: int
    rate: float | None  # the paced rate at the end (requests per second); None: no limit met
    learned: bool  # the rate was learned from 429s (no budget header named it)
    switches: int

    def line(self) -> str:
        if self.rate is None:
            paced = "no rate limit met"
        else:
            how = "learned from 429s" if self.learned else "from budget headers"
            paced = f"paced at {self.rate:.1f}/s ({how})"
        return (
            f"{self.name}: {self.requests} requests, {self.throttled} answered 429, {paced}, "
            f"{self.switches} switches (using {self.setting})"
        )


class CredentialPolicy:
    """One credential kind of a run: its tokens, its pacer, its counters (module docstring)."""

    def __init__(
        self,
        name: str,
        tokens: TokenPair | AccessTokens,
        *,
        limits: Limits | None = None,
        pacer: Pacer | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.tokens = tokens
        self.limits = limits or Limits()
        self.pacer = pacer or Pacer()
        self._rng = rng

    # pacing
    def reserve(self, now: float) -> Slot:
        return self.pacer.reserve(now)

    def start(self, slot: Slot, now: float) -> float:
        return self.pacer.start(slot, now)

    def cancel(self, slot: Slot) -> None:
        self.pacer.cancel(slot)

    # tokens
    def grant(self, now: float) -> Grant | None:
        """The token to send now; None: exchange the login token first (access tokens)."""
        if isinstance(self.tokens, TokenPair):
            return self.tokens.grant()
        return self.tokens.grant(now)

    def login(self) -> Grant:
        """The login token to send to ``POST /access_tokens`` (access credentials only)."""
        return self._access().login()

    def obtained(self, login: Grant, token: AccessToken) -> Grant:
        """Store the access token an exchange with ``login`` returned (access credentials)."""
        return self._access().obtained(login, token)

    def _access(self) -> AccessTokens:
        if not isinstance(self.tokens, AccessTokens):
            raise TypeError(f"{self.name} holds no access tokens")
        return self.tokens

    # answers
    def answered(
        self,
        slot: Slot,
        request: Request,
        grant: Grant,
        answer: Answer,
        attempts: Attempts,
        now: float,
    ) -> Decision:
        """Feed the pacer and the tokens, decide, and count the attempt (``now``: Unix
        seconds, see the module docstring)."""
        budget: Budget | None = parse_budget(answer.headers) if answer.headers else None
        retry_after = (
            retry_after_seconds(answer.header("Retry-After"), now) if answer.status == 429 else None
        )
        self.pacer.answered(slot, now, answer.status, budget, retry_after)
        refusal = None
        if answer.status == 401:
            refusal = self._refused(request, grant, answer.describe(), now)
        elif (
            isinstance(self.tokens, AccessTokens)
            and request.token == "access"
            and _authenticated(answer.status)
        ):
            self.tokens.accepted(grant)
        decision = decide(
            request,
            answer,
            attempts,
            self.limits,
            refusal=refusal,
            wall_now=now,
            rng=self._rng,
        )
        attempts.count(answer.status)
        return decision

    def failed(
        self,
        slot: Slot,
        request: Request,
        grant: Grant,
        reason: str,
        attempts: Attempts,
        now: float,
    ) -> Decision:
        """A request that got no answer (connection refused or dropped, timeout)."""
        del grant  # no answer says nothing about the token
        self.pacer.failed(slot, now)
        decision = decide(request, Answer(0, detail=reason), attempts, self.limits, rng=self._rng)
        attempts.count(0)
        return decision

    def _refused(self, request: Request, grant: Grant, why: str, now: float) -> Refusal:
        tokens = self.tokens
        if isinstance(tokens, TokenPair):
            return tokens.refused(grant, why)
        if request.token == "login":
            return tokens.login_refused(grant, why)
        return tokens.refused(grant, why, now)

    def summary(self, now: float) -> CredentialSummary:
        stats = self.pacer.stats
        pair = self.tokens if isinstance(self.tokens, TokenPair) else self.tokens.logins
        return CredentialSummary(
            name=self.name,
            setting=pair.setting,
            requests=stats.requests,
            throttled=stats.throttled,
            rate=self.pacer.rate(now),
            learned=stats.learned,
            switches=pair.switches,
        )


def _authenticated(status: int) -> bool:
    """Whether an answer shows the token passed authentication: a server checks the rate
    limit and the media type first (contract section 5), and errors say nothing."""
    return 200 <= status < 500 and status not in (401, 406, 408, 415, 429)
