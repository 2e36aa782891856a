"""The rejects file: one JSON object per refused record (``on_invalid: reject``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from singer_sdk.singerlib.json import serialize_json


class RejectsFile:
    """Appends ``{"stream", "key", "reason", "record", ...}`` lines, flushed one by one.

    A line is flushed before its record counts as acknowledged, so a STATE released after
    it never covers a rejected record that is not in the file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def write(
        self,
        *,
        stream: str,
        key: str,
        reason: str,
        record: dict[str, Any],
        status: int | None = None,
    ) -> None:
        entry: dict[str, Any] = {"stream": stream, "key": key, "reason": reason}
        if status is not None:
            entry["status"] = status
        entry["record"] = record
        line = serialize_json(entry) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()
