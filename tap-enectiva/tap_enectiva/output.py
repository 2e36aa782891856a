"""Singer output: msgspec encoding, flushed at each STATE instead of after every record."""

from __future__ import annotations

import atexit
import contextlib
import io
import sys
from datetime import UTC, datetime
from typing import Any, BinaryIO, TextIO

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder, serialize_jsonl
from singer_sdk.singerlib.encoding.simple import Message, StateMessage
from typing_extensions import override


class BufferedMsgSpecWriter(MsgSpecWriter):
    """Writes through stdout's buffer; a STATE flushes it, so a reader always holds every
    record that a STATE it has read covers (the buffer also flushes when full and at exit).

    It counts the bytes of RECORD lines and the size of the latest STATE line, which the
    STATE cadence (:mod:`tap_enectiva.checkpoint`) weighs against each other.
    """

    record_bytes = 0
    last_state_bytes = 0
    _out: BinaryIO | None = None

    @property
    def out(self) -> BinaryIO:
        """stdout's byte stream, buffered even where Python's is not.

        Under ``PYTHONUNBUFFERED`` (``python -u``, and many container images set it) stdout
        has no buffer: every record would be a system call. A buffer of our own keeps the
        promise above (flushed at each STATE and at exit).
        """
        if self._out is None:
            stream = sys.stdout.buffer
            if isinstance(stream, io.RawIOBase):
                buffered = io.BufferedWriter(stream, buffer_size=1 << 16)
                atexit.register(_flush_quietly, buffered)
                _OWN_BUFFERS.append(buffered)
                stream = buffered
            self._out = stream
        return self._out

    @override
    def write_message(self, message: Message) -> None:
        out = self.out
        if isinstance(message, StateMessage):
            line = state_line(message)
            out.write(line)
            self.last_state_bytes = len(line)
            out.flush()
            return
        out.write(self.format_message(message))

    def write_record(
        self,
        stream: str,
        record: dict[str, Any],
        version: int | None,
        extracted: datetime | None = None,
    ) -> None:
        """A RECORD message, encoded without building a ``RecordMessage`` first (the same
        line ``RecordMessage.to_dict()`` gives); ``extracted`` is its ``time_extracted``
        (now when not given)."""
        lines = self.page_lines(stream, version, extracted or datetime.now(UTC))
        lines.add(record)
        lines.write()

    def page_lines(self, stream: str, version: int | None, extracted: datetime) -> PageLines:
        """A page's RECORD lines, to be written in one go (see :class:`PageLines`)."""
        return PageLines(self, stream, version, extracted)


class PageLines:
    """RECORD lines of one page, each encoded as its record is built (the record can go at
    once) and all written in one write: as :meth:`BufferedMsgSpecWriter.write_record` would.

    Performance: one buffered write per record was a fifth of the tap's time.
    """

    def __init__(
        self, writer: BufferedMsgSpecWriter, stream: str, version: int | None, extracted: datetime
    ) -> None:
        self._writer = writer
        self._message: dict[str, Any] = {"type": "RECORD", "stream": stream, "record": None}
        if version is not None:
            self._message["version"] = version
        self._message["time_extracted"] = extracted
        self._chunk = bytearray()

    def add(self, record: dict[str, Any]) -> None:
        """Encode one record's line."""
        self._message["record"] = record
        encoder.encode_into(self._message, self._chunk, -1)  # -1: appended
        self._chunk += b"\n"

    def write(self) -> None:
        """Write every line added (nothing when none was)."""
        if self._chunk:
            self._writer.record_bytes += len(self._chunk)
            self._writer.out.write(self._chunk)
            self._chunk = bytearray()


def state_line(message: StateMessage) -> bytes:
    """The line ``format_message`` gives for a STATE, without its deep copy of the state.

    Performance: ``Message.to_dict`` copies the whole value (``dataclasses.asdict``), every
    partition's bookmark each time: a twentieth of a 2,000-meter run.
    """
    return bytes(serialize_jsonl({"type": "STATE", "value": message.value}))


#: The buffers this module put in front of an unbuffered stdout (flushed by flush_stdout).
_OWN_BUFFERS: list[BinaryIO] = []


def flush_stdout() -> None:
    """Write out every record still buffered: before a last line on stderr, so that a reader
    of both streams in one pipe (Meltano's ``config test``) sees that line last."""
    for stream in (*_OWN_BUFFERS, sys.stdout):
        _flush_quietly(stream)


def _flush_quietly(stream: BinaryIO | TextIO) -> None:
    """At exit: what is still buffered goes out, unless stdout is gone already."""
    with contextlib.suppress(ValueError, OSError):
        stream.flush()
