"""The error a run stops with: one line for the user, no traceback."""

from __future__ import annotations

import ssl

import aiohttp

from enectiva import network


class TargetError(Exception):
    """A condition that ends the run with a non-zero exit and a one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def certificate_refused(exc: aiohttp.ClientConnectorCertificateError) -> str:
    """What to do about a TLS certificate the target does not accept (it never heals)."""
    cause = exc.certificate_error
    reason = cause.verify_message if isinstance(cause, ssl.SSLCertVerificationError) else ""
    return f"{exc.host}:{exc.port}: {network.certificate_refused(reason)}"
