"""Benchmark 5: the tap at a distance and at scale (issue 12).

- at 100 ms latency: the tap (``max_concurrency`` 8) vs an asyncio client with 8 meters in
  flight and vs the serial hand loop (``benchmarks/baselines.py``);
- N = 1, 2, 4 partition processes (``partition_count`` N) at 100 ms, one request in flight
  each: records/s vs N = 1;
- STATE at 2,000 meters x 26 readings (0 ms): STATE bytes vs RECORD bytes, and wall time vs
  the same readings spread over 20 meters.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    PYTHON,
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

LATENCY_MS = 100.0
#: 20 meters x 60 days of 15-minute readings (115,220): the issue's measurement.
DISTANT_SIZE = "20x60x900"
#: 600 meters x 2 days (115,200 readings). The hash spreads a portfolio evenly only when it
#: has many meters: 40 meters split 12/10/5/13 over 4 partitions, which capped the speed-up
#: at 40/13 = 3.1 whatever the tap did (600 split 166/171/134/129: at most 3.5). Each
#: process's share is shown with the figure.
PARTITION_SIZE = "600x2x900"
PARTITION_METERS = 600
#: 2,000 meters x 26 readings, and the same 52,000 readings over 20 meters (2,601 each).
MANY_METERS, FEW_METERS = "2000x1x3456", "20x26x864"


def bench_scale(rounds: int = 1) -> Section:
    section = Section(
        "Tap at a distance and at scale",
        f"Sandbox adding {LATENCY_MS:g} ms per request (no rate limit) for the first two parts, "
        "0 ms for STATE; meters + readings selected, stdout to /dev/null (to a file where "
        f"bytes are counted); median of {rounds} round(s).",
    )
    _distant(section, rounds)
    _partitions(section, rounds)
    _state(section, rounds)
    return section


def _distant(section: Section, rounds: int) -> None:
    distant = sandbox(seed="bench", seed_size=DISTANT_SIZE, latency_ms=LATENCY_MS)
    with distant as sb, workdir() as tmp:
        config = write_json(tmp / "config.json", tap_config(sb, max_concurrency=8))
        catalog = readings_catalog(config, tmp / "catalog.json")
        tap_s, async_s, serial_s, counts = [], [], [], set()
        for _ in range(rounds):
            tap = checked(run(tap_command(config, catalog)), "tap-enectiva")
            hand_async = checked(
                run([PYTHON, "-m", "benchmarks.baselines", "async-tap", str(config), "8"]),
                "asyncio client",
            )
            serial = checked(
                run([PYTHON, "-m", "benchmarks.baselines", "tap", str(config)]), "serial loop"
            )
            tap_s.append(tap.seconds)
            async_s.append(hand_async.seconds)
            serial_s.append(serial.seconds)
            counts.add(
                (
                    tap_records(tap.stderr),
                    json.loads(hand_async.stderr.splitlines()[-1])["records"],
                    json.loads(serial.stderr.splitlines()[-1])["records"],
                )
            )
    (n, n_async, n_serial), *others = counts
    if others or not n == n_async == n_serial or n == 0:
        raise RuntimeError(f"tap and hand clients disagree on the readings: {counts}")
    rate = n / median(tap_s)
    section.add(
        Figure(
            f"tap-enectiva at {LATENCY_MS:g} ms, max_concurrency 8, {n:,} readings",
            rate,
            "records/s",
            "asyncio client, 8 in flight",
            n / median(async_s),
            target=0.8,
            note=f"wall {median(tap_s):.2f} s vs {median(async_s):.2f} s",
        )
    )
    section.add(
        Figure(
            f"tap-enectiva at {LATENCY_MS:g} ms vs a serial loop",
            rate,
            "records/s",
            "serial hand loop",
            n / median(serial_s),
            target=5.0,
            note=f"wall {median(tap_s):.2f} s vs {median(serial_s):.2f} s",
        )
    )
    section.facts["distant"] = {
        "records": n,
        "tap_s": tap_s,
        "async_s": async_s,
        "serial_s": serial_s,
    }


def partition_commands(
    tmp: Path, config: dict[str, Any], catalog: Path, count: int
) -> list[list[str]]:
    """One tap command line per partition of ``count``."""
    commands = []
    for index in range(count):
        part = write_json(
            tmp / f"config-{count}-{index}.json",
            {**config, "partition_count": count, "partition_index": index},
        )
        commands.append(tap_command(part, catalog))
    return commands


def run_together(commands: list[list[str]], stderrs: list[str] | None = None) -> tuple[float, int]:
    """Start every command at once; (seconds until the last ends, readings of all); each
    process's stderr is appended to ``stderrs`` when given.

    Each stderr goes to a file: read from pipes one process after another, a process whose
    log outgrew the pipe's 64 KB stopped until the ones before it ended (one of two
    partition processes of 300 meters stalled 13 s that way).
    """
    with tempfile.TemporaryDirectory(prefix="enectiva-run-") as tmp:
        logs = [Path(tmp) / f"stderr-{index}.log" for index in range(len(commands))]
        started = time.perf_counter()
        procs = []
        for cmd, log in zip(commands, logs, strict=True):
            with log.open("wb") as err_file:
                procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file))
        for proc in procs:
            proc.wait()
        seconds = time.perf_counter() - started
        records = 0
        for proc, log in zip(procs, logs, strict=True):
            err = log.read_text(encoding="utf-8", errors="replace")
            if proc.returncode != 0:
                raise RuntimeError(
                    f"partition process exited with {proc.returncode}: {err[-2000:]}"
                )
            records += tap_records(err)
            if stderrs is not None:
                stderrs.append(err)
    return seconds, records


def _partitions(section: Section, rounds: int) -> None:
    spread = sandbox(seed="bench", seed_size=PARTITION_SIZE, latency_ms=LATENCY_MS)
    with spread as sb, workdir() as tmp:
        # One request in flight per process: latency binds, not the 2 cores, so what is
        # measured is how partitions spread a run (with 8 in flight one process already
        # keeps both cores busy: the figures above).
        config = tap_config(sb, max_concurrency=1)
        catalog = readings_catalog(write_json(tmp / "config.json", config), tmp / "catalog.json")
        rates: dict[int, float] = {}
        for count in (1, 2, 4):
            times, totals = [], set()
            for _ in range(rounds):
                seconds, records = run_together(partition_commands(tmp, config, catalog, count))
                times.append(seconds)
                totals.add(records)
            if len(totals) != 1:
                raise RuntimeError(f"partition runs disagree on the readings: {totals}")
            rates[count] = totals.pop() / median(times)
            section.facts[f"partitions_{count}"] = {"seconds": times}
    for count in (2, 4):
        split = meter_split(count)
        section.add(
            Figure(
                f"{count} partition processes at {LATENCY_MS:g} ms, 1 in flight each",
                rates[count],
                "records/s",
                "1 process",
                rates[1],
                target=0.8 * count,
                note=(
                    f"meters per process {'/'.join(map(str, split))}: at most "
                    f"{PARTITION_METERS / max(split):.2f}x from the split; "
                    "2 cores shared with the sandbox"
                ),
            )
        )


def meter_split(count: int) -> list[int]:
    """How many of the benchmark's meters each of ``count`` partitions reads."""
    from enectiva_sandbox.seed import METER_BASE
    from tap_enectiva.partitions import partition_of

    split = [0] * count
    for offset in range(PARTITION_METERS):
        split[partition_of(str(METER_BASE + offset), count)] += 1
    return split


