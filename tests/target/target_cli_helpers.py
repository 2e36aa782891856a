"""Helpers for the target's CLI tests: Singer input builders and a subprocess runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGET_CLI = str(Path(sys.executable).parent / "target-enectiva")
RUN_TIMEOUT = 300


def schema(stream: str, key_properties: list[str] | None = None) -> dict[str, Any]:
    """A permissive SCHEMA message (the target checks records against the contract)."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": {}},
        "key_properties": key_properties or [],
    }


def record(stream: str, rec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": rec}


def state(value: Any) -> dict[str, Any]:
    return {"type": "STATE", "value": value}


def reading(import_id: str, minute: int, state_value: float, **extra: Any) -> dict[str, Any]:
    """A reading at 2024-01-01 plus ``minute`` minutes."""
    hour, minute = divmod(minute, 60)
    day, hour = divmod(hour, 24)
    time = f"2024-01-{day + 1:02d}T{hour:02d}:{minute:02d}:00Z"
    return {"time": time, "state": state_value, "import_id": import_id, **extra}


def to_lines(messages: list[dict[str, Any] | str]) -> str:
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


#: How the target's one fatal line starts (``enectiva.fatal.fatal_line``).
FATAL_PREFIX = "target-enectiva: error: "


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def errors(self) -> list[str]:
        """Logged errors and the fatal line (``target-enectiva: error: ...``)."""
        return [
            line
            for line in self.stderr.splitlines()
            if "| ERROR" in line or line.startswith(FATAL_PREFIX)
        ]

    def summary(self, stream: str) -> dict[str, int]:
        """The counts of the final summary line of a stream."""
        prefix = f"summary stream {stream}: "
        for line in reversed(self.stderr.splitlines()):
            if prefix in line:
                text = line.split(prefix, 1)[1]
                counts = {}
                for part in text.split(", "):
                    name, _, value = part.rpartition(" ")
                    if name and value.replace(".", "").isdigit():
                        counts[name] = int(float(value))
                return counts
        raise AssertionError(f"no summary for {stream} in:\n{self.stderr}")


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / f"config-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def run_target(
    tmp_path: Path,
    config: dict[str, Any],
    messages: list[dict[str, Any] | str],
    *,
    env: dict[str, str] | None = None,
) -> Run:
    """Run the real CLI with the messages on stdin."""
    proc = subprocess.run(
        [TARGET_CLI, "--config", str(write_config(tmp_path, config))],
        input=to_lines(messages),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def start_target(tmp_path: Path, config: dict[str, Any]) -> subprocess.Popen[str]:
    """Start the CLI with a pipe for stdin (to feed it while it runs)."""
    return subprocess.Popen(
        [TARGET_CLI, "--config", str(write_config(tmp_path, config))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
