"""The demo's sandbox: a local ``enectiva-sandbox serve`` process on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

START_TIMEOUT = 120.0  # a new database is seeded before the server listens
STOP_TIMEOUT = 10.0


class SandboxServer:
    """Start with ``with SandboxServer(...) as sandbox:``; it is stopped on leaving the block."""

    def __init__(self, data: Path, log: Path, port: int = 0, seed: str = "demo") -> None:
        self.data = data
        self.log = log
        self.port = port
        self.seed = seed
        self.credentials_file = data.with_name(data.stem + "-credentials.json")
        self.credentials: dict[str, Any] = {}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return str(self.credentials["api_url"])

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "enectiva_sandbox.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data",
            str(self.data),
            "--seed",
            self.seed,
            "--credentials-file",
            str(self.credentials_file),
        ]

    def start(self) -> SandboxServer:
        """Spawn the server and wait until its health endpoint answers."""
        self.data.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.credentials_file.unlink()
        with self.log.open("ab") as log:
            # Its own session: a Ctrl-C reaches the demo, which then stops it in order.
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"sandbox exited with code {self.proc.returncode}; see {self.log}"
                )
            if self._healthy():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"sandbox did not answer within {START_TIMEOUT:.0f} s; see {self.log}")

    def _healthy(self) -> bool:
        try:
            credentials = json.loads(self.credentials_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return False
        try:
            health = f"{credentials['api_url']}/_sandbox/health"
            with urllib.request.urlopen(health, timeout=2) as answer:
                if answer.status != 200:
                    return False
        except (OSError, urllib.error.URLError):
            return False
        self.credentials = credentials
        return True

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
