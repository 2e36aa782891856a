"""Fixtures of the target's CLI tests."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.sandbox import Sandbox


@pytest.fixture(scope="module")
def empty_sandbox(make_sandbox: Any) -> Sandbox:
    """A sandbox without seeded records, for this module's imports."""
    return make_sandbox(seed="empty")


@pytest.fixture
def ids() -> str:
    """A unique prefix for import ids, so tests sharing a sandbox do not meet."""
    return f"t{uuid.uuid4().hex[:10]}"
