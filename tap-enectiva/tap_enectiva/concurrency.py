"""Concurrent reads of partitions: worker threads fetch, the main thread writes.

Why past the SDK: it reads partitions one after another (a child stream's ``sync`` per
parent record, ``partitions`` in a loop; parallel syncs are its open issue meltano/sdk#2121),
so at a distance the tap waits for one request at a time. Its state manager and message
writer are not thread-safe, so only the fetching moves to threads:

- the main thread starts a partition (:meth:`PartitionReader.submit`: the SDK's per-partition
  start — signpost, starting value, the first request built from the bookmark) and hands it
  to a pool of ``max_concurrency`` worker threads, so at most that many requests are in
  flight;
- a worker follows the partition's pages in order and puts each page into one bounded queue;
- the main thread takes pages from that queue, writes their records and advances the
  partition's bookmark through the SDK's state API, and closes a partition after its last
  page. One writer, so every STATE covers only records already written.

Memory is bounded in ``max_concurrency``: the queue holds at most ``max_concurrency`` pages,
each worker at most one more, and at most ``2 * max_concurrency`` partitions are open (the
main thread writes pages before it starts more).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Seconds a blocked worker waits before it looks again whether the run stopped.
_POLL = 0.1


class PartitionStream(Protocol):
    """What the reader needs of a stream read partition by partition."""

    name: str

    def begin_partition(self, job: PartitionJob) -> None:
        """Main thread: start the partition (state, first request) before it is fetched."""

    def fetch_pages(self, job: PartitionJob) -> Iterator[Any]:
        """Worker thread: the partition's pages in order (no state, no output)."""

    def write_page(self, job: PartitionJob, page: Any) -> int:
        """Main thread: write a page's records and advance the bookmark; the records written."""

    def end_partition(self, job: PartitionJob) -> None:
        """Main thread: close the partition after its last page."""

    def end_partitions(self) -> None:
        """Main thread: every partition begun so far was written and closed."""


@dataclass(eq=False)
class PartitionJob:
    """One partition of one stream being read."""

    stream: PartitionStream
    context: dict[str, Any]
    #: The stream's own bookkeeping for this partition (first request, counters, ...).
    data: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False


class _End:
    """Marks a partition's last page."""


_END = _End()


class PartitionReader:
    """The run's one pool of fetching threads and its one queue of fetched pages."""

    def __init__(self, max_concurrency: int, on_page: Callable[[int], None]) -> None:
        self.max_concurrency = max(1, int(max_concurrency))
        self._on_page = on_page
        self._open = 0
        self._start()

    def _start(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pages: queue.Queue[tuple[PartitionJob, Any]] = queue.Queue(self.max_concurrency)
        self._stop = threading.Event()
        self._open = 0
        #: The streams whose partitions were begun since the last drain.
        self._streams: dict[int, PartitionStream] = {}

    # ---- main thread ----

    def submit(self, stream: PartitionStream, context: dict[str, Any]) -> None:
        """Start reading a partition; writes pages of others while too many are open."""
        job = PartitionJob(stream, dict(context))
        stream.begin_partition(job)
        self._streams.setdefault(id(stream), stream)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="fetch")
        self._open += 1
        self._pool.submit(self._fetch, job)
        while self._open > 2 * self.max_concurrency:
            self._take()

    def drain(self) -> None:
        """Write every open partition to its end."""
        try:
            while self._open:
                self._take()
        except BaseException:
            self.cancel()
            raise
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            stream.end_partitions()

    def cancel(self) -> None:
        """Stop every worker (after its current request) and forget open partitions."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._start()

    def _take(self) -> None:
        job, item = self._pages.get()
        if isinstance(item, BaseException):
            raise item
        if item is _END:
            self._open -= 1
            if not job.cancelled:
                job.stream.end_partition(job)
            return
        if not job.cancelled:
            self._on_page(job.stream.write_page(job, item))

    # ---- worker threads ----

    def _fetch(self, job: PartitionJob) -> None:
        try:
            for page in job.stream.fetch_pages(job):
                if self._stop.is_set() or job.cancelled or not self._put(job, page):
                    break
            self._put(job, _END)
        except BaseException as exc:  # re-raised by the main thread
            self._put(job, exc)

    def _put(self, job: PartitionJob, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._pages.put((job, item), timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False
