"""Errors the tap reports to users: one line each, naming what to fix."""

from __future__ import annotations

import re

import requests

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_TLS = re.compile(r"certificate verify failed:? ?([^'\")\]]*)")


class TapError(Exception):
    """A failure with a self-explaining, one-line message (no traceback needed)."""


def connection_reason(exc: BaseException) -> str:
    """A short reason for a failed connection, e.g. ``connection refused``."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        match = _TLS.search(str(exc))
        reason = re.sub(r"\s*\(_ssl\.c:\d+\)", "", match.group(1)).strip() if match else ""
        detail = f" ({reason})" if reason else ""
        return (
            f"TLS certificate not accepted{detail}; fix the server's certificate, or set "
            "verify_tls: false for a test server only"
        )
    match = _ERRNO.search(str(exc))
    if match:
        return match.group(1).strip().lower()
    return type(exc).__name__
