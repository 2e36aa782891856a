"""Run the real ``tap-enectiva`` CLI as a subprocess and read its Singer output."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

TAP_COMMAND = [sys.executable, "-m", "tap_enectiva"]
RUN_TIMEOUT = 300


@dataclass
class TapRun:
    """The outcome of one tap process."""

    returncode: int
    stdout: str
    stderr: str

    @cached_property
    def messages(self) -> list[dict[str, Any]]:
        return parse_messages(self.stdout)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def schema(self, stream: str) -> dict[str, Any]:
        return next(m for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream)

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, Any]:
        return self.states[-1]


def parse_messages(text: str) -> list[dict[str, Any]]:
    """Every complete JSON line of the tap's stdout."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def tap_args(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> list[str]:
    """The command line of a sync with these inputs written to files."""
    args = [*TAP_COMMAND, "--config", str(write_json(tmp_path / "config.json", config))]
    if state is not None:
        args += ["--state", str(write_json(tmp_path / "state.json", state))]
    if catalog is not None:
        args += ["--catalog", str(write_json(tmp_path / "catalog.json", catalog))]
    return args


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    extra: list[str] | None = None,
    timeout: float = RUN_TIMEOUT,
) -> TapRun:
    """Run the tap to completion."""
    args = tap_args(tmp_path, config, state=state, catalog=catalog) + list(extra or [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    return TapRun(done.returncode, done.stdout, done.stderr)


def discover(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    run = run_tap(tmp_path, config, extra=["--discover"])
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def select(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """The catalog with only ``streams`` selected."""
    catalog = json.loads(json.dumps(catalog))
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("tap-enectiva: error:")]
