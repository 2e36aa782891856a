"""Partitioned runs (contract section 7): N processes against one sandbox, each killed and
resumed from its own state, emit exactly one unpartitioned run's records, none twice; bad
partition settings are refused with one line before any request."""

from __future__ import annotations

import pytest
from tap_enectiva.partitions import Partition, partition_of, partition_setting_errors
from tap_runner import error_lines, run_tap, tap_args
from test_tap_cli import full_config
from test_tap_concurrency import KEYS, assert_singer, killed_run, record_keys

from tests.support.sandbox import Sandbox

STREAMS = tuple(KEYS)


def test_partition_of_is_the_documented_hash():
    # First 8 bytes of SHA-256 of the id's UTF-8 text, big-endian, modulo N: frozen values.
    assert [partition_of(i, 3) for i in ("1000", "1001", "1002", "1003", "abc")] == [0, 0, 2, 1, 0]
    assert partition_of("1000", 2**61 - 1) == 22801077356824819
    assert all(partition_of(str(i), 1) == 0 for i in range(50))
    counts = [0, 0, 0]
    for i in range(3000):
        counts[partition_of(str(i), 3)] += 1
    assert min(counts) > 900, counts


def test_partition_owns_exactly_one_share():
    ids = [str(i) for i in range(200)]
    shares = [{i for i in ids if Partition({"partition_count": 4, "partition_index": k}).owns(i)}
              for k in range(4)]  # fmt: skip
    assert set().union(*shares) == set(ids)
    assert sum(len(s) for s in shares) == len(ids)
    assert all(Partition({}).owns(i) for i in ids)


@pytest.mark.parametrize(
    ("count", "index", "says"),
    [
        (3, 3, "partition_index 3"),
        (2, 5, "partition_index 5"),
        (3, -1, "partition_index"),
        (0, 0, "partition_count"),
        (-2, 0, "partition_count"),
    ],
)
def test_bad_partition_settings_are_refused_in_one_line(
    sandbox: Sandbox, tmp_path, count, index, says
):
    config = full_config(sandbox, partition_count=count, partition_index=index)
    sandbox.reset_stats()
    run = run_tap(tmp_path, config)
    assert run.returncode != 0
    errors = error_lines(run.stderr)
    assert len(errors) == 1 and says in errors[0], run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    assert sandbox.stats()["requests"] == 0, "refused before any request"


def test_partition_setting_errors_unit():
    assert partition_setting_errors({}) == []
    assert partition_setting_errors({"partition_count": 4, "partition_index": 3}) == []
    assert partition_setting_errors({"partition_count": 4, "partition_index": 4})
    assert partition_setting_errors({"partition_count": True})


def by_stream(keys: set[tuple]) -> dict[str, set[tuple]]:
    out: dict[str, set[tuple]] = {}
    for key in keys:
        out.setdefault(key[0], set()).add(key)
    return out


@pytest.mark.slow
def test_three_partitions_killed_and_resumed_emit_one_run_exactly(make_sandbox, tmp_path):
    sb = make_sandbox(seed="demo", page_size=50, latency_ms=5)
    config = full_config(sb, max_concurrency=3)
    whole = run_tap(tmp_path, config)
    assert whole.returncode == 0, whole.stderr
    everything = record_keys(whole.messages, STREAMS)
    assert len(everything) == len(set(everything))

    shares: list[set[tuple]] = []
    for index in range(3):
        folder = tmp_path / f"p{index}"
        folder.mkdir()
        part = {**config, "partition_count": 3, "partition_index": index}
        first = killed_run(tap_args(folder, part), after_lines=200)
        assert_singer(first)
        states = [m["value"] for m in first if m["type"] == "STATE"]
        resumed = run_tap(folder, part, state=states[-1] if states else None)
        assert resumed.returncode == 0, resumed.stderr
        assert_singer(resumed.messages)
        share = set(record_keys(first, STREAMS)) | set(record_keys(resumed.messages, STREAMS))
        shares.append(share)
        # Each process keeps its own state: only its own meters are bookmarked.
        for partition in resumed.last_state["bookmarks"].get("readings", {}).get("partitions", []):
            assert partition_of(partition["context"]["meter_id"], 3) == index

    assert set().union(*shares) == set(everything), "the partitions together miss nothing"
    for a in range(3):
        for b in range(a + 1, 3):
            assert not shares[a] & shares[b], "no record in two partitions"
    # Every kind of owner is split, not only meters.
    owners = by_stream(set(everything))
    for stream in ("meters", "entities", "readings", "data_points", "virtual_meter_deltas"):
        assert owners.get(stream), f"the demo has {stream}"
    assert sum(1 for share in shares if by_stream(share).get("readings")) >= 2
