"""Benchmark 4: peak RSS of the tap and the target over 10^4, 10^5, 10^6 readings."""

from __future__ import annotations

import uuid
from pathlib import Path

from benchmarks import singer_input
from benchmarks.harness import (
    Figure,
    Section,
    checked,
    run,
    sandbox,
    tap_config,
    target_config,
    workdir,
    write_json,
)
from benchmarks.seed_sizes import seed_size_for
from benchmarks.tap_bench import readings_catalog, tap_command, tap_records
from benchmarks.target_bench import IN_FLIGHT, stored, target_command


def bench_memory(counts: list[int]) -> Section:
    """Peak RSS (kernel ``ru_maxrss`` of the child) per run; flat means last <= 1.2x first."""
    section = Section(
        "Memory",
        "Peak RSS (the process's own high-water mark, VmHWM, sampled every 0.1 s) of "
        "`tap-enectiva` reading N readings to /dev/null and of `target-enectiva` pushing N "
        "readings "
        "(sandbox at 0 ms; input streamed through a pipe, never a file in memory).",
    )
    tap_peaks = [_tap_peak(n, section) for n in counts]
    target_peaks = [_target_peak(n, section) for n in counts]
    for name, peaks in (("tap-enectiva", tap_peaks), ("target-enectiva", target_peaks)):
        for n, peak in zip(counts, peaks, strict=True):
            last = n == counts[-1]
            section.add(
                Figure(
                    f"{name} peak RSS, {n:,} readings",
                    peak,
                    "MB",
                    f"peak at {counts[0]:,}" if last else "",
                    peaks[0] if last else None,
                    # The tap reads with max_concurrency 8 (its default): bounded queues.
                    target=(1.1 if name == "tap-enectiva" else 1.2) if last else None,
                    at_most=True,
                )
            )
    section.facts = {"tap": tap_peaks, "target": target_peaks}
    return section


#: Meters the tap's readings are spread over at every size: with at least max_concurrency
#: meters its queues are in use at 10^4 readings too, so the sizes differ only in records
#: (on one meter, 10^4 readings ran one request at a time: 72.5 MB, 8 MB less).
TAP_METERS = 10


def _tap_peak(count: int, section: Section) -> float:
    size = seed_size_for(count, meters=TAP_METERS)
    with sandbox(seed="bench", seed_size=size) as sb, workdir() as tmp:
        config = write_json(tmp / "config.json", tap_config(sb))
        catalog = readings_catalog(config, tmp / "catalog.json")
        result = checked(run(tap_command(config, catalog)), "tap-enectiva")
    got = tap_records(result.stderr)
    section.notes.append(
        f"tap {size}: {got:,} readings in {result.seconds:.1f} s; {result.rss_profile()}"
    )
    return result.peak_rss_mb


def _target_peak(count: int, section: Section) -> float:
    with sandbox(seed="empty") as sb, workdir() as tmp:
        prefix = f"m{uuid.uuid4().hex[:8]}"
        config = write_json(tmp / "config.json", target_config(sb, max_concurrency=IN_FLIGHT))
        out = Path(tmp / "state.out")
        with out.open("wb") as stdout:
            result = checked(
                run(
                    target_command(config),
                    feed=lambda pipe: singer_input.feed(pipe, count, prefix),
                    stdout=stdout,
                ),
                "target-enectiva",
            )
        kept = stored(sb, prefix)
    section.notes.append(
        f"target {count:,}: {count / result.seconds:,.0f} records/s, lost {count - kept}; "
        f"{result.rss_profile()}"
    )
    if kept != count:
        raise RuntimeError(f"target lost {count - kept} of {count} readings")
    return result.peak_rss_mb
