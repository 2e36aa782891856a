"""Errors the tap reports to users: one line each, naming what to fix."""

from __future__ import annotations

import re

import requests

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


class TapError(Exception):
    """A failure with a self-explaining, one-line message (no traceback needed)."""


def connection_reason(exc: BaseException) -> str:
    """A short reason for a failed connection, e.g. ``connection refused``."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    match = _ERRNO.search(str(exc))
    if match:
        return match.group(1).strip().lower()
    return type(exc).__name__
