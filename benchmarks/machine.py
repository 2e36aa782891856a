"""The machine and software a run measured (for RESULTS.md)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("singer-sdk", "msgspec", "requests", "aiohttp", "starlette", "uvicorn", "uvloop",
            "httptools")  # fmt: skip


def description() -> list[str]:
    """One line per fact: cores, CPU, RAM, OS, Python, package versions, load."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"cores (nproc): {os.cpu_count()}",
        f"CPU: {_cpu_model()}",
        f"RAM: {_ram_gb():.1f} GB",
        f"OS: {platform.system()} {platform.release()}",
        f"Python: {sys.version.split()[0]} ({platform.python_implementation()})",
        f"packages: {', '.join(versions)}",
        f"load average when written (1, 5, 15 min): {load} (other work shares the machine)",
    ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0
