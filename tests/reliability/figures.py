"""Figures of the reliability suite: each run appends one line; the session prints a table.

Runs append JSON lines to a file of this session (xdist workers included: the controlling
process names it in an environment variable before it starts them); at the end the controller
writes ``.last-figures.txt`` and prints the table in the terminal summary. The hooks are
imported by ``tests/conftest.py`` so that the controller of an xdist run (which collects
nothing) has them too.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
TABLE_FILE = HERE / ".last-figures.txt"
ENV_VAR = "ENECTIVA_RELIABILITY_FIGURES"


def figures_file() -> Path:
    """This session's figures file (a private one when no controller named it)."""
    name = os.environ.get(ENV_VAR)
    if not name:
        fd, name = tempfile.mkstemp(prefix="enectiva-figures-", suffix=".jsonl")
        os.close(fd)
        os.environ[ENV_VAR] = name
    return Path(name)


def record_run(
    suite: str,
    *,
    rate: str,
    faults: dict[str, int],
    records_checked: int,
    lost: int,
    duplicated: int,
    requests: int = 0,
) -> None:
    """Append one run's figures (faults injected per kind, records checked, lost, doubled)."""
    line = json.dumps(
        {
            "suite": suite,
            "rate": rate,
            "faults": {k: int(v) for k, v in faults.items() if v},
            "requests": requests,
            "records_checked": records_checked,
            "lost": lost,
            "duplicated": duplicated,
        }
    )
    fd = os.open(figures_file(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())  # one small append: atomic across workers
    finally:
        os.close(fd)


def read_runs() -> list[dict[str, Any]]:
    try:
        text = figures_file().read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def table(runs: list[dict[str, Any]]) -> str:
    """Per-run lines, then totals: faults per kind, runs, records checked, lost, duplicated."""
    header = (
        f"{'suite':<28} {'rate':>5} {'requests':>8} {'checked':>8} {'lost':>5} {'dup':>4}  faults"
    )
    lines = [header, "-" * len(header)]
    totals: Counter[str] = Counter()
    for run in sorted(runs, key=lambda r: (r["suite"], r["rate"])):
        faults = ", ".join(f"{k} {v}" for k, v in sorted(run["faults"].items())) or "-"
        lines.append(
            f"{run['suite']:<28} {run['rate']:>5} {run['requests']:>8} "
            f"{run['records_checked']:>8} {run['lost']:>5} {run['duplicated']:>4}  {faults}"
        )
        totals.update(run["faults"])
    lines.append("-" * len(header))
    lines.append(
        f"runs {len(runs)}, records checked {sum(r['records_checked'] for r in runs)}, "
        f"lost {sum(r['lost'] for r in runs)}, duplicated {sum(r['duplicated'] for r in runs)}, "
        f"requests {sum(r['requests'] for r in runs)}"
    )
    lines.append(
        "faults injected: "
        + (", ".join(f"{k} {v}" for k, v in sorted(totals.items())) or "none")
        + f" (total {sum(totals.values())})"
    )
    return "\n".join(lines)


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_controller(config):  # before xdist starts its workers, which inherit the name
        os.environ.pop(ENV_VAR, None)
        figures_file()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_controller(config):
        figures_file().unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _is_controller(config):
        return
    runs = read_runs()
    if not runs:
        return
    text = table(runs)
    TABLE_FILE.write_text(text + "\n", encoding="utf-8")
    terminalreporter.write_sep("=", "reliability figures")
    for line in text.splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(also in {TABLE_FILE})")
