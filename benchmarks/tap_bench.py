"""Benchmark 1: tap throughput against a hand-written ``requests`` client, and its profile."""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import re
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    BIN,
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

_RECORD_COUNT = re.compile(
    r'"metric":\s*"record_count",\s*"value":\s*(\d+),\s*"tags":\s*\{"stream":\s*"readings"'
)


def readings_catalog(config_path: Path, catalog_path: Path) -> Path:
    """The tap's catalog with ``meters`` and ``readings`` selected (readings need meters)."""
    done = checked(run([str(BIN / "tap-enectiva"), "--config", str(config_path), "--discover"],
                       stdout=catalog_path.open("wb")), "tap-enectiva --discover")  # fmt: skip
    del done
    catalog = json.loads(catalog_path.read_text(encoding="utf-8"))
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] in ("meters", "readings")
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = selected
    return write_json(catalog_path, catalog)


def tap_command(config: Path, catalog: Path) -> list[str]:
    return [str(BIN / "tap-enectiva"), "--config", str(config), "--catalog", str(catalog)]


def tap_records(stderr: str) -> int:
    """Readings the tap wrote, from its ``record_count`` metric lines."""
    return sum(int(m) for m in _RECORD_COUNT.findall(stderr))


def bench_tap(sizes: list[str], rounds: int = 3, profile: bool = True) -> Section:
    """Tap vs hand client at each seed size (``METERSxDAYSxINTERVAL``)."""
    section = Section(
        "Tap throughput",
        "All readings of N meters through `tap-enectiva` (meters + readings selected, stdout "
        "to /dev/null) vs `benchmarks/baselines.py tap` (requests + json.dumps per record, same "
        "keyset paging). Both are whole processes, start-up included; rounds alternate and the "
        f"median of {rounds} is kept.",
    )
    for size in sizes:
        with sandbox(seed="bench", seed_size=size) as sb, workdir() as tmp:
            config = write_json(tmp / "config.json", tap_config(sb))
            catalog = readings_catalog(config, tmp / "catalog.json")
            tap_times, hand_times, counts = [], [], set()
            for _ in range(rounds):
                tap = checked(run(tap_command(config, catalog)), "tap-enectiva")
                hand = checked(
                    run([PYTHON, "-m", "benchmarks.baselines", "tap", str(config)]), "hand client"
                )
                tap_times.append(tap.seconds)
                hand_times.append(hand.seconds)
                counts.add((tap_records(tap.stderr), json.loads(hand.stderr)["records"]))
            (tap_n, hand_n), *others = counts
            if others or tap_n != hand_n or tap_n == 0:
                raise RuntimeError(f"tap and hand client disagree on the readings: {counts}")
            tap_rate, hand_rate = tap_n / median(tap_times), hand_n / median(hand_times)
            section.add(
                Figure(
                    f"tap-enectiva, {tap_n:,} readings ({size})",
                    tap_rate,
                    "records/s",
                    "hand client",
                    hand_rate,
                    # The target is for a sync where start-up does not dominate: the tap
                    # spends ~0.9 s importing singer_sdk and requests before its first request.
                    target=0.9 if size == sizes[-1] else None,  # issue 12: >= 0.9x
                    note=f"wall {median(tap_times):.2f} s vs {median(hand_times):.2f} s",
                )
            )
            section.facts[size] = {"records": tap_n, "tap_s": tap_times, "hand_s": hand_times}
            if profile and size == sizes[-1]:
                section.profile = profile_tap(tap_config(sb), catalog)
    return section


def profile_tap(config: dict[str, Any], catalog_path: Path, top: int = 25) -> str:
    """cProfile of one tap sync in this process (stdout to /dev/null), top by own time."""
    from tap_enectiva.tap import TapEnectiva

    catalog = json.loads(catalog_path.read_text(encoding="utf-8"))
    tap = TapEnectiva(config=config, catalog=catalog, parse_env_config=False)
    saved, devnull = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    profiler = cProfile.Profile()
    try:
        sys.stdout = devnull
        profiler.enable()
        tap.sync_all()
        profiler.disable()
    finally:
        sys.stdout = saved
        devnull.close()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    return _trim(text.getvalue())


def _trim(report: str) -> str:
    """The profile table without blank lines and with short file names."""
    site = re.compile(r"\S*/site-packages/")
    root = re.compile(r"\S*/(tap-enectiva|target-enectiva|enectiva)/")
    lines = [root.sub(r"\1/", site.sub("", line)) for line in report.splitlines() if line.strip()]
    return "\n".join(lines)
