"""When the next request of one credential may start (contract section 8: good citizenship).

The server keeps a token bucket per credential: capacity R, refilled at R per second; a
request finding it empty is answered 429. A client that starts requests at R per second from
a bucket that is not empty is never refused and achieves R. :class:`Pacer` does that:

- **with budget headers** (:mod:`enectiva.budget`) it starts requests at the announced rate R,
  and tracks the bucket's level: the ``remaining`` of the latest answer, plus the refill since
  that answer arrived, minus every request started after that request (they had not reached
  the server when it counted). Below a low-water mark it slows down to let the bucket refill;
  below one request it waits for the refill;
- **without a rate** it learns R from 429s: it starts slowly and doubles its rate every
  ``doubling`` seconds until the first 429. The 429 says the bucket was empty, so for every
  span ``d`` of starts before the refused request, ``starts(d) <= R * d + capacity`` with the
  capacity one second of refill (section 5): the largest ``starts(d) / (d + 1)`` is the
  estimate. It then holds just under it (``hold``) and probes upward slowly (``probe`` per
  second), so each later 429 re-estimates. A ``remaining`` header alone (EnerKey) also
  guards the level once a rate is estimated.

Other clients of the same credential (partition processes sharing a login token) show only
in ``remaining``, which then falls faster than this client's starts and the refill explain:
their rate is learned from that gap (averaged over ``Sharing.tau`` seconds) and left to them,
both in the pace and in the level's projection. Once they draw a real part of it
(``shared_from``), the pace is this client's part of the measured demand times the rate the
bucket affords: ``R`` plus the level's distance to half full over ``level_tau`` seconds.
Every client scales by the same factor, so together they start ``R`` whatever their number
(leaving ``R`` less the others' averaged rate, all would correct the same gap at once and
overshoot it ``N - 1`` times: a 4-second swing of 10-30 requests per second at R = 20 with 4
clients); the level term keeps the bucket away from empty, and a small equal part
(``fair``) evens the shares out. A pace that falls re-books the slots booked at the faster
one: eight workers at 2.5 per second book three seconds ahead, a delay that brought the
swing back (8 clients at R = 20: 2-3.5% 429s without re-booking, 0.6-1.2% with it).

A 429 pauses every new start for its ``Retry-After`` (at least one bucket's refill when the
rate is learned, so the next estimate starts from a full bucket), and reservations made
before it are re-booked.

I/O-free and clock-injected: every call takes ``now`` (any monotonic seconds). Thread-safe:
each call takes a short internal ``threading.Lock`` and never blocks; from asyncio the calls
never await, so the lock is never held across an await.

Protocol (one :class:`Pacer` per credential, shared by every thread / task of the run)::

    slot = pacer.reserve(now)            # books a start time
    while (wait := pacer.start(slot, now)) > 0:
        sleep(wait); now = clock()       # re-booked when a 429 moved the schedule
    ... send the request ...
    pacer.answered(slot, now, status, budget, retry_after)   # or pacer.failed(slot, now)
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

from enectiva.budget import Budget

#: Starts remembered for the estimate from a 429.
HISTORY = 4096


@dataclass
class Slot:
    """One booked start: ``at`` (planned), then ``started`` and ``seq`` once started."""

    at: float
    epoch: int
    seq: int = -1
    started: float = math.nan
    booked: bool = field(default=True, repr=False)
    open: bool = field(default=False, repr=False)


@dataclass
class PacerStats:
    """Counters for the run summary."""

    requests: int = 0  # answers (429 included) and transport failures
    throttled: int = 0  # 429 answers
    rate: float | None = None  # the paced rate (requests per second) at the latest answer
    learned: bool = False  # True when the rate is learned from 429s, not announced


@dataclass(frozen=True)
class Sharing:
    """How a client shares a credential with other clients it learns of (module docstring)."""

    tau: float = 2.0  # seconds over which the others' rate (and this client's) is averaged
    min_share: float = 0.05  # of R, the least this client keeps
    shared_from: float = 0.2  # of R: others drawing less are estimation noise
    level_target: float = 0.5  # of the capacity: the level the shared pace aims at
    level_tau: float = 2.0  # seconds to bring the level back to its target
    fair: float = 0.02  # of R, an equal extra per client that evens the shares out
    rebook: float = 0.05  # a shared pace this much slower re-books the slots booked before


class Pacer:
    """Schedules the starts of one credential's requests (see the module docstring)."""

    def __init__(
        self,
        *,
        start_rate: float = 8.0,
        doubling: float = 0.5,
        hold: float = 0.97,
        probe: float = 0.01,
        bucket_seconds: float = 1.0,
        max_rate: float = 10_000.0,
        low_water: float = 0.1,
        sharing: Sharing | None = None,
    ) -> None:
        self._doubling = doubling
        self._hold = hold
        self._probe = probe
        self._bucket_seconds = bucket_seconds
        self._max_rate = max_rate
        self._low_water = low_water
        self._lock = threading.Lock()
        # schedule
        self._epoch = 0
        self._next_at = -math.inf
        self._resume_at = -math.inf
        self._seq = 0  # starts so far
        self._reserved = 0  # booked, not started
        self._in_flight = 0
        # announced budget
        self._rate: float | None = None
        self._capacity: float | None = None
        self._report: tuple[float, int, float] | None = None  # (remaining, seq, answered at)
        # other clients of the credential (requests per second, averaged over ``Sharing.tau``)
        self._foreign = 0.0
        self._own = 0.0  # this client's starts per second, averaged over the same spans
        self._sharing = sharing or Sharing()
        self._booked_share: float | None = None  # the shared pace of the latest booking
        # learning
        self._estimate: float | None = None
        self._base = start_rate
        self._window_start: float | None = None
        self._slow_start = True
        self._starts: deque[float] = deque(maxlen=HISTORY)
        self.stats = PacerStats()

    @property
    def in_flight(self) -> int:
        """Requests started and not yet answered."""
        return self._in_flight

    # ---------- schedule ----------

    def reserve(self, now: float) -> Slot:
        """Book the earliest start allowed after ``now``."""
        with self._lock:
            return self._book(now)

    def start(self, slot: Slot, now: float) -> float:
        """0.0: the request starts now (it is counted); otherwise seconds to wait, then call
        again (the slot was re-booked when the schedule changed under it)."""
        with self._lock:
            if slot.epoch != self._epoch:
                self._unbook(slot)
                fresh = self._book(now)
                slot.at, slot.epoch, slot.booked = fresh.at, fresh.epoch, True
            if slot.at > now + 1e-9:
                return slot.at - now
            self._unbook(slot)
            slot.seq = self._seq
            slot.started = now
            slot.open = True
            self._seq += 1
            self._in_flight += 1
            self._starts.append(now)
            if self._window_start is None:
                self._window_start = now
            return 0.0

    def cancel(self, slot: Slot) -> None:
        """Give back a slot that will not be used (booked or started)."""
        with self._lock:
            if slot.booked:
                self._unbook(slot)
            elif slot.open:
                self._in_flight -= 1
                slot.open = False

    def _book(self, now: float) -> Slot:
        self._idle_restart(now)
        at = max(now, self._next_at, self._resume_at)
        rate = self._rate_at(at)
        level = self._level(at)
        refill = self._own_refill()
        if level is not None and refill is not None:
            if self._foreign_rate() > 0:
                rate = min(rate, refill)  # the other clients' share is theirs
                self._booked_share = rate
            if level < 1.0:
                at += (1.0 - level) / refill
            low = max(2.0, self._low_water * (self._capacity or refill))
            if level < low:
                rate *= 0.8
        self._next_at = at + 1.0 / rate
        self._reserved += 1
        return Slot(at=at, epoch=self._epoch)

    def _unbook(self, slot: Slot) -> None:
        if slot.booked:
            slot.booked = False
            if slot.epoch == self._epoch:  # a new epoch forgot the older bookings
                self._reserved -= 1

    def _idle_restart(self, now: float) -> None:
        """After a pause of a bucket's refill without starts, the bucket is full again and the
        learning window restarts from the rate reached (not from the idle time's growth)."""
        if self._window_start is None or self._rate is not None:
            return
        last = self._starts[-1] if self._starts else self._window_start
        if (
            now - max(last, self._resume_at) >= self._bucket_seconds
            and self._reserved == 0
            and self._in_flight == 0
        ):
            self._base = self._rate_at(max(last, self._window_start))
            self._window_start = now
            self._starts.clear()

    # ---------- rates ----------

    def _rate_at(self, t: float) -> float:
        if self._rate is not None:
            return self._rate
        start = self._window_start if self._window_start is not None else t
        elapsed = max(0.0, t - start)
        if self._slow_start:
            rate = self._base * 2.0 ** min(64.0, elapsed / self._doubling)
        else:
            rate = self._base * (1.0 + self._probe * elapsed)
        return min(self._max_rate, rate)

    def _level(self, t: float) -> float | None:
        """The bucket's estimated level at ``t``, or None without a ``remaining`` report."""
        refill = self._own_refill()
        if self._report is None or refill is None:
            return None
        remaining, seq, when = self._report
        level = remaining + refill * max(0.0, t - when) - (self._seq - seq - 1) - self._reserved
        if self._capacity is not None:
            level = min(level, self._capacity)
        return level

    def _refill(self) -> float | None:
        """The bucket's refill rate: announced, else estimated from 429s, else unknown."""
        return self._rate if self._rate is not None else self._estimate

    def _foreign_rate(self) -> float:
        return max(0.0, self._foreign)

    def _shared(self) -> bool:
        """Other clients draw a real part of the announced rate (one client's estimate is
        noise of up to a tenth of it: below ``shared_from`` it paces as it always did)."""
        return self._rate is not None and self._foreign > self._sharing.shared_from * self._rate

    def _own_refill(self) -> float | None:
        """The refill this client may use (never below ``min_share`` of the bucket's): the
        bucket's less what other clients draw; when they draw a real part, its part of the
        measured demand times what the bucket affords (see the module docstring)."""
        refill = self._refill()
        if refill is None:
            return None
        foreign = self._foreign_rate()
        if not self._shared() or self._report is None:
            return max(refill - foreign, self._sharing.min_share * refill)
        part = self._own / (self._own + foreign)
        # the latest remaining, not the projected level: every client then aims at the same
        target = self._sharing.level_target * (self._capacity or refill)
        affords = refill + (self._report[0] - target) / self._sharing.level_tau
        # the equal ``fair`` part grows small shares faster than large ones: they even out
        return min(
            refill,
            max(part * affords + self._sharing.fair * refill, self._sharing.min_share * refill),
        )

    def rate(self, now: float) -> float | None:
        """The paced rate now (requests per second); None while no limit was met (no rate
        announced, no 429 yet: the pacer is still speeding up)."""
        with self._lock:
            return self._paced(now)

    def _paced(self, now: float) -> float | None:
        if self._rate is None and self._slow_start:
            return None
        rate = self._rate_at(now)
        if self._rate is None and self._report is not None and self._estimate is not None:
            rate = min(rate, self._estimate)  # the level guard holds it to the refill
        return rate

    # ---------- answers ----------

    def answered(
        self,
        slot: Slot,
        now: float,
        status: int,
        budget: Budget | None = None,
        retry_after: float | None = None,
    ) -> None:
        """An answer to a started request; ``retry_after`` in seconds (429 only)."""
        with self._lock:
            self._finish(slot)
            if budget is not None:
                self._take_budget(slot, now, budget)
            if status == 429:
                self.stats.throttled += 1
                self._throttled(slot, now, retry_after)
            self.stats.rate = self._paced(now)
            self.stats.learned = self._rate is None

    def failed(self, slot: Slot, now: float) -> None:
        """A started request that got no answer (transport failure)."""
        with self._lock:
            self._finish(slot)

    def _finish(self, slot: Slot) -> None:
        if slot.open:
            self._in_flight -= 1
            slot.open = False
        self.stats.requests += 1

    def _take_budget(self, slot: Slot, now: float, budget: Budget) -> None:
        if budget.rate is not None and budget.rate > 0:
            if self._rate is None or abs(budget.rate - self._rate) > 1e-9:
                self._rate = budget.rate
                self._new_epoch(max(now, self._resume_at))
            self._capacity = budget.capacity or budget.rate
        remaining = budget.remaining
        if remaining is None and budget.reset is not None and self._capacity and self._rate:
            remaining = max(0.0, self._capacity - budget.reset * self._rate)
        if remaining is not None and (self._report is None or slot.seq > self._report[1]):
            self._learn_foreign(remaining, slot.seq, now)
            self._report = (remaining, slot.seq, now)
            self._rebook_slower(now)

    def _rebook_slower(self, now: float) -> None:
        """A shared pace that fell by more than ``rebook`` re-books the slots booked at the
        faster one: they would start up to (workers / pace) seconds after it fell."""
        booked = self._booked_share
        share = self._own_refill()
        if booked is None or share is None or not self._shared() or self._reserved == 0:
            return
        if share < (1.0 - self._sharing.rebook) * booked:
            last = self._starts[-1] if self._starts else -math.inf  # keep the new spacing
            self._new_epoch(max(now, self._resume_at, last + 1.0 / share))
            self._booked_share = None

    def _learn_foreign(self, remaining: float, seq: int, now: float) -> None:
        """Other clients of the credential (e.g. partition processes sharing a login token):
        the level fell by more than this client's own starts and the refill explain. Their
        rate is averaged over ``share_tau`` seconds; quantised or reordered reports make
        noise on both sides that the average cancels. Only with an announced rate."""
        refill = self._rate  # announced only: a rate learned from 429s is a lower bound
        if self._report is None or refill is None:
            return
        before, before_seq, before_at = self._report
        span = now - before_at
        if span <= 0:
            return
        expected = before + refill * span
        if self._capacity is not None:
            expected = min(expected, self._capacity)
        expected -= seq - before_seq  # this client's requests counted in between
        sample = (expected - remaining) / span
        weight = 1.0 - math.exp(-span / self._sharing.tau)
        self._foreign += weight * (sample - self._foreign)
        self._own += weight * ((seq - before_seq) / span - self._own)

    def _throttled(self, slot: Slot, now: float, retry_after: float | None) -> None:
        pause = retry_after if retry_after is not None else self._bucket_seconds
        learning = self._rate is None
        if learning:
            pause = max(pause, self._bucket_seconds)
        self._resume_at = max(self._resume_at, now + pause)
        if slot.epoch != self._epoch:
            return  # sent before the previous 429 moved the schedule: same episode
        if learning:
            sample = self._sample(slot)
            if sample is not None and self._estimate is not None:
                # A sample is a lower bound of R, loose when the bucket was not full where its
                # span starts: one such sample must not drop the estimate far (the slow probe
                # upwards would take minutes to recover), so each 429 lowers it by ``hold``
                # at most; a limit that really fell is followed within a few 429s.
                sample = max(sample, self._hold * self._estimate)
            if sample is not None:
                self._estimate = sample
                self._base = self._hold * sample
                self._slow_start = False
        self._new_epoch(self._resume_at)
        if learning:
            self._window_start = self._resume_at
            self._starts.clear()

    def _sample(self, slot: Slot) -> float | None:
        """The largest ``starts(d) / (d + capacity)`` over spans ending at the refused start."""
        end = slot.at if math.isnan(slot.started) else slot.started
        best: float | None = None
        count = 0
        for t in reversed(self._starts):
            if t >= end:
                continue
            count += 1
            value = count / ((end - t) + self._bucket_seconds)
            if best is None or value > best:
                best = value
        return best

    def _new_epoch(self, at: float) -> None:
        """Move the schedule: bookings made before are re-booked when they come to start."""
        self._epoch += 1
        self._next_at = at
        self._reserved = 0
