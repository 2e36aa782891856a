"""Meltano for the demo: its own pinned venv, and runs whose logs are shown and measured.

Meltano lives in a separate venv (``.venv-meltano``): its dependency pins conflict with the
project's singer-sdk, and it installs each plugin into a venv of its own under ``.meltano/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import venv
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MELTANO_VERSION = "4.4.1"
METRIC_PREFIX = "METRIC: "
STOP_TIMEOUT = 20.0
# Settings a user may have exported for another project or the real API: never inherited.
ISOLATED_PREFIXES = ("MELTANO_", "TAP_", "TARGET_", "ENECTIVA_")

Echo = Callable[[str], None]


def say(line: str) -> None:
    """Print a progress line at once, also when stdout is a pipe or a file."""
    print(line, flush=True)


def ensure_meltano(venv_dir: Path, echo: Echo = say) -> Path:
    """The meltano executable of ``venv_dir``, creating the venv and installing it if needed."""
    return ensure_tool(venv_dir, f"meltano=={MELTANO_VERSION}", "meltano", echo)


def ensure_tool(venv_dir: Path, requirement: str, executable: str, echo: Echo = say) -> Path:
    """``executable`` from a venv of its own holding only ``requirement`` (made when missing).

    Singer plugins with other pins than ours (Meltano, other loaders) live in such venvs.
    """
    path = venv_dir / "bin" / executable
    stamp = venv_dir / f".installed-{requirement.replace('/', '_')}"
    if path.exists() and stamp.exists():
        return path
    echo(f"Installing {requirement} into {venv_dir} (first run only)")
    if not (venv_dir / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    python = str(venv_dir / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for wanted in ("pip", requirement):
        done = subprocess.run([*pip, "--upgrade", wanted], check=False)
        if done.returncode != 0:
            raise RuntimeError(f"installing {wanted} into {venv_dir} failed")
    stamp.touch()
    return path


@contextlib.contextmanager
def project_lock(project_dir: Path, echo: Echo = say) -> Iterator[None]:
    """Hold the Meltano project for one user at a time.

    Concurrent runs of one plugin in one project share ``.meltano/run/<plugin>/`` (catalog,
    config) and ``meltano install`` rewrites plugin venvs: two demos or test workers at once
    would break each other. The lock is released when its holder exits, however it exits.
    """
    path = project_dir / ".meltano" / "project.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo(f"Waiting for another Meltano run in {project_dir} to finish ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@dataclass
class RunResult:
    """What one Meltano command did: exit code and the extractor's emitted records per stream."""

    returncode: int
    records: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


class Meltano:
    """Runs ``meltano`` commands in a project with a fixed environment (system DB, secrets)."""

    def __init__(
        self,
        executable: Path,
        project_dir: Path,
        env: Mapping[str, str],
        secrets: Sequence[str] = (),
        echo: Echo = say,
    ) -> None:
        self.executable = executable
        self.project_dir = project_dir
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(ISOLATED_PREFIXES)}
        self.env = {
            **inherited,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.env.pop("VIRTUAL_ENV", None)  # the project's venv is not the plugins' venv
        self.secrets = [s for s in secrets if s]
        self.echo = echo

    def run(self, *args: str, extractor: str | None = None) -> RunResult:
        """Run ``meltano ARGS`` with JSON logs, echo them compactly, count tap records.

        Records are counted from the extractor's own ``record_count`` metrics (the SDK logs
        them per stream and context; they add up to what the tap emitted).
        """
        command = [str(self.executable), "--log-format=json", *args]
        result = RunResult(returncode=-1)
        proc = subprocess.Popen(
            command,
            cwd=self.project_dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                self._handle(line.rstrip("\n"), extractor, result)
            result.returncode = proc.wait()
        except BaseException:  # Ctrl-C, SIGTERM, a bug here: never leave Meltano running
            _stop(proc)
            raise
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        return result

    def check(self, *args: str, extractor: str | None = None) -> RunResult:
        """Like ``run``, but a failure raises ``RuntimeError`` naming the command."""
        result = self.run(*args, extractor=extractor)
        if result.returncode != 0:
            detail = f": {result.errors[-1]}" if result.errors else ""
            command = " ".join(args)
            raise RuntimeError(f"meltano {command} failed (exit {result.returncode}){detail}")
        return result

    def _handle(self, line: str, extractor: str | None, result: RunResult) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self.echo(self._redact(f"  {line}"))
            return
        name = str(event.get("name") or "meltano")
        message = self._redact(str(event.get("event", "")))
        level = str(event.get("level", "info"))
        if message.startswith(METRIC_PREFIX):
            if name == extractor:
                _count_records(message[len(METRIC_PREFIX) :], result.records)
            return  # metrics are measured, not shown
        if level in ("error", "critical"):
            result.errors.append(f"{name}: {message.splitlines()[0] if message else ''}")
        if level == "debug":
            return
        stamp = str(event.get("timestamp", ""))[11:19]
        self.echo(f"  {stamp} {name:<16} {message}")

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (Meltano then stops its plugins), SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


def _count_records(payload: str, records: Counter[str]) -> None:
    try:
        point = json.loads(payload)
    except ValueError:
        return
    if point.get("type") == "counter" and point.get("metric") == "record_count":
        stream = point.get("tags", {}).get("stream")
        if stream:
            records[stream] += int(point.get("value", 0))
