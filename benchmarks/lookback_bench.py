"""Benchmark 5: what ``lookback_days`` costs a re-run that finds no new readings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    Figure,
    Section,
    checked,
    median,
    run,
    sandbox,
    tap_config,
    workdir,
    write_json,
)
from benchmarks.tap_bench import readings_catalog, tap_command, tap_records

LOOKBACK_DAYS = 2


def last_state(singer_output: Path) -> dict[str, Any]:
    """The value of the last STATE line of a tap's output."""
    state = None
    with singer_output.open(encoding="utf-8") as lines:
        for line in lines:
            if '"STATE"' in line:
                state = json.loads(line)["value"]
    if state is None:
        raise RuntimeError("the first tap run wrote no STATE")
    return state


def bench_lookback(meters: int, days: int, rounds: int = 3) -> Section:
    """A re-run from a finished run's state, ``lookback_days`` 2 vs 0, no new readings."""
    size = f"{meters}x{days}x900"
    section = Section(
        "Look-back re-run",
        f"{meters} meters of 15-minute readings ({size}); a first run (meters + readings, "
        f"from start_date) writes the state, then re-runs from that state with no new "
        f"readings: `lookback_days: {LOOKBACK_DAYS}` vs `lookback_days: 0` (baseline). Whole "
        f"processes, stdout to /dev/null; rounds alternate and the median of {rounds} is kept. "
        "Requests are the sandbox's count of every request of a run. Goal: at most one extra "
        "page per meter.",
    )
    with sandbox(seed="bench", seed_size=size) as sb, workdir() as tmp:
        config = tap_config(sb)
        catalog = readings_catalog(write_json(tmp / "config.json", config), tmp / "catalog.json")
        output = tmp / "first.singer"
        with output.open("wb") as out:
            checked(run(tap_command(tmp / "config.json", catalog), stdout=out), "first run")
        state = write_json(tmp / "state.json", last_state(output))
        configs = {
            days_back: write_json(
                tmp / f"lookback{days_back}.json", {**config, "lookback_days": days_back}
            )
            for days_back in (0, LOOKBACK_DAYS)
        }
        seconds: dict[int, list[float]] = {0: [], LOOKBACK_DAYS: []}
        requests: dict[int, set[int]] = {0: set(), LOOKBACK_DAYS: set()}
        records: dict[int, set[int]] = {0: set(), LOOKBACK_DAYS: set()}
        for _ in range(rounds):
            for days_back, path in configs.items():
                sb.reset_stats()
                done = checked(
                    run([*tap_command(path, catalog), "--state", str(state)]),
                    f"re-run with lookback_days {days_back}",
                )
                seconds[days_back].append(done.seconds)
                requests[days_back].add(int(sb.stats()["requests"]))
                records[days_back].add(tap_records(done.stderr))
    if any(len(v) != 1 for v in (*requests.values(), *records.values())):
        raise RuntimeError(f"re-runs disagree: requests {requests}, records {records}")
    (base_requests,), (window_requests,) = requests[0], requests[LOOKBACK_DAYS]
    (base_records,), (window_records,) = records[0], records[LOOKBACK_DAYS]
    extra_per_meter = (window_requests - base_requests) / meters
    section.add(
        Figure(
            f"requests, lookback_days {LOOKBACK_DAYS}",
            window_requests,
            "",
            "lookback_days 0",
            base_requests,
        )
    )
    section.add(
        Figure(
            f"wall time, lookback_days {LOOKBACK_DAYS}",
            median(seconds[LOOKBACK_DAYS]),
            "s",
            "lookback_days 0",
            median(seconds[0]),
            note=f"re-read {window_records:,} readings ({window_records / meters:.0f} per "
            f"meter) vs {base_records}",
        )
    )
    section.add(
        Figure(
            "extra requests per meter",
            extra_per_meter,
            "",
            "goal",
            1.0,
            target=1.0,
            at_most=True,
        )
    )
    section.notes.append(
        "The window's readings fit in the one page a re-run asks for anyway (the sandbox "
        "serves up to 1000 per page, the API's maximum), so the look-back adds records, not "
        "requests; with smaller pages it adds ceil(window / page size) - 1 per meter. Both "
        "re-runs are mostly the tap's start-up (imports, discovery of the catalog's streams)."
    )
    section.facts = {
        "meters": meters,
        "requests": {0: base_requests, LOOKBACK_DAYS: window_requests},
        "records": {0: base_records, LOOKBACK_DAYS: window_records},
        "seconds": seconds,
    }
    return section
