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
    """Holds one access token; renews it when due (contract section 5) or after a 401."""

    def __init__(self, exchange: Exchange, *, max_retries: int) -> None:
        self._exchange = exchange
        self._max_retries = max_retries
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        """A valid access token (exchanging the login token when needed)."""
        token = self._token
        if token is not None and not token.should_renew():
            return token.token
        async with self._lock:
            if self._token is None or self._token.should_renew():
                self._token = await self._obtain()
            return self._token.token

    def invalidate(self, used: str) -> None:
        """Forget ``used`` after a 401 (unless another request already renewed it)."""
        if self._token is not None and self._token.token == used:
            self._token = None

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
