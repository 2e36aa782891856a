"""Benchmark 2: target throughput against a sequential ``requests`` loop and the ideal."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from benchmarks import singer_input
from benchmarks.harness import (
    BIN,
    PYTHON,
    Figure,
    Run,
    Sandbox,
    Section,
    checked,
    run,
    sandbox,
    target_config,
    workdir,
    write_json,
)

IN_FLIGHT = 32


def target_command(config: Path) -> list[str]:
    return [str(BIN / "target-enectiva"), "--config", str(config)]


def push(sb: Sandbox, tmp: Path, count: int, **settings: Any) -> tuple[Run, int, int]:
    """``count`` readings through the target; (run, records stored, STATE lines emitted)."""
    prefix = f"b{uuid.uuid4().hex[:8]}"
    config = write_json(tmp / f"{prefix}.json", target_config(sb, **settings))
    source = singer_input.write(tmp / f"{prefix}.singer", count, prefix)
    out = tmp / f"{prefix}.out"
    with source.open("rb") as stdin, out.open("wb") as stdout:
        result = checked(run(target_command(config), stdin=stdin, stdout=stdout), "target")
    states = sum(1 for line in out.read_text(encoding="utf-8").splitlines() if line.strip())
    return result, stored(sb, prefix), states


def stored(sb: Sandbox, prefix: str) -> int:
    """Readings the sandbox holds under import ids starting with ``prefix``."""
    return sum(1 for r in sb.records("readings") if str(r.get("import_id", "")).startswith(prefix))


def sequential(sb: Sandbox, tmp: Path, count: int) -> float:
    """Records/s of the naive loop, timed from its first request to its last."""
    prefix = f"s{uuid.uuid4().hex[:8]}"
    config = write_json(tmp / f"{prefix}.json", target_config(sb))
    source = singer_input.write(tmp / f"{prefix}.singer", count, prefix)
    result = checked(
        run([PYTHON, "-m", "benchmarks.baselines", "push", str(config), str(source)]),
        "sequential loop",
    )
    counts = json.loads(result.stderr.strip().splitlines()[-1])
    if counts["created"] != count:
        raise RuntimeError(f"sequential loop stored {counts['created']} of {count}")
    return count / counts["seconds"]


def bench_target(runs: list[tuple[float, int, int]]) -> Section:
    """``runs``: (latency ms, records through the target, records through the loop)."""
    section = Section(
        "Target throughput",
        f"Readings of {singer_input.SERIES} series interleaved, a STATE every "
        f"{singer_input.STATE_EVERY} records, through `target-enectiva` (max_concurrency "
        f"{IN_FLIGHT}; whole process, start-up included) vs `benchmarks/baselines.py push` "
        "(one `requests` POST after another, timed from first to last request) and vs the "
        f"ideal ({IN_FLIGHT} in flight / latency). The sandbox runs on the same 2 cores.",
    )
    targets = {0.0: 3.0, 20.0: 20.0}
    for latency, count, seq_count in runs:
        with sandbox(seed="empty", latency_ms=latency) as sb, workdir() as tmp:
            seq_rate = sequential(sb, tmp, seq_count)
            result, kept, states = push(sb, tmp, count, max_concurrency=IN_FLIGHT)
            rate = count / result.seconds
            lost = count - kept
            section.add(
                Figure(
                    f"target, {latency:g} ms latency, {count:,} readings",
                    rate,
                    "records/s",
                    "sequential loop",
                    seq_rate,
                    target=targets.get(latency),
                    note=f"lost {lost}, STATE lines {states}",
                )
            )
            if latency:
                ideal = IN_FLIGHT / (latency / 1000)
                section.add(Figure(f"target vs ideal, {latency:g} ms", rate, "records/s",
                                   f"ideal {IN_FLIGHT}/latency", ideal))  # fmt: skip
            section.facts[latency] = {
                "records": count,
                "lost": lost,
                "states": states,
                "seconds": result.seconds,
                "sequential_rate": seq_rate,
            }
            if lost:
                section.notes.append(f"{lost} records lost at {latency:g} ms")
    return section
