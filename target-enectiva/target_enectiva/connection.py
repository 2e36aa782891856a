"""The target's aiohttp sessions (delivery engine and Meltano's probe): TLS and proxy settings.

TLS: ``verify_tls`` and ``ca_bundle`` (:mod:`enectiva.network`). Proxy: the environment's
``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``, resolved once for ``api_url`` (every request
of a run goes to that host) and given to the session, instead of aiohttp's ``trust_env``:
that looks the environment and ``~/.netrc`` up again in a worker thread for every request
(about three times the CPU per request on the loopback), and a ``.netrc`` entry for the API
host would clash with the bearer token header.
"""

from __future__ import annotations

import typing as t
import warnings

import aiohttp

from enectiva import network


def connector(*, verify_tls: bool, ca_bundle: str | None, **options: t.Any) -> aiohttp.TCPConnector:
    """A connector verifying TLS with the default CAs, the ``ca_bundle`` file, or not at all."""
    return aiohttp.TCPConnector(ssl=network.ssl_context(verify_tls, ca_bundle), **options)


def client_session(api_url: str, **options: t.Any) -> aiohttp.ClientSession:
    """An aiohttp session (``options`` as aiohttp's) through the proxy the environment names
    for ``api_url``, if any."""
    proxy = network.proxy_for(api_url)
    if proxy is None:
        return aiohttp.ClientSession(**options)
    auth = (
        aiohttp.BasicAuth(proxy.username or "", proxy.password or "")
        if proxy.username is not None or proxy.password is not None
        else None
    )
    with warnings.catch_warnings():
        # aiohttp 3.13+ deprecates proxy_auth for 4.0 in favour of per-request proxy headers;
        # the target pins aiohttp 3, and the session-wide setting keeps the proxy in one place
        # (the credentials stay out of the proxy URL, which aiohttp quotes in its errors).
        warnings.filterwarnings("ignore", ".*proxy_auth", DeprecationWarning)
        return aiohttp.ClientSession(proxy=proxy.url, proxy_auth=auth, **options)


def describe(exc: BaseException) -> str:
    """A failed transport in a few words; a proxy's refusal says to check ``HTTPS_PROXY``."""
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return network.proxy_refused(f"{exc.status} {exc.message}")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return network.proxy_unreachable(str(exc.strerror))
    return f"{type(exc).__name__} {exc}".strip()
