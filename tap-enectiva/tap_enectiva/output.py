"""Singer output: msgspec encoding, flushed at each STATE instead of after every record."""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib.encoding.simple import Message, StateMessage


class BufferedMsgSpecWriter(MsgSpecWriter):
    """Writes through stdout's buffer; a STATE flushes it, so a reader always holds every
    record that a STATE it has read covers (the buffer also flushes when full and at exit)."""

    def write_message(self, message: Message) -> None:
        out = sys.stdout.buffer
        out.write(self.format_message(message))
        if isinstance(message, StateMessage):
            out.flush()
