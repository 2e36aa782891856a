"""The login-token -> access-token exchange, shared by every stream of a tap run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from singer_sdk.authenticators import APIAuthenticatorBase
from typing_extensions import override

from enectiva.auth import AccessToken, access_token_path, bearer, parse_access_token_document
from enectiva.errors import parse_error
from enectiva.media import MEDIA_TYPE
from tap_enectiva.errors import TapError, brief, connection_reason
from tap_enectiva.retry import is_retriable_status, wait_seconds
from tap_enectiva.settings import DEFAULT_API_URL, tls_verify, user_agent

#: Connection attempts before an api_url that never answered counts as wrong.
FIRST_CONTACT_ATTEMPTS = 2

logger = logging.getLogger("tap-enectiva.auth")


class AccessTokenAuthenticator(APIAuthenticatorBase):
    """Exchanges the login token (``POST /access_tokens``), renews the access token before
    it expires and once after a 401, and puts it in each request's Authorization header."""

    def __init__(
        self,
        *,
        api_url: str,
        login_token: str,
        session: requests.Session,
        timeout: float,
        max_retries: int,
        user_agent: str,
    ) -> None:
        super().__init__()
        self._url = api_url.rstrip("/") + access_token_path()
        self._api_url = api_url
        self._login_token = login_token
        self._session = session
        self._timeout = timeout
        self._max_retries = max_retries
        self._user_agent = user_agent
        self._token: AccessToken | None = None
        self._renewed_after_401: str | None = None
        self._reached = False

    # ---- used by the streams ----

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        # Only the header: the base class would also re-encode the query string.
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        return request

    def access_token(self) -> str:
        """A valid access token, exchanged anew when none is held or it is about to expire."""
        if self._token is None or self._token.should_renew():
            self._token = self._exchange()
        return self._token.token

    def renew_after_refusal(self, request: requests.PreparedRequest | None) -> bool:
        """After a 401: drop the refused token and get a new one, once.

        Returns False when the refused token was itself the renewal (the run must stop).
        """
        used = _bearer_of(request)
        if used is not None and used == self._renewed_after_401:
            return False
        if self._token is None or used is None or used == self._token.token:
            self._token = self._exchange()
            self._renewed_after_401 = self._token.token
        return True

    def accepted(self, request: requests.PreparedRequest | None) -> None:
        """A 2xx answer: a token renewed after a 401 has proved itself."""
        if self._renewed_after_401 is not None and _bearer_of(request) == self._renewed_after_401:
            self._renewed_after_401 = None

    # ---- the exchange ----

    def _exchange(self) -> AccessToken:
        headers = {
            "Accept": MEDIA_TYPE,
            "User-Agent": self._user_agent,
            **bearer(self._login_token),
        }
        attempt = 0
        while True:
            attempt += 1
            try:
                # verify passed explicitly: Session.request lets REQUESTS_CA_BUNDLE override
                # session.verify = False (requests issue 3829)
                response = self._session.post(
                    self._url, headers=headers, timeout=self._timeout, verify=self._session.verify
                )
            except requests.exceptions.SSLError as exc:  # a certificate does not heal: no retry
                raise TapError(
                    f"cannot reach api_url {self._api_url}: {connection_reason(exc)}"
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                # A read timeout or a connection dropped mid-request means the server is there:
                # only "could not connect at all" fails fast on first contact.
                self._reached = self._reached or _connected(exc)
                limit = self._max_retries + 1 if self._reached else FIRST_CONTACT_ATTEMPTS
                if attempt >= min(limit, self._max_retries + 1):
                    raise TapError(
                        f"cannot reach api_url {self._api_url}: {connection_reason(exc)}"
                    ) from None
                self._sleep(attempt, None, connection_reason(exc))
                continue
            self._reached = True
            status = response.status_code
            if status == 201 or status == 200:
                try:
                    token = parse_access_token_document(response.json())
                except ValueError as exc:
                    raise TapError(
                        f"token exchange at {self._url} answered oddly: {brief(exc)}; check api_url"
                    ) from None
                logger.info("Obtained an access token valid for %d s", token.lifetime)
                return token
            error = parse_error(status, response.content)
            if status in (401, 403):
                raise TapError(
                    f"login_token was refused (HTTP {status}: {brief(error.detail)}); "
                    "check login_token and api_url"
                )
            if not is_retriable_status(status) or attempt > self._max_retries:
                raise TapError(
                    f"token exchange at {self._url} failed: {brief(error)}; check api_url"
                )
            self._sleep(attempt, response, f"HTTP {status}")

    def _sleep(self, attempt: int, response: requests.Response | None, why: str) -> None:
        delay = wait_seconds(attempt, response)
        logger.warning("Token exchange: %s; retrying in %.1f s (try %d)", why, delay, attempt)
        time.sleep(delay)


class RunAuthenticator:
    """The one :class:`AccessTokenAuthenticator` of a tap run (one access token for all
    streams), built from the config on first use: the tap makes one and hands it to every
    stream it creates."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._authenticator: AccessTokenAuthenticator | None = None

    def get(self) -> AccessTokenAuthenticator:
        with self._lock:
            if self._authenticator is None:
                self._authenticator = authenticator_from_config(self._config)
            return self._authenticator


def authenticator_from_config(config: Mapping[str, Any]) -> AccessTokenAuthenticator:
    """An authenticator for ``api_url`` and ``login_token`` with the run's HTTP settings."""
    api_url = str(config.get("api_url") or DEFAULT_API_URL)
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in api_url:
        raise TapError(f"api_url {api_url!r} is not an http(s) URL")
    session = requests.Session()  # trust_env (default): proxies from HTTPS_PROXY / NO_PROXY
    session.verify = tls_verify(config)
    return AccessTokenAuthenticator(
        api_url=api_url,
        login_token=str(config["login_token"]),
        session=session,
        timeout=float(config.get("request_timeout", 60)),
        max_retries=int(config.get("max_retries", 8)),
        user_agent=user_agent(config),
    )


def _bearer_of(request: requests.PreparedRequest | None) -> str | None:
    if request is None:
        return None
    value = request.headers.get("Authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


def _connected(exc: requests.RequestException) -> bool:
    """Whether a failed request had reached the server (read timeout, dropped connection)."""
    cause = exc.args[0] if exc.args else None
    return isinstance(exc, requests.ReadTimeout) or isinstance(
        cause, urllib3.exceptions.ProtocolError
    )
