"""Which token a run sends, and what a 401 for it means (contract sections 5 and 8).

Two state machines, I/O-free and thread-safe (each call takes a short internal
``threading.Lock``, never held while the caller waits; fine from asyncio, where no call awaits):

- :class:`TokenPair`: two configured tokens of one kind (``import_token`` /
  ``import_token_secondary``, or ``login_token`` / ``login_token_secondary``); the run uses
  the first and switches to the second at most once, on a 401 for the one in use.
- :class:`AccessTokens`: the access token obtained with the login token in use, renewed
  before expiry and after a 401; a token obtained after a 401 is *on probation* until an
  answer shows it was accepted; refused while on probation (and still fresh) it moves the run
  to the second login token, or stops it.

Every request carries a :class:`Grant` naming the token it was sent with; answers hand the
grant back, so a 401 for a token that another request already replaced only retries (the
transitions are idempotent per grant: many requests in flight refused at once switch once).
Messages name settings, never token values.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field

from enectiva.auth import AccessToken


class Verdict(enum.Enum):
    """What to do after a token was refused."""

    RETRY = "retry"  # resend with the token now in use (already renewed or switched)
    RENEW = "renew"  # exchange the login token for a new access token, then resend
    SWITCH = "switch"  # the run moved to the second token: resend with it (warn once)
    STOP = "stop"  # no token left: stop the run with the message


@dataclass(frozen=True)
class Refusal:
    """A verdict with its one-line message (the warning of a switch, the reason to stop)."""

    verdict: Verdict
    message: str = ""


@dataclass(frozen=True)
class Grant:
    """The token one request was sent with: its value, the setting it comes from, and for
    access tokens the exchange (``generation``) that produced it."""

    secret: str = field(repr=False)
    setting: str
    generation: int = 0


class TokenPair:
    """The run's token of one kind: the primary setting, or after one switch the secondary."""

    def __init__(
        self,
        primary: str,
        secondary: str | None = None,
        *,
        setting: str,
        secondary_setting: str | None = None,
    ) -> None:
        self._secrets = (primary, secondary or None)
        self._settings = (setting, secondary_setting or f"{setting}_secondary")
        self._index = 0
        self.switches = 0
        self._lock = threading.Lock()

    @property
    def setting(self) -> str:
        """The setting whose token is in use."""
        return self._settings[self._index]

    @property
    def settings(self) -> tuple[str, str]:
        return self._settings

    @property
    def has_secondary(self) -> bool:
        return self._secrets[1] is not None

    def grant(self) -> Grant:
        """The token to send now."""
        with self._lock:
            return Grant(self._secrets[self._index] or "", self._settings[self._index])

    def refused(self, grant: Grant, why: str) -> Refusal:
        """A 401 for ``grant`` (``why``: e.g. ``HTTP 401: token expired``)."""
        with self._lock:
            return self._refused(grant.setting, why)

    def _refused(self, setting: str, why: str) -> Refusal:
        if setting != self._settings[self._index]:
            return Refusal(Verdict.RETRY)  # the run has switched meanwhile
        first, second = self._settings
        if self._index == 0 and self._secrets[1] is not None:
            self._index = 1
            self.switches += 1
            return Refusal(
                Verdict.SWITCH,
                f"{first} was refused ({why}); using {second} for the rest of the run",
            )
        if self._index == 1:
            return Refusal(
                Verdict.STOP, f"both {first} and {second} were refused ({why}); renew them"
            )
        return Refusal(Verdict.STOP, f"{first} was refused ({why}); check {first}")


@dataclass
class _Held:
    token: AccessToken
    grant: Grant
    on_probation: bool


class AccessTokens:
    """Access tokens obtained with the login token in use (a :class:`TokenPair`).

    Driver protocol: ``grant(now)`` gives the token to send, or None when an exchange is due;
    then (one caller at a time: the driver serialises exchanges with its own lock, a
    ``threading.Lock`` or an ``asyncio.Lock``) ``login()`` gives the login token to send to
    ``POST /access_tokens``, and ``obtained(login_grant, token)`` stores the answer (a 401
    there goes to ``login_refused``). Answers: ``accepted(grant)`` for any answer other than
    401 (the token works), ``refused(grant, why, now)`` for a 401.
    """

    def __init__(self, logins: TokenPair) -> None:
        self.logins = logins
        self._held: _Held | None = None
        self._generation = 0
        self._renew_next_on_probation = False
        self._lock = threading.Lock()

    @property
    def switches(self) -> int:
        return self.logins.switches

    def grant(self, now: float) -> Grant | None:
        """The access token to send, or None when none is held or it is due for renewal."""
        with self._lock:
            held = self._held
            if held is None or held.token.should_renew(now):
                return None
            return held.grant

    def login(self) -> Grant:
        """The login token to exchange."""
        return self.logins.grant()

    def obtained(self, login: Grant, token: AccessToken) -> Grant:
        """Store an access token obtained with ``login``; returns its grant."""
        with self._lock:
            self._generation += 1
            grant = Grant(token.token, login.setting, self._generation)
            self._held = _Held(token, grant, on_probation=self._renew_next_on_probation)
            self._renew_next_on_probation = False
            return grant

    def accepted(self, grant: Grant) -> None:
        """An answer other than 401 to a request sent with ``grant``: the token works."""
        with self._lock:
            held = self._held
            if held is not None and held.grant.generation == grant.generation:
                held.on_probation = False

    def refused(self, grant: Grant, why: str, now: float) -> Refusal:
        """A 401 for a request sent with the access token ``grant``.

        Renews a token that had been accepted, was never tried after a 401, or is close to
        expiry (it may have expired in flight). A token obtained after a 401, refused before
        it was ever accepted while still fresh, means the login token no longer yields
        working tokens: the run switches to the second login token, or stops.
        """
        with self._lock:
            held = self._held
            if held is None or held.grant.generation != grant.generation:
                return Refusal(Verdict.RETRY)  # renewed (or dropped) meanwhile
            if held.on_probation and not held.token.should_renew(now):
                refusal = self.logins.refused(grant, why)
                if refusal.verdict is Verdict.SWITCH:
                    self._held = None  # exchange anew with the second login token
                return refusal
            self._held = None
            self._renew_next_on_probation = True
            return Refusal(Verdict.RENEW)

    def login_refused(self, login: Grant, why: str) -> Refusal:
        """A 401 at ``POST /access_tokens`` for the login token ``login``."""
        with self._lock:
            refusal = self.logins.refused(login, why)
            if refusal.verdict is not Verdict.RETRY:
                self._held = None
            return refusal
