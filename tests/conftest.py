"""Fixtures shared by every test suite: sandbox server processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.sandbox import Sandbox, session_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    """The shared demo sandbox (page size 50, so lists have many pages)."""
    return session_sandbox()


@pytest.fixture(scope="session")
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start extra sandboxes (``Sandbox`` keyword arguments); all are stopped at session end."""
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        sb = Sandbox(**kwargs).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


# The reliability suite's figures table: the hooks must live here, in a conftest that the
# controlling process of an xdist run loads (it collects nothing itself).
from tests.reliability.figures import (  # noqa: E402
    pytest_configure,
    pytest_terminal_summary,
    pytest_unconfigure,
)

__all__ = [
    "make_sandbox",
    "pytest_configure",
    "pytest_terminal_summary",
    "pytest_unconfigure",
    "sandbox",
]
