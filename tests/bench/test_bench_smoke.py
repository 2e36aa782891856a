"""The benchmark harness works: every benchmark at a tiny size yields figures, loses nothing.

No timing assertions (tests never time things): only that figures exist and counts agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import results
from benchmarks.harness import Section
from benchmarks.lookback_bench import bench_lookback
from benchmarks.memory_bench import bench_memory
from benchmarks.ratelimit_bench import bench_ratelimit
from benchmarks.run import main
from benchmarks.tap_bench import bench_tap
from benchmarks.tap_ratelimit_bench import bench_tap_ratelimit
from benchmarks.target_bench import bench_target

pytestmark = pytest.mark.xdist_group("bench")


def _positive_figures(section: Section) -> None:
    assert section.figures, section.title
    for figure in section.figures:
        if figure.baseline is not None:
            assert figure.value > 0 and figure.baseline > 0, figure
            assert figure.ratio is not None


def test_tap_benchmark_counts_every_reading_and_profiles() -> None:
    section = bench_tap(["2x2x900"], rounds=1, profile=True)
    _positive_figures(section)
    assert section.facts["2x2x900"]["records"] == 2 * (2 * 96 + 1)
    # a cProfile of one in-process sync, top entries by own time (which ones varies)
    assert "function calls" in section.profile and "Ordered by: internal time" in section.profile


def test_target_benchmark_loses_nothing_and_releases_state() -> None:
    section = bench_target([(5.0, 300, 20), (0.0, 300, 20)])
    _positive_figures(section)
    for facts in section.facts.values():
        assert facts["lost"] == 0
        assert facts["states"] >= 1  # the last STATE (300 records: a STATE every 100)


def test_rate_limited_benchmark_counts_429s_and_loses_nothing() -> None:
    section = bench_ratelimit(rate=20, seconds=3)
    _positive_figures(section)
    assert section.facts["lost"] == 0
    assert section.facts["records"] == 60


def test_tap_rate_limited_benchmark_counts_on_the_server_and_agrees_on_records() -> None:
    section = bench_tap_ratelimit(rate=20, meters=2, days=1, page_size=20)
    assert len(section.figures) == 6  # rate and 429 share, for 1, 2 and 4 processes
    assert all(f.baseline and f.value >= 0 and f.verdict for f in section.figures)
    runs = [section.facts[count] for count in ("1", "2", "4")]
    assert {facts["records"] for facts in runs} == {2 * (96 + 1)}
    for facts in runs:
        assert facts["reads"] >= 2 * 5 + 1  # several pages per meter, and the meters list
        assert facts["requests"] >= facts["reads"] + facts["throttled"]
        assert all(line.startswith("login tokens:") for line in facts["summaries"])


def test_memory_benchmark_measures_both_plugins() -> None:
    section = bench_memory([200, 400])
    assert len(section.facts["tap"]) == len(section.facts["target"]) == 2
    assert all(peak > 0 for peak in section.facts["tap"] + section.facts["target"])
    assert any(f.verdict for f in section.figures)


def test_results_file_names_machine_command_and_verdicts(tmp_path: Path) -> None:
    section = bench_ratelimit(rate=20, seconds=1)
    text = results.render([section], "python -m benchmarks.run --quick", 1.0)
    assert "## Machine" in text and "cores (nproc)" in text
    assert "python -m benchmarks.run --quick" in text
    assert "Rate-limited run, achieved rate" in text
    assert results.write(text, tmp_path / "R.md").read_text(encoding="utf-8") == text


def test_cli_refuses_unknown_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--only", "tap,nope"])
    assert "unknown benchmark(s) nope" in capsys.readouterr().err


def test_lookback_benchmark_rereads_only_the_window() -> None:
    section = bench_lookback(meters=2, days=3, rounds=1)
    assert len(section.figures) == 3
    assert section.facts["records"] == {0: 0, 2: 2 * 2 * 96}  # 2 days of 15-minute readings
    assert section.facts["requests"][2] >= section.facts["requests"][0] > 0
