"""Concurrent reads (issue 12): interleaved Singer output, resumability after kill -9 with
max_concurrency > 1, and the shared pacer keeping concurrent reads under an announced budget."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
from typing import Any

import pytest
from tap_runner import discover, parse_messages, run_tap, select, tap_args
from test_tap_cli import full_config, listed, recent_start

from tests.support.sandbox import Sandbox

#: Primary keys of each stream (what "the same record" means across runs).
KEYS = {
    "meters": ("id",),
    "entities": ("id",),
    "readings": ("meter_id", "time"),
    "data_points": ("data_series_id", "time"),
    "meter_deltas": ("meter_id", "energy", "time"),
    "entity_deltas": ("entity_id", "energy", "time"),
    "virtual_meter_deltas": ("virtual_meter_id", "energy", "time"),
}
#: Streams read with a keyset bookmark: a resumed run repeats nothing before the bookmark.
KEYSET = ("readings", "data_points")


def record_keys(messages: list[dict[str, Any]], streams: tuple[str, ...]) -> list[tuple]:
    return [
        (m["stream"], *(m["record"][k] for k in KEYS[m["stream"]]))
        for m in messages
        if m["type"] == "RECORD" and m["stream"] in streams
    ]


def assert_singer(messages: list[dict[str, Any]]) -> None:
    """Every RECORD after its stream's SCHEMA; per partition, keyset records in time order."""
    schemas: set[str] = set()
    newest: dict[tuple, str] = {}
    for message in messages:
        if message["type"] == "SCHEMA":
            schemas.add(message["stream"])
        elif message["type"] == "RECORD":
            stream = message["stream"]
            assert stream in schemas, f"RECORD of {stream} before its SCHEMA"
            if stream in KEYSET:
                record = message["record"]
                owner = (stream, record[KEYS[stream][0]])
                assert record["time"] > newest.get(owner, ""), f"out of order: {record}"
                newest[owner] = record["time"]


def partitions_interleave(messages: list[dict[str, Any]], stream: str, owner: str) -> bool:
    """Whether records of one partition came between records of another."""
    order = [
        m["record"][owner] for m in messages if m["type"] == "RECORD" and m["stream"] == stream
    ]
    finished: set[str] = set()
    for previous, current in itertools.pairwise(order):
        if current != previous:
            if current in finished:
                return True
            finished.add(previous)
    return False


@pytest.fixture(scope="module")
def distant(make_sandbox) -> Sandbox:
    """A sandbox answering after 20 ms: partitions read concurrently overlap."""
    return make_sandbox(seed="demo", page_size=50, latency_ms=20)


def test_interleaved_output_is_valid_singer_and_complete(distant: Sandbox, tmp_path):
    config = full_config(distant, max_concurrency=4)
    serial = run_tap(tmp_path, {**config, "max_concurrency": 1})
    assert serial.returncode == 0, serial.stderr
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert_singer(run.messages)
    assert partitions_interleave(run.messages, "readings", "meter_id"), "meters read one by one"
    streams = tuple(KEYS)
    got = record_keys(run.messages, streams)
    assert len(got) == len(set(got)), "no record twice"
    assert sorted(got) == sorted(record_keys(serial.messages, streams))
    assert {k[0] for k in got} >= {"readings", "data_points", "meter_deltas", "entity_deltas"}
    # The last STATE holds every meter's newest reading.
    newest: dict[str, str] = {}
    for _, meter, at in record_keys(run.messages, ("readings",)):
        newest[meter] = max(at, newest.get(meter, ""))
    bookmarks = {
        p["context"]["meter_id"]: p["replication_key_value"]
        for p in run.last_state["bookmarks"]["readings"]["partitions"]
    }
    assert bookmarks == newest


