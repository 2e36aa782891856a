"""Run a plugin CLI with piped input, read its stdout line by line, and kill -9 it."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.tap.tap_runner import TAP_COMMAND, write_json
from tests.target.target_cli_helpers import TARGET_CLI, write_config


class Piped:
    """A running CLI: feeds ``stdin_text`` from a thread, queues stdout lines."""

    def __init__(self, args: list[str], stdin_text: str | None = None) -> None:
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr = ""
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        if stdin_text is not None:
            self._threads.append(
                threading.Thread(target=self._feed, args=(stdin_text,), daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def _feed(self, text: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            for start in range(0, len(text), 4096):
                self.proc.stdin.write(text[start : start + 4096])
            self.proc.stdin.close()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def next_line(self, timeout: float = 120) -> str | None:
        """The next stdout line, or None at end of output."""
        return self.lines.get(timeout=timeout)

    def kill9(self) -> None:
        self.proc.kill()  # SIGKILL: no handler, no flush
        self.proc.wait(30)
        for thread in self._threads:
            thread.join(10)

    def wait(self, timeout: float = 300) -> int:
        code = self.proc.wait(timeout)
        for thread in self._threads:
            thread.join(10)
        return code

    def rest(self) -> list[str]:
        """Every line still queued (after the process ended)."""
        out = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return out
            if line is None:
                return out
            out.append(line)


def target(tmp_path: Path, config: dict[str, Any], stdin_text: str) -> Piped:
    return Piped([TARGET_CLI, "--config", str(write_config(tmp_path, config))], stdin_text)


def tap(
    tmp_path: Path,
    config: dict[str, Any],
    catalog: dict[str, Any],
    state: dict[str, Any] | None = None,
    name: str = "run",
) -> Piped:
    args = [*TAP_COMMAND, "--config", str(write_json(tmp_path / f"{name}-config.json", config))]
    args += ["--catalog", str(write_json(tmp_path / f"{name}-catalog.json", catalog))]
    if state is not None:
        args += ["--state", str(write_json(tmp_path / f"{name}-state.json", state))]
    return Piped(args)


def parse(line: str) -> dict[str, Any]:
    return json.loads(line)
