"""``python -m benchmarks.run [--quick] [--only NAMES] [--output FILE]`` (NAMES: see NAMES)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import results
from benchmarks.harness import Section
from benchmarks.lookback_bench import bench_lookback
from benchmarks.memory_bench import bench_memory
from benchmarks.ratelimit_bench import bench_ratelimit
from benchmarks.scale_bench import bench_scale
from benchmarks.seed_sizes import seed_size_for
from benchmarks.tap_bench import bench_tap
from benchmarks.tap_ratelimit_bench import bench_tap_ratelimit
from benchmarks.target_bench import bench_target

NAMES = ("tap", "scale", "target", "ratelimit", "tapratelimit", "memory", "lookback")

#: (full, quick) sizes of every benchmark.
PLANS: dict[str, tuple[Callable[[], Section], Callable[[], Section]]] = {
    "tap": (
        lambda: bench_tap([seed_size_for(20_000), seed_size_for(300_000)], rounds=3),
        lambda: bench_tap([seed_size_for(5_000)], rounds=1),
    ),
    "scale": (
        lambda: bench_scale(rounds=1),
        lambda: bench_scale(rounds=1),
    ),
    "target": (
        lambda: bench_target([(20.0, 20_000, 400), (0.0, 40_000, 3_000)]),
        lambda: bench_target([(20.0, 2_000, 100), (0.0, 2_000, 300)]),
    ),
    "ratelimit": (
        lambda: bench_ratelimit(rate=100, seconds=40),
        lambda: bench_ratelimit(rate=50, seconds=6),
    ),
    "tapratelimit": (
        lambda: bench_tap_ratelimit(rate=20, meters=20, days=16, page_size=50),
        lambda: bench_tap_ratelimit(rate=20, meters=20, days=4, page_size=50),
    ),
    "memory": (
        lambda: bench_memory([10_000, 100_000, 1_000_000]),
        lambda: bench_memory([1_000, 10_000]),
    ),
    "lookback": (
        lambda: bench_lookback(meters=20, days=30, rounds=5),
        lambda: bench_lookback(meters=20, days=5, rounds=1),
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", default=",".join(NAMES), help="comma-separated benchmarks")
    parser.add_argument("--output", type=Path, default=results.RESULTS, help="results file")
    args = parser.parse_args(argv)
    chosen = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    started = time.monotonic()
    sections = []
    for name in chosen:
        print(f"== {name} ...", flush=True)
        section = PLANS[name][1 if args.quick else 0]()
        sections.append(section)
        print(f"\n{section.title}\n{section.table()}\n", flush=True)
    command = "python -m benchmarks.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = results.render(
        sections,
        command.strip(),
        time.monotonic() - started,
        closing=results.closing_note(args.output),
        kept=results.kept_blocks(args.output),
    )
    print(f"wrote {results.write(text, args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
