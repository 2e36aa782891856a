"""Run a real ``enectiva-sandbox serve`` process on a loopback port (tests, demo, benchmarks)."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

_running: weakref.WeakSet[Sandbox] = weakref.WeakSet()


class Sandbox:
    """A sandbox server subprocess; ``url`` and ``creds`` are valid once started."""

    def __init__(
        self,
        seed: str = "demo",
        data: str | os.PathLike[str] = ":memory:",
        page_size: int | None = None,
        token_lifetime: int | None = None,
        latency_ms: float | None = None,
        rate_limit: float | None = None,
        fail_rate: float | None = None,
        drop_rate: float | None = None,
        seed_size: str | None = None,
        validate_responses: bool = True,
        budget_headers: bool = True,
        expired_tokens: Sequence[str] = (),
        extra_args: tuple[str, ...] | list[str] = (),
        port: int = 0,
        ssl_certfile: str | os.PathLike[str] | None = None,
        ssl_keyfile: str | os.PathLike[str] | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        workdir: str | os.PathLike[str] | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.seed = seed
        self.data = str(data)
        self.options: dict[str, Any] = {
            "--page-size": page_size,
            "--token-lifetime": token_lifetime,
            "--latency-ms": latency_ms,
            "--rate-limit": rate_limit,
            "--fail-rate": fail_rate,
            "--drop-rate": drop_rate,
            "--seed-size": seed_size,
            "--ssl-certfile": ssl_certfile,
            "--ssl-keyfile": ssl_keyfile,
        }
        self.validate_responses = validate_responses
        self.budget_headers = budget_headers
        self.expired_tokens = list(expired_tokens)
        self.extra_args = list(extra_args)
        # Credentials file and server log: in ``workdir`` when given (kept), else a temp dir.
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if not workdir:
            self._tmp = tempfile.TemporaryDirectory(prefix="enectiva-sandbox-")
        folder = Path(self._tmp.name) if self._tmp else Path(workdir or ".")
        folder.mkdir(parents=True, exist_ok=True)
        self.creds_file = folder / "sandbox-credentials.json"
        self.log_file = folder / "sandbox.log"
        self.start_timeout = start_timeout
        self.port: int = port
        self.url = ""
        self.creds: dict[str, Any] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._session = requests.Session()
        self._session.trust_env = False  # the admin API is on the loopback: never a proxy
        if ca_bundle:  # HTTPS (--ssl-certfile): the CA that signed the server's certificate
            self._session.verify = str(ca_bundle)

    # ---------- life cycle ----------

    def command(self) -> list[str]:
        """The command line that starts the server."""
        cmd = [sys.executable, "-m", "enectiva_sandbox.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data", self.data, "--seed", self.seed]
        cmd += ["--credentials-file", str(self.creds_file)]
        for flag, value in self.options.items():
            if value is not None:
                cmd += [flag, str(value)]
        if self.validate_responses:
            cmd.append("--validate-responses")
        if not self.budget_headers:
            cmd.append("--no-budget-headers")
        for name in self.expired_tokens:
            cmd += ["--expired-token", name]
        return cmd + self.extra_args

    def start(self, timeout: float | None = None) -> Sandbox:
        """Spawn the server and wait until ``/_sandbox/health`` answers."""
        timeout = self.start_timeout if timeout is None else timeout
        if self.proc is not None and self.proc.poll() is None:
            return self
        with contextlib.suppress(FileNotFoundError):
            self.creds_file.unlink()
        log = self.log_file.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        _running.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"sandbox exited with code {self.proc.returncode}:\n{self.log_tail()}"
                )
            if self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sandbox did not become healthy in {timeout:.0f} s:\n{self.log_tail()}")

    def _ready(self) -> bool:
        if not self.creds_file.exists():
            return False
        try:
            creds = json.loads(self.creds_file.read_text(encoding="utf-8"))
        except ValueError:
            return False  # being written
        try:
            answer = self._session.get(f"{creds['api_url']}/_sandbox/health", timeout=2)
        except requests.RequestException:
            return False
        if answer.status_code != 200:
            return False
        self.creds = creds
        self.url = creds["api_url"]
        self.port = int(self.url.rsplit(":", 1)[1])
        return True

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)

    def restart(self) -> None:
        """Stop and start again with the same data file, on the same port when it is free."""
        port = self.port
        self.stop()
        self.port = port
        try:
            self.start()
        except RuntimeError:
            self.stop()
            self.port = 0
            self.start()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's output."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()

    # ---------- admin API ----------

    def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self._session.request(method, f"{self.url}/_sandbox/{path}", timeout=60, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Change fault settings at run time (latency_ms, rate_limit, fail_rate, ...)."""
        return self._admin("POST", "faults", json=faults)

    def faults(self) -> dict[str, Any]:
        return self._admin("GET", "faults")

    def stats(self) -> dict[str, Any]:
        return self._admin("GET", "stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._admin("POST", "stats/reset")

    def records(self, kind: str, customer_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored record of a kind (readings, data_points, profiles, invoices)."""
        params = {"customer_id": customer_id} if customer_id else None
        return self._admin("GET", f"records/{kind}", params=params)

    def tokens(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        """Name, kind, window and state of every token of the main (or given) customer."""
        params = {"customer_id": customer_id} if customer_id else None
        return self._admin("GET", "tokens", params=params)

    def expire_token(self, name: str, customer_id: str | None = None) -> dict[str, Any]:
        """End a token's validity window now (e.g. ``import_primary``, ``login_secondary``)."""
        params = {"customer_id": customer_id} if customer_id else None
        return self._admin("POST", f"tokens/{name}/expire", params=params)

    def revoke_token(self, name: str, customer_id: str | None = None) -> dict[str, Any]:
        """Revoke a token for good (its access tokens too, when it is a login token)."""
        params = {"customer_id": customer_id} if customer_id else None
        return self._admin("POST", f"tokens/{name}/revoke", params=params)

    def set_token_window(
        self,
        name: str,
        not_before: str | None = None,
        not_after: str | None = None,
        customer_id: str | None = None,
    ) -> dict[str, Any]:
        """Set a token's window (RFC 3339 times; None: open on that side)."""
        params = {"customer_id": customer_id} if customer_id else None
        body = {"not_before": not_before, "not_after": not_after}
        return self._admin("POST", f"tokens/{name}/window", params=params, json=body)


@atexit.register
def _stop_all() -> None:
    for sb in list(_running):
        with contextlib.suppress(Exception):
            sb.stop()
