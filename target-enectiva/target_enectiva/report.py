"""Per-stream counts of what the target did, per-credential counts of its requests, and the
summary it logs (at the end and every ``report_interval`` seconds).

``inferred`` counts records whose local time fell in a repeated hour and was placed by
``ambiguous_local_times: infer``; it is shown only when not zero.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from enectiva.policy import CredentialPolicy

#: Counters in the order the summary prints them.
COUNTERS = (
    "sent",
    "created",
    "updated",
    "already_present",
    "deleted",
    "already_deleted",
    "suspicious",
    "rejected",
    "skipped",
    "retried",
    "throttled",
    "validated",
    "inferred",
)
#: Shown only when not zero (only runs reading local times at a repeated hour have them).
WHEN_NOT_ZERO = frozenset({"inferred"})


class Report:
    """Thread-safe counters per stream (the main thread and the delivery thread both count)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
        self._started = time.monotonic()
        self._credentials: tuple[CredentialPolicy, ...] = ()

    def add_credentials(self, *policies: CredentialPolicy) -> None:
        """Credentials whose requests, 429s, paced rate and switches the summary counts."""
        self._credentials += policies

    def add(self, stream: str, counter: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[stream][counter] += amount

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A copy of every stream's counters."""
        with self._lock:
            return {stream: dict(counts) for stream, counts in self._counts.items()}

    def total(self, counter: str) -> int:
        with self._lock:
            return sum(counts[counter] for counts in self._counts.values())

    def lines(self, *, final: bool) -> list[str]:
        """One human line per stream: counts and records/s since the start."""
        elapsed = max(time.monotonic() - self._started, 1e-6)
        label = "summary" if final else "progress"
        out = []
        for stream, counts in sorted(self.snapshot().items()):
            done = sum(
                counts[c]
                for c in (
                    "created",
                    "updated",
                    "already_present",
                    "deleted",
                    "already_deleted",
                    "rejected",
                    "skipped",
                    "validated",
                )
            )
            parts = ", ".join(
                f"{c} {counts[c]}"
                for c in COUNTERS
                if c != "throttled" and (counts[c] or c not in WHEN_NOT_ZERO)
            )
            out.append(
                f"{label} stream {stream}: {parts}, 429s {counts['throttled']}, "
                f"{done / elapsed:.1f} records/s"
            )
        now = time.time()
        for policy in self._credentials:
            summary = policy.summary(now)
            if summary.requests:
                out.append(f"{label} credential {summary.line()}")
        return out

    def log(self, logger: logging.Logger, *, final: bool) -> None:
        for line in self.lines(final=final):
            logger.info(line)
