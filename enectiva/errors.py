"""JSON:API error bodies (server side) and what each answer means to a client.

What a client does with an answer is decided in :mod:`enectiva.policy`.
"""

from __future__ import annotations

import enum
import json
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
