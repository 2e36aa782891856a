"""The run's login-token credential: the tap's synchronous driver of :mod:`enectiva.policy`.

Every request of a run, the streams' reads and the access-token exchange alike, passes
:meth:`RunCredential.send` / :meth:`RunCredential.exchange`: one
:class:`~enectiva.policy.CredentialPolicy` per run (``login_token`` and
``login_token_secondary``, the access tokens obtained with them, the credential's pacer and
counters), shared by every worker thread. The policy decides what each answer means (retry
and when, renew the access token, switch to the second login token, stop); this module
sends, sleeps and logs, as the policy's module docstring shows. What the policy leaves to
drivers is here: a certificate error is fatal at once, and an ``api_url`` that never answered
fails after :data:`FIRST_CONTACT_ATTEMPTS` attempts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.auth import AuthBase
from typing_extensions import override

from enectiva.auth import access_token_path, bearer, parse_access_token_document
from enectiva.credentials import AccessTokens, Grant, TokenPair
from enectiva.errors import parse_error
from enectiva.media import MEDIA_TYPE
from enectiva.pacing import Pacer, Slot
from enectiva.policy import Action, Answer, Attempts, CredentialPolicy, Decision, Limits, Request
from tap_enectiva.errors import TapError, brief, connection_reason
from tap_enectiva.settings import DEFAULT_API_URL, setting, tls_verify, user_agent

#: Connection attempts before an api_url that never answered counts as wrong.
FIRST_CONTACT_ATTEMPTS = 2

#: Failures of a request that got no answer: the policy retries them (certificate errors
#: excepted, see :meth:`RunCredential._no_answer`).
TRANSPORT_ERRORS = (
    ConnectionResetError,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

#: The settings of the login tokens (the second one is optional).
LOGIN_SETTINGS = ("login_token", "login_token_secondary")

logger = logging.getLogger("tap-enectiva.auth")

_EXCHANGE = Request(token="login", method="POST")


class HeaderPerAttempt(AuthBase):
    """The streams' SDK authenticator: adds nothing when the SDK prepares a request.

    :meth:`RunCredential.send` sets the Authorization header on every attempt, with the token
    the policy grants then, so a request resent after a renewal or a switch carries the new
    token (an authenticator applied once at preparation would resend the refused one).
    """

    @override
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


@dataclass(frozen=True)
class Sent:
    """A request's last answer and the policy's final decision about it (DONE, REJECT or
    STOP); ``response`` is None when the last attempt got no answer."""

    response: requests.Response | None
    answer: Answer
    decision: Decision


class RunCredential:
    """The run's login tokens and access tokens behind one policy (see the module docstring)."""

    def __init__(
        self,
        *,
        api_url: str,
        login_tokens: TokenPair,
        session: requests.Session,
        timeout: float,
        max_retries: int,
        user_agent: str,
        pacer: Pacer | None = None,
    ) -> None:
        self.policy = CredentialPolicy(
            "login tokens",
            AccessTokens(login_tokens),
            limits=Limits(max_retries=max_retries),
            pacer=pacer,
        )
        self._api_url = api_url
        self._url = api_url.rstrip("/") + access_token_path()
        self._session = session  # the exchange's, used under the exchange lock only
        self._timeout = timeout
        self._user_agent = user_agent
        self._reached = False
        # One exchange at a time: the other threads wait for its token instead of exchanging.
        self._exchange_lock = threading.Lock()

    # ---- a stream's request ----

    def send(
        self,
        session: requests.Session,
        prepared: requests.PreparedRequest,
        request: Request,
        *,
        timeout: float,
        allow_redirects: bool = True,
        label: str = "request",
    ) -> Sent:
        """Send ``prepared`` until the policy settles it: paced, with the access token in
        use, renewed or switched and resent as the policy decides."""
        policy = self.policy
        attempts = Attempts()
        while True:
            slot = self._start()
            grant = policy.grant(time.time())
            if grant is None:  # no access token yet, or due for renewal
                policy.cancel(slot)
                self.exchange()
                continue
            prepared.headers["Authorization"] = f"Bearer {grant.secret}"
            try:
                sent = session.send(prepared, timeout=timeout, allow_redirects=allow_redirects)
            except TRANSPORT_ERRORS as exc:
                response: requests.Response | None = None
                answer = self._no_answer(slot, exc, attempts)
                decision = policy.failed(slot, request, grant, answer.detail, attempts, time.time())
            else:
                self._reached = True  # the server answered: later refusals are not first contact
                response, answer = sent, _answer(sent)
                decision = policy.answered(slot, request, grant, answer, attempts, time.time())
            if decision.warning:
                logger.warning(decision.warning)
            match decision.action:
                case Action.RETRY | Action.SWITCH:
                    if answer.status != 401:  # a 401 resends with the token now in use
                        _log_retry(label, decision.delay, attempts, answer)
                    time.sleep(decision.delay)
                case Action.RENEW:
                    self.exchange()
                case _:
                    return Sent(response, answer, decision)

    # ---- the access-token exchange (POST /access_tokens with the login token) ----

    def exchange(self) -> Grant:
        """An access token, obtained with the login token in use unless another thread just
        obtained one; a 401 switches to ``login_token_secondary`` once (policy)."""
        with self._exchange_lock:
            held = self.policy.grant(time.time())
            if held is not None:
                return held
            return self._exchange()

    def _exchange(self) -> Grant:
        policy = self.policy
        attempts = Attempts()
        while True:
            slot = self._start()
            login = policy.login()
            headers = {"Accept": MEDIA_TYPE, "User-Agent": self._user_agent, **bearer(login.secret)}
            try:
                # verify passed explicitly: Session.request lets REQUESTS_CA_BUNDLE override
                # session.verify = False (requests issue 3829)
                response = self._session.post(
                    self._url, headers=headers, timeout=self._timeout, verify=self._session.verify
                )
            except TRANSPORT_ERRORS as exc:
                answer = self._no_answer(slot, exc, attempts)
                now = time.time()
                decision = policy.failed(slot, _EXCHANGE, login, answer.detail, attempts, now)
            else:
                self._reached = True
                answer = _answer(response)
                decision = policy.answered(slot, _EXCHANGE, login, answer, attempts, time.time())
                if decision.action is Action.DONE:
                    return self._obtained(login, response)
            if decision.warning:
                logger.warning(decision.warning)
            match decision.action:
                case Action.RETRY:
                    delay = decision.delay
                    logger.warning(
                        "Token exchange: %s; retrying in %.1f s (try %d)",
                        answer.describe(),
                        delay,
                        attempts.failures + attempts.throttles,
                    )
                    time.sleep(delay)
                case Action.SWITCH:
                    continue  # policy.login() now gives the second login token
                case _:
                    raise TapError(self._exchange_failure(answer, decision))

    def _obtained(self, login: Grant, response: requests.Response) -> Grant:
        try:
            token = parse_access_token_document(response.json())
        except ValueError as exc:
            raise TapError(
                f"token exchange at {self._url} answered oddly: {brief(exc)}; check api_url"
            ) from None
        logger.info("Obtained an access token valid for %d s", token.lifetime)
        return self.policy.obtained(login, token)

    def _exchange_failure(self, answer: Answer, decision: Decision) -> str:
        if answer.status == 0:
            return f"cannot reach api_url {self._api_url}: {decision.reason}"
        if answer.status in (401, 403):
            return decision.reason  # names the login token settings and what to do
        return f"{decision.reason}; check api_url"

    # ---- shared steps ----

    def _start(self) -> Slot:
        """A slot of the credential's pacer, started (the caller sends at once)."""
        policy = self.policy
        slot = policy.reserve(time.time())
        while (wait := policy.start(slot, time.time())) > 0:
            time.sleep(wait)
        return slot

    def _no_answer(self, slot: Slot, exc: BaseException, attempts: Attempts) -> Answer:
        """A request without an answer, as the policy reads it; raises what the policy leaves
        to drivers: a certificate error, an api_url that never answered."""
        reason = connection_reason(exc)
        # A read timeout or a connection dropped mid-request means the server is there:
        # only "could not connect at all" fails fast on first contact.
        self._reached = self._reached or _connected(exc)
        if isinstance(exc, requests.exceptions.SSLError) or (
            not self._reached and attempts.failures + 1 >= FIRST_CONTACT_ATTEMPTS
        ):
            self.policy.cancel(slot)
            raise TapError(f"cannot reach api_url {self._api_url}: {reason}") from None
        return Answer(0, detail=reason)

    def summary_line(self) -> str:
        """The run summary's line for this credential (requests, 429s, paced rate, switches)."""
        return self.policy.summary(time.time()).line()


