"""Errors the tap reports to users: one line each, naming what to fix."""

from __future__ import annotations

import re

import requests

from enectiva import network

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_TLS = re.compile(r"certificate verify failed:? ?([^'\")\]]*)")
_TUNNEL = re.compile(r"Tunnel connection failed: (\d{3}[^'\")\]]*)")


#: The longest API detail a failure line quotes (the line itself is at most 200 characters).
DETAIL_LIMIT = 80


class TapError(Exception):
    """A failure with a self-explaining, one-line message (no traceback needed)."""


def brief(detail: object, limit: int = DETAIL_LIMIT) -> str:
    """An API's error text cut to ``limit`` characters, so the action after it stays."""
    text = " ".join(str(detail).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def connection_reason(exc: BaseException) -> str:
    """A short reason for a failed connection, e.g. ``connection refused``."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ProxyError):
        tunnel = _TUNNEL.search(str(exc))
        if tunnel:
            return network.proxy_refused(tunnel.group(1).strip())
        match = _ERRNO.search(str(exc))
        cause = match.group(1).strip().lower() if match else type(exc).__name__
        return network.proxy_unreachable(cause)
    if isinstance(exc, requests.exceptions.SSLError):
        match = _TLS.search(str(exc))
        reason = re.sub(r"\s*\(_ssl\.c:\d+\)?", "", match.group(1)).strip() if match else ""
        return network.certificate_refused(reason)
    match = _ERRNO.search(str(exc))
    if match:
        return match.group(1).strip().lower()
    return type(exc).__name__
