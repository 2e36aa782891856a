"""Partitioned runs (contract section 7): which ids one process of N reads.

An id belongs to partition ``partition_of(id, N)``: the first 8 bytes of the SHA-256 of the
id's UTF-8 text, read as a big-endian unsigned integer, modulo N. This function is part of
the tap's contract with its users (a state of partition i stays valid only while the same
ids fall into i): it must give the same answer in every version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from tap_enectiva.settings import setting


def partition_of(item_id: str, count: int) -> int:
    """The partition (0-based, below ``count``) that ``item_id`` falls into."""
    digest = hashlib.sha256(str(item_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def partition_setting_errors(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``partition_count`` / ``partition_index`` (empty when fine)."""
    count = config.get("partition_count", 1)
    index = config.get("partition_index", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        return [f"partition_count {count!r} must be an integer of at least 1"]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        return [
            f"partition_index {index!r} must be an integer from 0 to partition_count - 1 "
            f"({count - 1}); set partition_index below partition_count"
        ]
    return []


class Partition:
    """This run's share of the ids: all of them unless ``partition_count`` > 1."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.count = int(setting(config, "partition_count"))
        self.index = int(setting(config, "partition_index"))

    def owns(self, item_id: str) -> bool:
        """Whether this run reads ``item_id`` (and everything that belongs to it)."""
        return self.count == 1 or partition_of(item_id, self.count) == self.index
