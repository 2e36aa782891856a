"""A Singer message reader that knows its line number and skips unknown message types."""

from __future__ import annotations

import logging
import typing as t
from collections import Counter, defaultdict

import msgspec
from singer_sdk.contrib.msgspec import decoder
from singer_sdk.io_base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from typing_extensions import override

logger = logging.getLogger("target-enectiva")


class LineReader(GenericSingerReader[str]):
    """msgspec-decoded lines (numbers as Decimal, like the SDK's readers).

    Compared with the SDK's reader: ``line_number`` names the line being processed, blank
    lines are ignored, a bad line raises a one-line error naming its number, and unknown
    message types are skipped with a warning instead of stopping the run.
    """

    @property
    @override
    def default_input(self) -> t.IO[str]:
        import sys

        return sys.stdin

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self._warned_types: set[str] = set()

    @override
    def deserialize_json(self, line: str) -> dict:
        try:
            message = decoder.decode(line)
        except msgspec.DecodeError as exc:
            msg = f"line {self.line_number}: not a JSON object ({exc})"
            raise InvalidInputLine(msg) from None
        if not isinstance(message, dict):
            msg = f"line {self.line_number}: a Singer message must be a JSON object"
            raise InvalidInputLine(msg)
        return message

    @override
    def process_lines(
        self,
        file_input: t.IO[str] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        stats: dict[str, int] = defaultdict(int)
        for line in file_input or self.default_input:
            self.line_number += 1
            if not line.strip():
                continue
            self._current_message = line
            message = self.deserialize_json(line)
            if "type" not in message:
                msg = f"line {self.line_number}: message has no 'type'"
                raise InvalidInputLine(msg)
            message_type = message["type"]
            callback = callbacks.get(message_type)
            if callback is None:
                self._process_unknown_message(message)
                continue
            callback(message)
            stats[message_type] += 1
        return Counter(**stats)

    @override
    def _process_unknown_message(self, message_dict: dict) -> None:
        # Private SDK hook: the SDK stops on an unknown message type; warn once and go on.
        message_type = str(message_dict.get("type"))
        if message_type not in self._warned_types:
            self._warned_types.add(message_type)
            logger.warning(
                "line %d: unknown message type %r skipped (and any further ones)",
                self.line_number,
                message_type,
            )
