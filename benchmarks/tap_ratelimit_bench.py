"""Benchmark 7: the tap under the sandbox's rate limit with budget headers (issue 11).

One tap process (``max_concurrency`` 8), then N = 2 and 4 partition processes sharing the same
login token (one bucket of R): requests counted by the sandbox (``/_sandbox/stats``: every answer,
429s included), over the span of the tap's reads (from the first read's start to the last
answer, from the SDK's ``http_request_duration`` metric lines: start-up is not the pacer's).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from benchmarks.harness import Figure, Section, sandbox, tap_config, workdir, write_json
from benchmarks.scale_bench import partition_commands, run_together
from benchmarks.tap_bench import readings_catalog

#: A read's answer in the tap's log: its time and its duration in seconds.
_METRIC = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*\"metric\":\s*\"http_request_duration\","
    r"\s*\"value\":\s*([0-9.]+)",
    re.MULTILINE,
)
#: Reads of the run, by the sandbox's operation names.
READS = ("listMeters", "listReadings")
IN_FLIGHT = 8
#: Tap processes sharing the login token: one, then partition processes.
COUNTS = (1, 2, 4)


def read_span(*stderrs: str) -> float:
    """Seconds from the first read's start to the last read's answer, over every log."""
    starts, ends = [], []
    for text in stderrs:
        for stamp, duration in _METRIC.findall(text):
            end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
            ends.append(end)
            starts.append(end - float(duration))
    if not ends:
        raise RuntimeError("no http_request_duration metric in the tap's log")
    return max(ends) - min(starts)


def bench_tap_ratelimit(rate: float, meters: int, days: int, page_size: int) -> Section:
    section = Section(
        "Tap under a rate limit",
        f"The sandbox allows R = {rate:g} requests/s per login token (token bucket of capacity R, "
        "429 + Retry-After beyond it) and sends the X-RateLimit-* budget headers; "
        f"{meters} meters x {days} days of 15-minute readings, page size {page_size} (many pages "
        f"per meter); meters + readings through `tap-enectiva` with max_concurrency {IN_FLIGHT}. "
        "Requests and 429s counted by the sandbox; achieved rate = reads / span of the reads.",
    )
    size = f"{meters}x{days}x900"
    options: dict[str, Any] = {"rate_limit": rate, "page_size": page_size}
    with sandbox(seed="bench", seed_size=size, **options) as sb, workdir() as tmp:
        config = tap_config(sb, max_concurrency=IN_FLIGHT)
        catalog = readings_catalog(write_json(tmp / "config.json", config), tmp / "catalog.json")
        runs = {n: _measure(sb, partition_commands(tmp, config, catalog, n), rate) for n in COUNTS}
    if len({got["records"] for got in runs.values()}) != 1:
        raise RuntimeError(f"1, 2 and 4 processes disagree on the readings: {runs}")
    for count, got in runs.items():
        label = "1 tap process" if count == 1 else f"{count} partition processes, one token"
        section.add(
            Figure(f"{label}: achieved rate", got["rate"], "requests/s", "R", rate, target=0.95)
        )
        section.add(
            Figure(
                f"{label}: 429 answers",
                got["throttled"],
                "",
                "requests",
                got["requests"],
                target=0.01,
                at_most=True,
            )
        )
        section.notes.append(
            f"{label}: {got['requests']} requests ({got['reads']} reads) in {got['span']:.1f} s "
            f"of reads, {got['throttled']} answered 429 "
            f"({got['throttled'] / max(1, got['requests']):.1%}); {got['records']:,} readings. "
            + " / ".join(got["summaries"])
        )
    section.facts = {str(count): got for count, got in runs.items()}
    return section


def _measure(sb: Any, commands: list[list[str]], rate: float) -> dict[str, Any]:
    sb.reset_stats()
    stderrs: list[str] = []
    seconds, records = run_together(commands, stderrs=stderrs)
    stats = sb.stats()
    reads = sum(n for op, n in stats["by_operation"].items() if op in READS)
    span = read_span(*stderrs)
    return {
        "records": records,
        "seconds": seconds,
        "span": span,
        "requests": stats["requests"],
        "reads": reads,
        "throttled": stats["rate_limited"],
        "rate": reads / span,
        "summaries": [_summary(text) for text in stderrs],
    }


def _summary(stderr: str) -> str:
    """The tap's run summary line (its credential's requests, 429s, paced rate)."""
    found = re.findall(r"Run summary: (.*)", stderr)
    return found[-1] if found else "no run summary"


__all__ = ["bench_tap_ratelimit", "read_span"]


if __name__ == "__main__":  # one figure on its own: python -m benchmarks.tap_ratelimit_bench
    print(bench_tap_ratelimit(20, 20, 4, 50).table())
