"""What every stream of one tap run shares: the login-token credential (its policy, access
token and pacer),
an HTTP session per thread, this run's partition of the ids, the partition reader and the
STATE cadence. The tap makes one and hands it to every stream it creates."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import resolve_proxies
from typing_extensions import override

from enectiva.pacing import Pacer
from tap_enectiva.auth import RunAuthenticator
from tap_enectiva.checkpoint import StateCadence
from tap_enectiva.concurrency import PartitionReader
from tap_enectiva.partitions import Partition
from tap_enectiva.settings import PLUGIN_NAME, setting, tls_verify

#: Requests per second the pacer allows before any budget or 429 was seen (its maximum).
PACER_START_RATE = 10_000.0


class RunShared:
    """One run's shared parts (thread-safe where threads use them: credential, pacer,
    sessions; the reader and the cadence belong to the main thread)."""

    def __init__(
        self, config: Mapping[str, Any], *, writer: Any, write_state: Callable[[], None]
    ) -> None:
        # One pacer per credential, shared by every thread: the run has one login token. No
        # slow start: the tap's own bound is max_concurrency requests in flight; the pacer
        # keeps to the budget the API announces from the first answer on, or to the rate it
        # learns from the first 429 (slow start from 8/s cost 3x the wall time of a
        # 2,000-meter run at 0 ms latency).
        self.pacer = Pacer(start_rate=PACER_START_RATE)
        self.authenticator = RunAuthenticator(config, pacer=self.pacer)
        self.partition = Partition(config)
        self.cadence = StateCadence(writer, write_state)
        concurrency = int(setting(config, "max_concurrency"))
        self.reader = PartitionReader(concurrency, self.cadence.written)
        self._verify = tls_verify(config)  # ca_bundle, or verify_tls
        self._local = threading.local()
        self._summarized = False

    def session(self) -> requests.Session:
        """This thread's HTTP session (requests sessions are not meant to be shared)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = RunSession()
            session.verify = self._verify
            self._local.session = session
        return session

    def log_summary(self) -> None:
        """The run summary, once: a line per credential the run used (requests, 429s, the
        paced rate, switches)."""
        credential = self.authenticator.built
        if credential is None or self._summarized:
            return
        self._summarized = True
        logging.getLogger(PLUGIN_NAME).info("Run summary: %s", credential.summary_line())


class RunSession(requests.Session):
    """A requests session that resolves the proxy of each scheme and host once.

    Performance: ``Session.send`` reads the proxy variables of the environment and matches
    ``no_proxy`` on every request, an eighth of a small request's CPU; a run's environment
    does not change, so the answer is kept per scheme and host (redirects resolve their own).
    """

    def __init__(self) -> None:
        super().__init__()
        self._proxies: dict[tuple[str, str], dict[str, str]] = {}

    @override
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if "proxies" not in kwargs:
            parts = urlsplit(request.url or "")
            key = (parts.scheme, parts.netloc)
            if key not in self._proxies:
                self._proxies[key] = resolve_proxies(request, dict(self.proxies), self.trust_env)
            kwargs["proxies"] = dict(self._proxies[key])
        return super().send(request, **kwargs)
