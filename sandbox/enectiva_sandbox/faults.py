"""Run-time knobs of the sandbox (latency, rate limit, failures, drops) and its counters."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

FAIL_STATUSES = (500, 502, 503)


@dataclass
class Faults:
    """What the admin API reads and sets (``POST /_sandbox/faults`` merges given keys)."""

    latency_ms: float = 0.0
    rate_limit: float | None = None  # requests per second per credential; None = unlimited
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    token_lifetime: int = 300
    budget_headers: bool = True  # X-RateLimit-* on every answer while a rate limit is set

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merge(self, changes: Any) -> list[str]:
        """Apply the given keys; returns problems (nothing is applied when there are any)."""
        if not isinstance(changes, dict):
            return ["the body must be a JSON object"]
        problems: list[str] = []
        new = asdict(self)
        for key, value in changes.items():
            if key not in new:
                problems.append(f"unknown setting {key!r}")
                continue
            if key == "rate_limit" and value is None:
                new[key] = None
                continue
            if key == "budget_headers":
                if not isinstance(value, bool):
                    problems.append("budget_headers must be true or false")
                else:
                    new[key] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{key} must be a number")
                continue
            if not math.isfinite(value) or value < 0:
                problems.append(f"{key} must be a finite number >= 0")
                continue
            if key in ("fail_rate", "drop_rate") and value > 1:
                problems.append(f"{key} must be between 0 and 1")
                continue
            if key == "rate_limit" and value == 0:
                problems.append("rate_limit must be > 0 (null disables it)")
                continue
            if key == "token_lifetime":
                if value < 1:
                    problems.append("token_lifetime must be at least 1 second")
                    continue
                value = int(value)
            new[key] = value
        if not problems:
            for key, value in new.items():
                setattr(self, key, value)
        return problems

    def pick_failure(self) -> int | None:
        """A 5xx status to answer at random, or None."""
        if self.fail_rate and random.random() < self.fail_rate:
            return random.choice(FAIL_STATUSES)
        return None

    def pick_drop(self) -> bool:
        return bool(self.drop_rate) and random.random() < self.drop_rate


@dataclass(frozen=True)
class Budget:
    """A credential's bucket after a request: what the budget headers say."""

    limit: float  # R: refill per second and capacity
    remaining: int  # whole requests available at once now, after this one
    reset: float  # seconds until the bucket is full again
    retry_after: int | None  # None: the request may go on; else whole seconds to wait (>= 1)

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (contract section 8)."""
        return {
            "X-RateLimit-Limit": f"{self.limit:g}",
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": f"{self.reset:.3f}",
        }


class RateLimiter:
    """A token bucket per credential: capacity R, refilled at R per second."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._rate: float | None = None

    def take(self, key: str, rate: float) -> Budget:
        """Take one request from ``key``'s bucket, when it holds one."""
        if rate != self._rate:
            self._buckets.clear()
            self._rate = rate
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (rate, now))
        tokens = min(rate, tokens + (now - at) * rate)
        wait = None
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = max(1, math.ceil((1.0 - tokens) / rate))
        self._buckets[key] = (tokens, now)
        return Budget(rate, math.floor(tokens), (rate - tokens) / rate, wait)


@dataclass
class Stats:
    """Request counters (``GET /_sandbox/stats``)."""

    started_at: float = field(default_factory=time.time)
    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    by_operation_status: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    failed: int = 0
    dropped: int = 0
    invalid_responses: int = 0
    response_errors: list[str] = field(default_factory=list)
    #: while a rate limit is set: per credential (its bucket), answers other than 429,
    #: 429s, and the Unix times of its first and last answer
    by_credential: dict[str, dict[str, float]] = field(default_factory=dict)

    def count_credential(self, name: str, status: int) -> None:
        now = time.time()
        counts = self.by_credential.get(name)
        if counts is None:
            counts = self.by_credential[name] = {
                "answered": 0,
                "rate_limited": 0,
                "first": now,
                "last": now,
            }
        counts["rate_limited" if status == 429 else "answered"] += 1
        counts["last"] = now

    def count(self, operation: str | None, status: int) -> None:
        self.requests += 1
        self.by_status[str(status)] += 1
        name = operation or "unknown"
        self.by_operation[name] += 1
        self.by_operation_status[f"{name} {status}"] += 1
        if status == 429:
            self.rate_limited += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.started_at,
            "requests": self.requests,
            "by_status": dict(self.by_status),
            "by_operation": dict(self.by_operation),
            "by_operation_status": dict(self.by_operation_status),
            "rate_limited": self.rate_limited,
            "failed": self.failed,
            "dropped": self.dropped,
            "invalid_responses": self.invalid_responses,
            "response_errors": self.response_errors[-20:],
            "by_credential": {name: dict(c) for name, c in self.by_credential.items()},
        }
