"""When the tap writes STATE: when it is worth writing, so that STATE stays linear.

The SDK writes the whole state (every partition's bookmark) at the end of each partition and
every ``STATE_MSG_FREQUENCY`` records: with one partition per meter that is quadratic in the
meters (2,000 meters of one day each: 2,001 STATE messages, 208 MB, for 12 MB of records).
Here STATE is written after a page when at least :data:`EVERY_RECORDS` records were written
since the last one *and* their bytes are at least :data:`BYTES_RATIO` times the last STATE's
size (so STATE bytes stay within about 1/BYTES_RATIO of RECORD bytes however many partitions
there are), or when :data:`EVERY_SECONDS` have passed with records written; and at the end
(the SDK's own final writes). Each STATE covers only records already written (the writer
flushes them before it), so a killed run resumes from its last STATE and repeats at most
the records after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tap_enectiva.output import BufferedMsgSpecWriter

#: Records between two STATE messages at least.
EVERY_RECORDS = 250
#: RECORD bytes per STATE byte at least between two STATE messages.
BYTES_RATIO = 50
#: Seconds after which a STATE is written anyway once records were written.
EVERY_SECONDS = 60.0


class StateCadence:
    """Decides, after each page, whether to write STATE; writes it through ``write_state``."""

    def __init__(
        self,
        writer: Any,
        write_state: Callable[[], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._writer = writer if isinstance(writer, BufferedMsgSpecWriter) else None
        self._write_state = write_state
        self._clock = clock
        self._records = 0
        self._bytes_at_last = 0
        self._last = clock()

    def written(self, records: int) -> None:
        """``records`` more were written (all of them already counted in the state)."""
        self._records += records
        if self._records == 0:
            return
        if self._due() or self._clock() - self._last >= EVERY_SECONDS:
            self.write()

    def _due(self) -> bool:
        if self._records < EVERY_RECORDS:
            return False
        if self._writer is None:  # another writer: no byte counts, count records only
            return True
        grown = self._writer.record_bytes - self._bytes_at_last
        return grown >= BYTES_RATIO * self._writer.last_state_bytes

    def write(self) -> None:
        """Write STATE now."""
        self._write_state()
        self._records = 0
        self._last = self._clock()
        if self._writer is not None:
            self._bytes_at_last = self._writer.record_bytes
