"""JSON:API error bodies (server side) and what each answer means to a client.

The classification is the single place that decides "already delivered", "rejected",
"retry", "renew the token" or "stop the run" for the tap and the target alike.
"""

from __future__ import annotations

import email.utils
import enum
import json
import random
import time
from dataclasses import dataclass
from typing import Any

from typing_extensions import override

from enectiva.rules import Violation

# Machine-readable codes of error objects [ours].
DUPLICATE = "duplicate"
OVERLAP = "overlap"
UNKNOWN_CUSTOMER = "unknown_customer"
NOT_FOUND = "not_found"

#: Kinds whose 409 without a code means "duplicate"; for the others it means "overlap".
DUPLICATE_BY_DEFAULT = frozenset({"readings", "data_points"})

TITLES = {
    400: "Invalid request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    406: "Not acceptable",
    409: "Conflict",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def error_object(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    pointer: str | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    """One JSON:API error object."""
    obj: dict[str, Any] = {"status": str(status), "title": title or TITLES.get(status, "Error")}
    if code:
        obj["code"] = code
    obj["detail"] = detail
    if pointer is not None:
        obj["source"] = {"pointer": pointer}
    elif parameter is not None:
        obj["source"] = {"parameter": parameter}
    return obj


def error_document(status: int, detail: str, **kwargs: Any) -> dict[str, Any]:
    """A JSON:API error document with one error."""
    return {"errors": [error_object(status, detail, **kwargs)]}


def violations_document(violations: list[Violation]) -> dict[str, Any]:
    """A 400 document naming every broken attribute."""
    return {
        "errors": [
            error_object(400, str(v), title="Invalid attribute", pointer=v.pointer)
            for v in violations
        ]
    }


@dataclass(frozen=True)
class ApiError:
    """What a client reads from an error answer."""

    status: int
    code: str | None
    detail: str
    pointer: str | None = None

    @override
    def __str__(self) -> str:
        where = f" ({self.pointer})" if self.pointer else ""
        return f"HTTP {self.status}: {self.detail}{where}"


def parse_error(status: int, body: bytes | str | dict[str, Any] | None) -> ApiError:
    """Read the first error object; tolerant of non-JSON and empty bodies."""
    doc: Any = body
    if isinstance(body, bytes | str):
        try:
            doc = json.loads(body or "null")
        except ValueError:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            return ApiError(status, None, text.strip()[:300] or TITLES.get(status, "error"))
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not errors or not isinstance(errors, list) or not isinstance(errors[0], dict):
        return ApiError(status, None, TITLES.get(status, "error"))
    first = errors[0]
    details = [str(e.get("detail") or e.get("title") or "") for e in errors if isinstance(e, dict)]
    raw_source = first.get("source")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    return ApiError(
        status=status,
        code=first.get("code"),
        detail="; ".join(d for d in details if d) or TITLES.get(status, "error"),
        pointer=source.get("pointer") or source.get("parameter"),
    )


class Outcome(enum.Enum):
    """What a client does with an answer."""

    OK = "ok"  # 2xx
    DUPLICATE = "duplicate"  # 409 duplicate: already delivered
    ALREADY_DELETED = "already_deleted"  # 404 on a delete
    REJECT = "reject"  # the record breaks a rule: report it, never resend it
    RETRY = "retry"  # 5xx, 408: back off and resend
    RATE_LIMITED = "rate_limited"  # 429: wait Retry-After and resend
    RENEW_TOKEN = "renew_token"  # 401 on an access token: renew once, then stop
    FATAL = "fatal"  # credentials, customer, media type: stop the run


def classify(status: int, code: str | None, *, kind: str | None, method: str) -> Outcome:
    """Map an answer to an outcome (contract sections 1, 5 and 7)."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 429:
        return Outcome.RATE_LIMITED
    if status >= 500 or status == 408:
        return Outcome.RETRY
    if status == 401:
        return Outcome.RENEW_TOKEN
    if status in (403, 406, 415):
        return Outcome.FATAL
    if status == 404:
        if code == UNKNOWN_CUSTOMER:
            return Outcome.FATAL
        return Outcome.ALREADY_DELETED if method == "DELETE" else Outcome.REJECT
    if status == 409:
        if code == DUPLICATE or (code is None and kind in DUPLICATE_BY_DEFAULT):
            return Outcome.DUPLICATE
        return Outcome.REJECT
    return Outcome.REJECT


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: an integer, or an HTTP date (contract section 5)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter for retry ``attempt`` (1-based)."""
    return random.uniform(0, min(cap, base * (2 ** (attempt - 1))))
