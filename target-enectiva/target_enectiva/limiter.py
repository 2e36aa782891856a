"""An adaptive concurrency limit (AIMD) for the requests in flight."""

from __future__ import annotations

import asyncio
import time
from collections import deque


class AdaptiveLimit:
    """Starts at ``maximum``; halves (min 1) on a 429, grows by one per window of successes.

    A 429 also pauses every new request until its ``Retry-After`` has passed: the API's rate
    limit counts per credential, so the other requests would be refused as well. Requests
    started before the latest decrease do not halve the limit again (one decrease per
    round trip, as in TCP congestion control). Used from one event loop only.
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.in_flight = 0
        self._epoch = 0
        self._successes = 0
        self._resume_at = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a slot; returns the epoch to hand back to :meth:`throttled`."""
        while True:
            delay = self._resume_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            if self.in_flight < self.limit:
                self.in_flight += 1
                return self._epoch
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()
                raise

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def succeeded(self) -> None:
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self._successes = 0
            self._wake()

    def throttled(self, epoch: int, wait: float) -> None:
        """A 429 for a request that started in ``epoch``; pause new requests ``wait`` s."""
        if epoch == self._epoch:
            self.limit = max(1, self.limit // 2)
            self._epoch += 1
            self._successes = 0
        self._resume_at = max(self._resume_at, time.monotonic() + wait)

    def _wake(self) -> None:
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1
