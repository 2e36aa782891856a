"""Benchmark 3: the target under the sandbox's rate limit (token bucket, capacity R)."""

from __future__ import annotations

from benchmarks.harness import Figure, Section, sandbox, workdir
from benchmarks.target_bench import IN_FLIGHT, push


def bench_ratelimit(rate: float, seconds: float) -> Section:
    """Push ``rate * seconds`` readings with the sandbox allowing ``rate`` requests/s."""
    count = int(rate * seconds)
    section = Section(
        "Rate-limited run",
        f"The sandbox allows R = {rate:g} requests/s per credential (token bucket of capacity "
        f"R, 429 + Retry-After beyond it); {count:,} readings (about {seconds:g} s at R) "
        f"through `target-enectiva` with max_concurrency {IN_FLIGHT}. Achieved rate = records "
        "/ wall time of the whole target process (start-up included).",
    )
    with sandbox(seed="empty", rate_limit=rate) as sb, workdir() as tmp:
        sb.reset_stats()
        result, kept, states = push(sb, tmp, count, max_concurrency=IN_FLIGHT)
        stats = sb.stats()
    achieved = count / result.seconds
    refused = int(stats.get("rate_limited", 0))
    lost = count - kept
    section.add(Figure("achieved rate", achieved, "records/s", "R", rate, target=0.9))
    section.add(Figure("429 answers provoked", refused, "", "records", count))
    section.add(Figure("records lost", lost, "", note="sandbox records vs input"))
    section.notes.append(
        f"{count:,} records in {result.seconds:.1f} s; {refused} 429s "
        f"({refused / max(1, count):.1%} of the records); lost {lost}; STATE lines {states}"
    )
    section.facts = {"records": count, "lost": lost, "refused": refused, "seconds": result.seconds}
    return section
