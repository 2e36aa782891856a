"""The error a run stops with: one line for the user, no traceback."""

from __future__ import annotations


class TargetError(Exception):
    """A condition that ends the run with a non-zero exit and a one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
