"""A real forward proxy for the tests: proxy.py (PyPI ``proxy.py``) with basic auth, on loopback.

Its own log (one access line per tunnel, ``... - CONNECT 127.0.0.1:PORT - ...``) is how the
tests see which connections went through it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

START_TIMEOUT = 60.0
_CONNECT = re.compile(r" - CONNECT (\S+:\d+) ")


class ForwardProxy:
    """``python -m proxy`` listening on a free loopback port, requiring ``user:password``."""

    def __init__(self, folder: Path, user: str, password: str) -> None:
        self.folder = folder
        self.user = user
        self.password = password
        self.log_file = folder / "proxy.log"
        self.port_file = folder / "proxy.port"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """The proxy's URL with credentials (the right ones unless given)."""
        return f"http://{user or self.user}:{password or self.password}@127.0.0.1:{self.port}"

    def start(self) -> ForwardProxy:
        command = [
            sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0",
            "--port-file", str(self.port_file), "--basic-auth", f"{self.user}:{self.password}",
            "--num-workers", "1", "--num-acceptors", "1", "--log-level", "INFO",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # proxy.py keeps its own files under ~/.proxy: not in the user's home
                env={**os.environ, "HOME": str(self.folder)},
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"proxy.py exited:\n{self.log_text()[-3000:]}")
            if self._listening():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"proxy.py did not start:\n{self.log_text()[-3000:]}")

    def _listening(self) -> bool:
        try:
            self.port = int(self.port_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return False
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=1),
        ):
            return True
        return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    # ---------- what it saw ----------

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def mark(self) -> int:
        """A position in the log: :meth:`connects_since` reads what came after it."""
        return len(self.log_text())

    def connects(self, since: int) -> list[str]:
        """``host:port`` of every CONNECT logged after the position ``since``."""
        return _CONNECT.findall(self.log_text()[since:])

    def wait_for_connects(self, since: int, target: str) -> list[str]:
        """The CONNECTs after ``since`` once one to ``target`` (``host:port``) is logged.

        The proxy logs a tunnel when it closes, shortly after the client is gone.
        """
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = self.connects(since)
            if target in found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no CONNECT {target} logged:\n{self.log_text()[since:]}")

    def connects_before_marker(self, since: int, marker_url: str, ca_bundle: str) -> list[str]:
        """The CONNECTs logged after ``since``, up to a marker tunnel opened now.

        A marker request sent through the proxy (to ``marker_url``) is logged after the
        tunnels that had closed before it: once its line is there, theirs are too.
        """
        mark = self.mark()
        with requests.Session() as session:
            session.trust_env = False
            session.proxies = {"https": self.url(), "http": self.url()}
            session.get(f"{marker_url}/_sandbox/health", verify=ca_bundle, timeout=30)
        target = marker_url.split("://", 1)[1].split("/", 1)[0]
        self.wait_for_connects(mark, target)
        found = self.connects(since)
        found.remove(target)  # the marker's own
        return found

    def __enter__(self) -> ForwardProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
