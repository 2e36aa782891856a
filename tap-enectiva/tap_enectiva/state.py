"""The SDK's stream state manager, with partitions found by an index instead of a scan.

Performance: the SDK finds a partition's state by scanning the stream's list of partitions
(``singer_sdk.helpers._state``), several times per partition and on every record: quadratic
in the partitions (2,000 meters: most of the run). This manager keeps an index by the state
partition context, rebuilt whenever that list is replaced, and returns the very dicts the SDK
would; a partition the whole index lacks is appended as ``{"context": ...}``, as the SDK's
``_create_in_partitions_list`` does. STATE is unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from singer_sdk.helpers import types
from singer_sdk.streams._state import StreamStateManager
from typing_extensions import override

Key = tuple[tuple[str, Any], ...]


def _key(context: types.Context) -> Key:
    return tuple(sorted(context.items()))


class IndexedStateManager(StreamStateManager):
    """A :class:`StreamStateManager` whose partition look-ups cost O(1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._index: dict[Key, dict] = {}
        self._index_of: list[dict] | None = None
        # The last context asked for and its state: records of one page share one context.
        self._last: tuple[types.Context | None, dict] = (None, {})
        self._partition_logger = _DebugForInfo(self._logger, {})

    def write_partition_starting_value(self, context: types.Context, **kwargs: Any) -> None:
        """``write_starting_replication_value`` for one partition of many: the same state,
        its "Starting incremental sync ... with bookmark value" line at DEBUG (at INFO that
        is a line per meter, thousands in a large portfolio's run)."""
        logger = self._logger
        self._logger = self._partition_logger  # type: ignore[assignment]  # an adapter
        try:
            self.write_starting_replication_value(context, **kwargs)
        finally:
            self._logger = logger

    @override
    def get_context_state(self, context: types.Context | None) -> dict:
        last_context, last_state = self._last
        if (
            context is not None
            and context is last_context
            and self._index_of is not None
            and self._partitions() is self._index_of
        ):
            return last_state
        state = self._lookup(context)
        self._last = (context, state)
        return state

    def _lookup(self, context: types.Context | None) -> dict:
        partition = self.get_state_partition_context(context) if context else None
        if not partition:
            return super().get_context_state(context)
        try:
            key = _key(partition)
        except TypeError:  # an unhashable context value: the SDK's way
            return super().get_context_state(context)
        partitions = self._partitions()
        if partitions is not None and partitions is self._index_of:
            state = self._index.get(key)
            if state is None:  # the index is whole: a new partition, created as the SDK does
                state = {"context": dict(partition)}
                partitions.append(state)
                self._index[key] = state
            return state
        state = super().get_context_state(context)  # finds or creates the entry
        partitions = self._partitions()
        if partitions is not self._index_of:
            self._index_of = partitions
            self._index = {}
            for entry in partitions or ():
                with contextlib.suppress(TypeError, AttributeError, KeyError):
                    self._index[_key(entry["context"])] = entry
        self._index[key] = state
        return state

    def _partitions(self) -> list[dict] | None:
        stream_state = (self.tap_state.get("bookmarks") or {}).get(self.stream_name) or {}
        partitions = stream_state.get("partitions")
        return partitions if isinstance(partitions, list) else None


class _DebugForInfo(logging.LoggerAdapter):
    """Its logger, with ``info`` lines logged at DEBUG."""

    @override
    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)