def state_and_record_bytes(path: Path) -> tuple[int, int, int]:
    """(STATE bytes, RECORD bytes, STATE messages) of a Singer output file."""
    state = record = messages = 0
    with path.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"STATE"'):
                state += len(line)
                messages += 1
            elif line.startswith(b'{"type":"RECORD"'):
                record += len(line)
    return state, record, messages


def _state(section: Section, rounds: int) -> None:
    walls: dict[str, float] = {}
    hand: dict[str, float] = {}
    for size in (MANY_METERS, FEW_METERS):
        with sandbox(seed="bench", seed_size=size) as sb, workdir() as tmp:
            config = write_json(tmp / "config.json", tap_config(sb))
            catalog = readings_catalog(config, tmp / "catalog.json")
            times, hand_times = [], []
            for _ in range(max(rounds, 3)):  # a run of about a second: take 3 at least
                out = tmp / "out.jsonl"
                with out.open("wb") as stdout:
                    result = checked(run(tap_command(config, catalog), stdout=stdout), "tap")
                times.append(result.seconds)
                loop = [PYTHON, "-m", "benchmarks.baselines", "tap", str(config)]
                hand_times.append(checked(run(loop), "serial hand loop").seconds)
            walls[size] = median(times)
            hand[size] = median(hand_times)
            if size == MANY_METERS:
                state, record, messages = state_and_record_bytes(out)
                section.add(
                    Figure(
                        "STATE bytes, 2,000 meters x 26 readings",
                        state,
                        "bytes",
                        "RECORD bytes",
                        record,
                        target=0.1,
                        at_most=True,
                        note=f"{messages} STATE messages",
                    )
                )
                section.facts["state"] = {"state": state, "record": record, "messages": messages}
    section.add(
        Figure(
            "wall time, 2,000 meters x 26 readings (0 ms)",
            walls[MANY_METERS],
            "s",
            "20 meters x 2,601 readings",
            walls[FEW_METERS],
            target=1.5,
            at_most=True,
            note=f"wall {walls[MANY_METERS]:.2f} s vs {walls[FEW_METERS]:.2f} s",
        )
    )
    # The floor: the same ratio for the serial hand loop (requests + json.dumps, nothing
    # else): one request per meter costs it as much, start-up aside.
    section.add(
        Figure(
            "same ratio for the serial hand loop (reference: the cost of 2,000 requests)",
            hand[MANY_METERS],
            "s",
            "20 meters x 2,601 readings",
            hand[FEW_METERS],
            note=f"wall {hand[MANY_METERS]:.2f} s vs {hand[FEW_METERS]:.2f} s",
        )
    )
    section.facts["many_meters"] = {"tap_s": walls, "hand_loop_s": hand}
