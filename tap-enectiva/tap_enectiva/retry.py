"""How long to wait before retrying a request (contract sections 1 and 5)."""

from __future__ import annotations

import random

import requests

from enectiva.errors import backoff_delay, retry_after_seconds

#: Statuses worth retrying: rate limits, timeouts and server errors.
RETRY_STATUSES = frozenset({408, 429})


def is_retriable_status(status: int) -> bool:
    """429, 408 and every 5xx."""
    return status in RETRY_STATUSES or status >= 500


def wait_seconds(attempt: int, response: requests.Response | None = None) -> float:
    """``Retry-After`` of a 429 when given (plus a little jitter), else exponential backoff
    with full jitter for the 1-based ``attempt``."""
    if response is not None and response.status_code == 429:
        after = retry_after_seconds(response.headers.get("Retry-After"))
        if after is not None:
            return after + random.uniform(0, 0.25)
    return backoff_delay(attempt)
