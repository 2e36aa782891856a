"""Singer input for the target: readings of many series, interleaved, a STATE every 100."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

#: Series the records are spread over, round-robin: the target sends one series in order,
#: so as many series as requests in flight are needed to fill them (a tap of many meters
#: interleaved by time, or a CSV of many meters per row, look like this).
SERIES = 64
STATE_EVERY = 100
_SCHEMA = {
    "type": "SCHEMA",
    "stream": "readings",
    "key_properties": ["import_id", "time"],
    "schema": {
        "type": "object",
        "properties": {
            "import_id": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "state": {"type": "number"},
            "unit": {"type": "string"},
        },
    },
}


def lines(count: int, prefix: str, series: int = SERIES) -> Iterator[bytes]:
    """``count`` RECORD lines (plus SCHEMA and STATE lines), times in the past."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)
    yield _line(_SCHEMA)
    for i in range(count):
        step, series_no = divmod(i, series)
        time = (start + timedelta(minutes=15 * step)).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {
            "import_id": f"{prefix}-{series_no:03d}",
            "time": time,
            "state": 1000.0 + step * 2.5,
            "unit": "kWh",
        }
        yield _line({"type": "RECORD", "stream": "readings", "record": record})
        if (i + 1) % STATE_EVERY == 0:
            yield _line({"type": "STATE", "value": {"bookmarks": {"readings": {"sent": i + 1}}}})


def write(path: Path, count: int, prefix: str) -> Path:
    with path.open("wb") as out:
        feed(out, count, prefix)
    return path


def feed(out: IO[bytes], count: int, prefix: str) -> None:
    batch: list[bytes] = []
    for line in lines(count, prefix):
        batch.append(line)
        if len(batch) >= 1000:
            out.write(b"".join(batch))
            batch.clear()
    out.write(b"".join(batch))


def _line(message: object) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"
