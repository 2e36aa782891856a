"""Test helpers around the sandbox process: configs for the plugins and a shared instance."""

from __future__ import annotations

import threading
from typing import Any

from enectiva_sandbox.process import Sandbox


def tap_config(sb: Sandbox, **overrides: Any) -> dict[str, Any]:
    """A tap config for the sandbox's main customer (add data series ids etc. as overrides)."""
    config: dict[str, Any] = {
        "api_url": sb.url,
        "customer_id": sb.creds["customer_id"],
        "login_token": sb.creds["login_token"],
        "start_date": "2000-01-01T00:00:00Z",
    }
    config.update(overrides)
    return config


def target_config(sb: Sandbox, **overrides: Any) -> dict[str, Any]:
    """A target config pointing at the sandbox's main customer."""
    config: dict[str, Any] = {
        "api_url": sb.url,
        "customer_id": sb.creds["customer_id"],
        "import_token": sb.creds["import_token"],
        "login_token": sb.creds["login_token"],
    }
    config.update(overrides)
    return config


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def session_sandbox() -> Sandbox:
    """A process-wide demo sandbox (page size 50), started on first use, stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = Sandbox(seed="demo", page_size=50).start()
        return _shared


__all__ = ["Sandbox", "session_sandbox", "tap_config", "target_config"]