def _answer(response: requests.Response) -> Answer:
    """An answer as the policy reads it (the error body parsed only when there is one)."""
    status = response.status_code
    if status < 300:
        return Answer(status, headers=response.headers)
    error = parse_error(status, response.content)
    return Answer(status, error.code, brief(error.detail), response.headers)


def _log_retry(label: str, delay: float, attempts: Attempts, answer: Answer) -> None:
    tries = attempts.failures + attempts.throttles + attempts.refusals
    logger.warning(
        "Retrying '%s' in %.1f s after try %d: %s", label, delay, tries, answer.describe()
    )


class RunAuthenticator:
    """The one :class:`RunCredential` of a tap run (one access token for all streams), built
    from the config on first use: the tap makes one and hands it to every stream."""

    def __init__(self, config: Mapping[str, Any], *, pacer: Pacer | None = None) -> None:
        self._config = config
        self._pacer = pacer
        self._lock = threading.Lock()
        self._credential: RunCredential | None = None

    def get(self) -> RunCredential:
        with self._lock:
            if self._credential is None:
                self._credential = credential_from_config(self._config, pacer=self._pacer)
            return self._credential

    @property
    def built(self) -> RunCredential | None:
        """The credential, if the run has used it."""
        return self._credential


def credential_from_config(
    config: Mapping[str, Any], *, pacer: Pacer | None = None
) -> RunCredential:
    """The run's credential for ``api_url`` and the login tokens with the run's HTTP settings."""
    api_url = str(config.get("api_url") or DEFAULT_API_URL)
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in api_url:
        raise TapError(f"api_url {api_url!r} is not an http(s) URL")
    session = requests.Session()  # trust_env (default): proxies from HTTPS_PROXY / NO_PROXY
    session.verify = tls_verify(config)
    primary, secondary = LOGIN_SETTINGS
    return RunCredential(
        api_url=api_url,
        login_tokens=TokenPair(
            str(config[primary]),
            config.get(secondary) or None,
            setting=primary,
            secondary_setting=secondary,
        ),
        session=session,
        timeout=float(setting(config, "request_timeout")),
        max_retries=int(setting(config, "max_retries")),
        user_agent=user_agent(config),
        pacer=pacer,
    )


def _connected(exc: BaseException) -> bool:
    """Whether a failed request had reached the server (read timeout, dropped connection)."""
    cause = exc.args[0] if exc.args else None
    return isinstance(exc, requests.ReadTimeout) or isinstance(
        cause, urllib3.exceptions.ProtocolError
    )
