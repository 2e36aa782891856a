"""Access tokens for invoices: the login-token exchange, renewed before expiry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from enectiva import auth, errors
from enectiva.auth import AccessToken
from target_enectiva.errors import TargetError

#: Runs one exchange: (status, Retry-After header, body); status 0 when the transport failed
#: (the body then says how).
Exchange = Callable[[], Awaitable[tuple[int, str | None, bytes]]]


class AccessTokens:
    """Holds one access token; renews it when due (contract section 5) and after a 401.

    A 401 renews the token that was refused. The token obtained that way is *on probation*
    until an answer shows the API accepted it: a 401 for it while it is still fresh by our
    clock means the API refuses the tokens it issues, and the run must stop. A 401 for a
    token that had been accepted, that was close to expiry, or that a newer token already
    replaced renews (or just retries) again.
    """

    def __init__(self, exchange: Exchange, *, max_retries: int) -> None:
        self._exchange = exchange
        self._max_retries = max_retries
        self._token: AccessToken | None = None
        self._on_probation: str | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        """A valid access token (exchanging the login token when none is held or it is due)."""
        token = self._token
        if token is not None and not token.should_renew():
            return token.token
        async with self._lock:
            if self._token is None or self._token.should_renew():
                self._token = await self._obtain()
            return self._token.token

    async def renew_after_refusal(self, used: str) -> bool:
        """After a 401 for ``used``: renew it unless another request did; False means stop.

        False when ``used`` is the renewal of a refused token, never accepted since, and
        still fresh: renewing again would only be refused again.
        """
        async with self._lock:
            current = self._token
            if current is None or current.token != used:
                return True  # already renewed (or dropped) meanwhile: retry with the newer one
            if used == self._on_probation and not current.should_renew():
                return False
            self._token = await self._obtain()
            self._on_probation = self._token.token
            return True

    def accepted(self, used: str) -> None:
        """The API answered a request made with ``used`` without refusing the token."""
        if used == self._on_probation:
            self._on_probation = None

    async def _obtain(self) -> AccessToken:
        failures = 0
        last = ""
        while True:
            status, retry_after, body = await self._exchange()
            if status == 0:
                last = body.decode("utf-8", "replace")
            if 200 <= status < 300:
                try:
                    return auth.parse_access_token_document(json.loads(body))
                except ValueError as exc:
                    raise TargetError(f"access token exchange: unreadable answer ({exc})") from None
            if status:
                error = errors.parse_error(status, body)
                outcome = errors.classify(status, error.code, kind=None, method="POST")
                last = str(error)
                if outcome is errors.Outcome.RATE_LIMITED:
                    wait = errors.retry_after_seconds(retry_after)
                    await asyncio.sleep(wait if wait is not None else errors.backoff_delay(1))
                    continue
                if outcome is not errors.Outcome.RETRY:
                    raise TargetError(
                        f"access token exchange refused ({last}): check login_token "
                        "(needed for invoices)"
                    )
            failures += 1
            if failures > self._max_retries:
                raise TargetError(
                    f"access token exchange failed after {self._max_retries} retries: {last}"
                )
            await asyncio.sleep(errors.backoff_delay(failures))