def killed_run(args: list[str], after_lines: int) -> list[dict[str, Any]]:
    """The messages a tap wrote before ``kill -9`` once ``after_lines`` lines were read."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    lines: list[bytes] = []
    for line in proc.stdout:
        lines.append(line)
        if len(lines) >= after_lines:
            proc.send_signal(signal.SIGKILL)
            break
    lines.extend(proc.stdout.readlines())  # what was already in the pipe
    proc.wait()
    whole = [line for line in lines if line.endswith(b"\n")]  # a cut last line is lost
    return parse_messages(b"".join(whole).decode("utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("after_lines", [40, 600, 1800])
def test_kill_9_at_any_point_resumes_from_the_last_state(distant: Sandbox, tmp_path, after_lines):
    config = full_config(distant, max_concurrency=4, start_date=recent_start(15))
    catalog = select(discover(tmp_path, config), {"meters", "readings", "data_points"})
    full = run_tap(tmp_path, config, catalog=catalog)
    assert full.returncode == 0, full.stderr
    everything = set(record_keys(full.messages, KEYSET))

    first = killed_run(tap_args(tmp_path, config, catalog=catalog), after_lines)
    assert_singer(first)
    states = [i for i, m in enumerate(first) if m["type"] == "STATE"]
    last = states[-1] if states else None
    covered = set(record_keys(first[:last] if last is not None else [], KEYSET))
    after_state = set(record_keys(first[last:] if last is not None else first, KEYSET))
    assert len(covered) < len(everything), "killed before the end"

    state = first[last]["value"] if last is not None else None
    resumed = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert resumed.returncode == 0, resumed.stderr
    assert_singer(resumed.messages)
    again = record_keys(resumed.messages, KEYSET)
    assert len(again) == len(set(again))
    assert covered | after_state | set(again) == everything, "nothing missing"
    repeated = covered & set(again)
    assert not repeated, f"records before the last STATE came again: {sorted(repeated)[:3]}"
    assert set(again) & (covered | after_state) <= after_state, "repeats only after the STATE"


def test_concurrent_reads_keep_to_the_announced_budget(make_sandbox, tmp_path):
    sb = make_sandbox(seed="demo", page_size=50, rate_limit=20)
    config = full_config(sb, max_concurrency=8, start_date=recent_start(15))
    catalog = select(discover(tmp_path, config), {"meters", "readings"})
    sb.reset_stats()
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    stats = sb.stats()
    assert stats["requests"] > 40, stats
    assert stats["rate_limited"] <= 1, stats  # paced from the budget headers of each answer
    meters = {m["id"] for m in listed(sb, "/meters")}
    assert {r["meter_id"] for r in run.records("readings")} <= meters


def metric_points(stderr: str, metric: str, stream: str) -> list[dict[str, Any]]:
    """The SDK's METRIC points of one metric and stream in a tap's log."""
    points = []
    for line in stderr.splitlines():
        _, found, text = line.partition("METRIC: ")
        if found:
            point = json.loads(text)
            if point["metric"] == metric and point["tags"].get("stream") == stream:
                points.append(point)
    return points


def test_counters_are_per_stream_and_add_up_at_any_number_of_partitions(distant, tmp_path):
    config = full_config(distant, max_concurrency=4)
    catalog = select(discover(tmp_path, config), {"meters", "readings"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    meters = len(run.records("meters"))
    assert meters > 1
    counts = metric_points(run.stderr, "record_count", "readings")
    # one counter for all of the stream's partitions (the SDK keeps one per partition)
    assert len(counts) < meters and all("context" not in p["tags"] for p in counts)
    assert sum(p["value"] for p in counts) == len(run.records("readings"))
    requests_sent = metric_points(run.stderr, "http_request_count", "readings")
    durations = metric_points(run.stderr, "http_request_duration", "readings")
    assert sum(p["value"] for p in requests_sent) == len(durations) >= meters
    # each partition's starting bookmark is logged at DEBUG, not INFO
    assert "Starting incremental sync of 'readings'" not in run.stderr
    debug = subprocess.run(
        tap_args(tmp_path, config, catalog=catalog),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={**os.environ, "LOGLEVEL": "DEBUG"},
    )
    assert debug.stderr.count("Starting incremental sync of 'readings'") == meters


@pytest.mark.slow
def test_partition_processes_on_one_token_share_its_budget(make_sandbox, tmp_path):
    # Each process sees the others only in X-RateLimit-Remaining (contract section 8).
    sb = make_sandbox(seed="demo", page_size=10, rate_limit=20)
    config = full_config(sb, max_concurrency=8, start_date=recent_start(20))
    catalog = select(discover(tmp_path, config), {"meters", "readings"})
    sb.reset_stats()
    procs = []
    for index in range(3):
        folder = tmp_path / f"p{index}"
        folder.mkdir()
        part = {**config, "partition_count": 3, "partition_index": index}
        args = tap_args(folder, part, catalog=catalog)
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    stats = sb.stats()
    assert stats["requests"] > 250, stats
    assert stats["rate_limited"] <= 0.01 * stats["requests"], stats
    shares = [record_keys(parse_messages(out.decode()), ("readings",)) for out in outputs]
    assert sum(map(len, shares)) == len(set().union(*map(set, shares))) > 0
