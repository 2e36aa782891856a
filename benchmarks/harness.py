"""What every benchmark needs: a sandbox, timed child processes with their peak RSS, figures."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.support.sandbox import Sandbox, tap_config, target_config

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON = sys.executable


@contextlib.contextmanager
def sandbox(**options: Any) -> Iterator[Sandbox]:
    """A sandbox subprocess for one benchmark (answers not re-validated: that is test work)."""
    sb = Sandbox(validate_responses=False, **options)
    try:
        yield sb.start(timeout=600)
    finally:
        sb.stop()


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="enectiva-bench-") as tmp:
        yield Path(tmp)


def write_json(path: Path, content: Any) -> Path:
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


@dataclass
class Run:
    """A finished child process."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stderr: str
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (s, MB) each 0.1 s

    def rss_profile(self) -> str:
        """RSS at each quarter of the run, and when it peaked: growth or a spike?"""
        if not self.rss_samples:
            return ""
        quarters = [self.rss_samples[min(len(self.rss_samples) - 1, i * len(self.rss_samples) // 4)]
                    for i in (1, 2, 3)] + [self.rss_samples[-1]]  # fmt: skip
        top = max(self.rss_samples, key=lambda sample: sample[1])
        shown = ", ".join(f"{mb:.0f} MB at {t:.0f} s" for t, mb in quarters)
        return f"RSS {shown}; sampled max {top[1]:.0f} MB at {top[0]:.0f} s"


def run(
    cmd: list[str],
    *,
    stdin: IO[bytes] | int | None = subprocess.DEVNULL,
    feed: Callable[[IO[bytes]], None] | None = None,
    stdout: IO[bytes] | int | None = subprocess.DEVNULL,
) -> Run:
    """Run ``cmd`` to its end; wall time, and peak RSS from the kernel (``wait4``).

    ``feed`` writes the child's stdin from a thread (input that never sits in a file).
    """
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE if feed else stdin,
            stdout=stdout,
            stderr=err,
            cwd=ROOT,
        )
        feeder = None
        if feed is not None:
            feeder = threading.Thread(target=_feed, args=(feed, proc.stdin), daemon=True)
            feeder.start()
        samples: list[tuple[float, float, float]] = []
        sampler = threading.Thread(
            target=_sample_rss, args=(proc.pid, started, samples), daemon=True
        )
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if feeder is not None:
            feeder.join()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    sampler.join()
    # The peak is the child's own high-water mark (VmHWM) as last sampled: wait4's
    # ru_maxrss also counts the parent's RSS at spawn (the pre-exec copy), which made a
    # benchmark process holding a large answer look like a target using twice its memory.
    # The last sample is taken: VmHWM only grows after exec, and a sample before exec would
    # still show the parent's memory.
    peak = samples[-1][2] if samples else usage.ru_maxrss / 1024
    return Run(seconds, peak, proc.returncode, stderr, [(t, mb) for t, mb, _ in samples])


def _sample_rss(pid: int, started: float, samples: list[tuple[float, float, float]]) -> None:
    """(s, VmRSS MB, VmHWM MB) of a running child every 0.1 s, until it is gone."""
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = status.read_text()
        except OSError:
            return
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if "VmRSS" not in fields or "VmHWM" not in fields:
            return  # a zombie has no memory: the child has ended
        rss, hwm = (int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
        samples.append((time.perf_counter() - started, rss, hwm))
        time.sleep(0.1)


def _feed(feed: Callable[[IO[bytes]], None], pipe: IO[bytes] | None) -> None:
    assert pipe is not None
    with contextlib.suppress(BrokenPipeError), pipe:
        feed(pipe)


def checked(result: Run, what: str) -> Run:
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        raise RuntimeError(f"{what} exited with {result.returncode}:\n{tail}")
    return result


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass
class Figure:
    """One measured figure, optionally against a baseline and a target ratio."""

    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    target: float | None = None  # minimum ratio (or maximum, with ``at_most``)
    at_most: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return ""
        ok = self.ratio <= self.target if self.at_most else self.ratio >= self.target
        sign = "<=" if self.at_most else ">="
        return f"{'PASS' if ok else 'MISS'} ({sign} {self.target:g}x)"

    @property
    def passed(self) -> bool | None:
        return None if not self.verdict else self.verdict.startswith("PASS")


@dataclass
class Section:
    """One benchmark's figures and notes."""

    title: str
    setup: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # checked by the smoke test

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def table(self) -> str:
        head = "| Figure | Value | Baseline | Ratio | Target |\n|---|---:|---:|---:|---|\n"
        rows = []
        for f in self.figures:
            base = f"{_num(f.baseline)} {f.unit} ({f.baseline_name})" if f.baseline else ""
            ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
            rows.append(f"| {f.name} | {_num(f.value)} {f.unit} | {base} | {ratio} | {f.verdict} |")
        return head + "\n".join(rows)


def _num(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


__all__ = [
    "BIN",
    "PYTHON",
    "ROOT",
    "Figure",
    "Run",
    "Sandbox",
    "Section",
    "checked",
    "median",
    "run",
    "sandbox",
    "tap_config",
    "target_config",
    "workdir",
    "write_json",
]
