"""Records breaking a rule: the one place that stops the run or rejects them.

A rule is broken either before any request (the contract's rules or the tap's SCHEMA, found
by the sink) or by the API's answer (400, 409 overlap, 404 on create, found by the delivery
engine). Both end in :meth:`InvalidRecords.refuse`: ``on_invalid: fail`` stops the run naming
stream, record and rule; ``on_invalid: reject`` appends the record to the rejects file and
counts it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from singer_sdk.singerlib.json import serialize_json

from target_enectiva.errors import TargetError
from target_enectiva.report import Report


class InvalidRecordError(Exception):
    """A record that breaks a rule of the contract (found before any request)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


class InvalidRecords:
    """Fail or reject; thread-safe (the main thread and the delivery thread both refuse)."""

    def __init__(self, *, reject: bool, rejects_path: str | None, report: Report) -> None:
        self.reject = reject
        self._path = rejects_path
        self._report = report
        self._lock = threading.Lock()
        self._file: RejectsFile | None = None  # opened on the first rejected record

    def refuse(
        self,
        stream: str,
        key: str,
        reason: str,
        record: dict[str, Any],
        *,
        status: int | None = None,
    ) -> None:
        """Stop naming the record (:class:`TargetError`), or write it to the rejects file.

        ``status`` is the API's answer when the API refused it. A rejected line is flushed
        before this returns, so a STATE released after it never covers a record not in the file.
        """
        if not self.reject:
            raise TargetError(f"stream {stream}, record {key}: {reason}")
        entry: dict[str, Any] = {"stream": stream, "key": key, "reason": reason}
        if status is not None:
            entry["status"] = status
        entry["record"] = record
        self._rejects().write(entry)
        self._report.add(stream, "rejected")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()

    def _rejects(self) -> RejectsFile:
        with self._lock:
            if self._file is None:
                if not self._path:
                    raise TargetError("on_invalid: reject needs rejects_path")
                self._file = RejectsFile(self._path)
            return self._file


class RejectsFile:
    """Appends ``{"stream", "key", "reason", ["status",] "record"}`` lines, flushed one by one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, entry: dict[str, Any]) -> None:
        """One rejected record's line (built by :meth:`InvalidRecords.refuse`)."""
        line = serialize_json(entry) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()
