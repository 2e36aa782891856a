"""Rate-budget headers of an answer (contract section 8), in every family a server may send.

- ours (section 8): ``X-RateLimit-Limit: R`` (requests per second, also the capacity),
  ``X-RateLimit-Remaining: n`` (whole requests available now, after this one),
  ``X-RateLimit-Reset: s`` (decimal seconds until the bucket is full);
- EnerKey: ``X-Rate-Limit: n`` (remaining only);
- the IETF draft (draft-ietf-httpapi-ratelimit-headers): the older triple
  ``RateLimit-Limit`` / ``RateLimit-Remaining`` / ``RateLimit-Reset`` (with an optional
  ``RateLimit-Policy: 100;w=60``), draft 07's ``RateLimit: limit=100, remaining=50, reset=30``,
  and the structured fields of draft 08 on: ``RateLimit: "default";r=50;t=30`` with
  ``RateLimit-Policy: "default";q=100;w=60``.

A quota ``q`` per window ``w`` seconds is read as a bucket of capacity ``q`` refilled at
``q / w`` per second; a limit without a window is per second, as in our family. Unreadable
values are ignored (a server's typo must not stop a run).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """What one answer says about its credential's budget; None where it says nothing."""

    rate: float | None = None  # requests per second the budget refills
    capacity: float | None = None  # requests the budget holds when full
    remaining: float | None = None  # requests available right now, after this one
    reset: float | None = None  # seconds until the budget is full again (or the window ends)


def parse_budget(headers: Mapping[str, str]) -> Budget | None:
    """The budget an answer's headers announce, or None when they carry none."""
    h: dict[str, str] = {}
    for name, value in headers.items():
        key = str(name).lower()
        if "rate" in key:  # every family's header names say "rate"; most answers carry none
            h[key] = str(value)
    if not h:
        return None
    for family in (_ours, _ietf_structured, _ietf_draft7, _ietf_triple, _enerkey):
        budget = family(h)
        if budget is not None:
            return budget
    return None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip().split(",")[0].strip())
    except ValueError:
        return None
    return number if number >= 0 and number == number and number != float("inf") else None


def _some(budget: Budget) -> Budget | None:
    values = (budget.rate, budget.capacity, budget.remaining, budget.reset)
    return budget if any(v is not None for v in values) else None


def _ours(h: dict[str, str]) -> Budget | None:
    limit = _number(h.get("x-ratelimit-limit"))  # per second: no window
    return _bucket(limit, None, h.get("x-ratelimit-remaining"), h.get("x-ratelimit-reset"))


def _enerkey(h: dict[str, str]) -> Budget | None:
    return _some(Budget(remaining=_number(h.get("x-rate-limit"))))


def _window_policy(value: str | None) -> tuple[float | None, float | None]:
    """(quota, window seconds) of an older ``RateLimit-Policy: 100;w=60`` (first policy)."""
    if not value:
        return None, None
    first = value.split(",")[0]
    parts = [p.strip() for p in first.split(";")]
    quota = _number(parts[0]) if parts and "=" not in parts[0] else None
    params = _params(parts[1:])
    return quota if quota is not None else _number(params.get("q")), _number(params.get("w"))


def _params(parts: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip().strip('"')
    return out


def _rate(quota: float | None, window: float | None) -> float | None:
    if quota is None:
        return None
    return quota / window if window else quota


def _bucket(
    quota: float | None, window: float | None, remaining: str | None, reset: str | None
) -> Budget | None:
    """A quota per window (seconds; none: per second) as a bucket, with what is left now."""
    return _some(
        Budget(
            rate=_rate(quota, window),
            capacity=quota,
            remaining=_number(remaining),
            reset=_number(reset),
        )
    )


def _limit_and_policy(
    h: dict[str, str], limit: str | None, remaining: str | None, reset: str | None
) -> Budget | None:
    """The older IETF values: the limit, else the ``RateLimit-Policy`` quota, per its window."""
    quota, window = _window_policy(h.get("ratelimit-policy"))
    stated = _number(limit)
    return _bucket(stated if stated is not None else quota, window, remaining, reset)


def _ietf_triple(h: dict[str, str]) -> Budget | None:
    return _limit_and_policy(
        h, h.get("ratelimit-limit"), h.get("ratelimit-remaining"), h.get("ratelimit-reset")
    )


def _ietf_draft7(h: dict[str, str]) -> Budget | None:
    value = h.get("ratelimit")
    if not value or not re.search(r"(^|[\s,])(limit|remaining|reset)\s*=", value):
        return None
    params = _params(re.split(r"[,;]", value))
    return _limit_and_policy(h, params.get("limit"), params.get("remaining"), params.get("reset"))


_ITEM = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[A-Za-z*][A-Za-z0-9_\-.:%*/]*)((?:\s*;[^,;]*)*)')


def _structured(value: str | None) -> dict[str, dict[str, str]]:
    """A structured-field list of named items with parameters, e.g. ``"a";q=1;w=2, "b";q=3``."""
    items: dict[str, dict[str, str]] = {}
    for member in (value or "").split(","):
        match = _ITEM.match(member)
        if match:
            name = match.group(1).strip('"')
            items.setdefault(name, _params(match.group(2).split(";")))
    return items


def _ietf_structured(h: dict[str, str]) -> Budget | None:
    current = _structured(h.get("ratelimit"))
    policies = _structured(h.get("ratelimit-policy"))
    if not any("r" in p or "t" in p for p in current.values()) and not any(
        "q" in p for p in policies.values()
    ):
        return None
    # the policy the current values name (several: the one with the fewest remaining)
    name = min(current, key=lambda n: _number(current[n].get("r")) or 0.0, default=None)
    if name is None:
        name = next(iter(policies))
    now = current.get(name, {})
    policy = policies.get(name) or (next(iter(policies.values())) if policies else {})
    return _bucket(_number(policy.get("q")), _number(policy.get("w")), now.get("r"), now.get("t"))
