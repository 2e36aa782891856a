"""Benchmark 3: the target under the sandbox's rate limit (token bucket, capacity R), with and
without budget headers (contract section 8: good citizenship)."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import singer_input
from benchmarks.harness import (
    Figure,
    Sandbox,
    Section,
    checked,
    run,
    sandbox,
    target_config,
    workdir,
    write_json,
)
from benchmarks.target_bench import IN_FLIGHT, target_command

#: (label, budget headers sent, goal: achieved / R at least, goal: 429 share at most)
MODES = (("budget headers", True, 0.95, 0.01), ("no headers", False, 0.90, 0.05))


def bench_ratelimit(rate: float, seconds: float) -> Section:
    """Push ``rate * seconds`` readings with the sandbox allowing ``rate`` requests/s, once
    with budget headers and once without."""
    count = int(rate * seconds)
    section = Section(
        "Rate-limited run",
        f"The sandbox allows R = {rate:g} requests/s per token (token bucket of capacity R, "
        f"429 + Retry-After beyond it); {count:,} readings (about {seconds:g} s at R) through "
        f"`target-enectiva` with max_concurrency {IN_FLIGHT}, once with the budget headers "
        "(`X-RateLimit-*`) and once without (`--no-budget-headers`: the rate is learned from "
        "429s). As the server counts them (`/_sandbox/stats` `by_credential`, the import "
        "token's bucket): achieved rate = answers other than 429 per second between its first "
        "and last answer; 429 share = 429 answers / all answers.",
    )
    section.facts = {"records": count, "lost": 0, "duplicated": 0, "refused": 0, "seconds": 0.0}
    for label, headers, goal_rate, goal_share in MODES:
        with sandbox(seed="empty", rate_limit=rate, budget_headers=headers) as sb, workdir() as tmp:
            sb.reset_stats()
            seconds_taken, lost, duplicated, states = _push(sb, tmp, count)
            counts = sb.stats()["by_credential"][f"import_primary@{sb.creds['customer_id']}"]
        answered, refused = int(counts["answered"]), int(counts["rate_limited"])
        span = max(counts["last"] - counts["first"], 1e-6)
        achieved = answered / span
        section.add(Figure(f"achieved rate, {label}", achieved, "requests/s", "R", rate,
                           target=goal_rate))  # fmt: skip
        section.add(Figure(f"429 answers of all answers, {label}", refused, "answers", "all",
                           answered + refused, target=goal_share, at_most=True))  # fmt: skip
        section.add(Figure(f"records lost or created twice, {label}", lost + duplicated, "",
                           note="sandbox records vs input"))  # fmt: skip
        section.notes.append(
            f"{label}: {count:,} records in {seconds_taken:.1f} s (whole process); server: "
            f"{answered} answered, {refused} 429s over {span:.1f} s; lost {lost}, created "
            f"twice {duplicated}; STATE lines {states}"
        )
        facts = section.facts
        facts["lost"] += lost
        facts["duplicated"] += duplicated
        facts["refused"] += refused
        facts["seconds"] += seconds_taken
        facts[label] = {"achieved": achieved, "answered": answered, "refused": refused}
    return section


def _push(sb: Sandbox, tmp: Path, count: int) -> tuple[float, int, int, int]:
    """(seconds, lost, created twice, STATE lines) of ``count`` readings through the target."""
    prefix = f"r{uuid.uuid4().hex[:8]}"
    config = write_json(tmp / f"{prefix}.json", target_config(sb, max_concurrency=IN_FLIGHT))
    source = singer_input.write(tmp / f"{prefix}.singer", count, prefix)
    out = tmp / f"{prefix}.out"
    with source.open("rb") as stdin, out.open("wb") as stdout:
        result = checked(run(target_command(config), stdin=stdin, stdout=stdout), "target")
    states = sum(1 for line in out.read_text(encoding="utf-8").splitlines() if line.strip())
    kept: Counter[tuple[Any, ...]] = Counter(
        (r.get("import_id"), r.get("suit"), r.get("time"))
        for r in sb.records("readings")
        if str(r.get("import_id", "")).startswith(prefix)
    )
    lost = count - len(kept)
    duplicated = sum(n - 1 for n in kept.values())
    return result.seconds, lost, duplicated, states
