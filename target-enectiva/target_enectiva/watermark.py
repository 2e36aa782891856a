"""The acknowledgement watermark: when a received STATE may be written back.

Each record handed to delivery gets a sequence number. A STATE is remembered with the number
of records received before it and released (written as one bare JSON line) once all of them
are acknowledged. Only the latest releasable STATE is written (coalescing).
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from singer_sdk.singerlib.json import serialize_json


def write_stdout(value: Any) -> None:
    """How a released STATE is written: one bare JSON line on stdout, flushed."""
    sys.stdout.write(serialize_json(value) + "\n")
    sys.stdout.flush()


class Watermark:
    """Thread-safe: records register on the main thread, acks arrive from delivery."""

    def __init__(self, write: Callable[[Any], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._next = 0
        self._pending: deque[int] = deque()  # unacknowledged sequence numbers, ascending
        self._acked_early: set[int] = set()  # acked while an older one is still pending
        self._states: deque[tuple[int, Any]] = deque()  # (records before it, value)
        self._written: Any = None
        self._has_written = False

    def register(self) -> int:
        """A new record's sequence number (to be acknowledged exactly once)."""
        with self._lock:
            seq = self._next
            self._next += 1
            self._pending.append(seq)
            return seq

    def ack(self, seq: int) -> None:
        """Acknowledge a record; writes a STATE when one becomes releasable."""
        with self._lock:
            if self._pending and self._pending[0] == seq:
                self._pending.popleft()
                while self._pending and self._pending[0] in self._acked_early:
                    self._acked_early.discard(self._pending.popleft())
            else:
                self._acked_early.add(seq)
            self._release_locked()

    def offer(self, value: Any) -> None:
        """A STATE received after every record registered so far."""
        with self._lock:
            if self._states and self._states[-1][0] == self._next:
                self._states.pop()  # no record in between: the newer STATE supersedes it
            self._states.append((self._next, value))
            self._release_locked()

    @property
    def outstanding(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def held_states(self) -> int:
        with self._lock:
            return len(self._states)

    def _release_locked(self) -> None:
        low = self._pending[0] if self._pending else self._next
        releasable = None
        found = False
        while self._states and self._states[0][0] <= low:
            releasable = self._states.popleft()[1]
            found = True
        if found and not (self._has_written and releasable == self._written):
            self._write(releasable)
            self._written = releasable
            self._has_written = True
