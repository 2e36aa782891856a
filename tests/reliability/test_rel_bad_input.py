"""Bad input through the real target CLI: one actionable line, the right exit, nothing sent.

Every API validation rule is broken one at a time (table-driven), with ``on_invalid: fail``
(the run stops naming stream, record key and rule) and ``on_invalid: reject`` (one rejects
line per record, with the reason; the valid records still land).
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.workload import schema_message
from tests.support.sandbox import Sandbox, target_config
from tests.target.target_cli_helpers import FATAL_PREFIX, Run, run_target

pytestmark = pytest.mark.slow
PAST = "2024-01-01T00:00:00Z"
FUTURE = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
HUGE = 10**400  # a JSON number no float can hold: infinity once read


def reading(**changes: Any) -> dict[str, Any]:
    rec = {"time": PAST, "state": 1.5, "import_id": "bad-r"}
    rec.update(changes)
    return {k: v for k, v in rec.items() if v is not ...}


def point(**changes: Any) -> dict[str, Any]:
    rec = {"time": PAST, "value": 2.5, "import_id": "bad-d"}
    rec.update(changes)
    return {k: v for k, v in rec.items() if v is not ...}


def profile(**changes: Any) -> dict[str, Any]:
    rec = {"from": PAST, "to": "2024-01-01T00:15:00Z", "value": 3.0, "import_id": "bad-p"}
    rec.update(changes)
    return {k: v for k, v in rec.items() if v is not ...}


def invoice(**changes: Any) -> dict[str, Any]:
    rec = {"meter_id": "1000", "from": "2023-01-01", "to": "2023-01-31", "cost": 10.0}
    rec.update(changes)
    return {k: v for k, v in rec.items() if v is not ...}


# (case id, stream, record, words the message must hold: attribute and rule)
RULES: list[tuple[str, str, dict[str, Any], tuple[str, ...]]] = [
    ("no-time", "readings", reading(time=...), ("time", "required")),
    ("no-state", "readings", reading(state=...), ("state", "required")),
    ("no-import-id", "readings", reading(import_id=...), ("import_id", "required")),
    ("id-space", "readings", reading(import_id="a b"), ("import_id", "white space")),
    ("id-empty", "readings", reading(import_id=""), ("import_id",)),
    ("id-256", "readings", reading(import_id="x" * 256), ("import_id", "255")),
    ("suit-empty", "readings", reading(suit=""), ("suit",)),
    ("suit-space", "readings", reading(suit="a b"), ("suit", "white space")),
    ("unit-51", "readings", reading(unit="u" * 51), ("unit", "50")),
    ("sender-256", "readings", reading(sender="s" * 256), ("sender", "255")),
    ("state-string", "readings", reading(state="12"), ("state", "number")),
    ("state-inf", "readings", reading(state=HUGE), ("state", "finite")),
    ("state-minus-inf", "readings", reading(state=-HUGE), ("state", "finite")),
    ("time-no-offset", "readings", reading(time="2024-01-01T00:00:00"), ("time", "offset")),
    ("time-future", "readings", reading(time=FUTURE), ("time", "past")),
    ("time-garbage", "readings", reading(time="yesterday"), ("time",)),
    ("time-number", "readings", reading(time=1704067200), ("time",)),
    (
        "customer-uuid",
        "readings",
        reading(customer_uuid="00000000-0000-4000-8000-000000000000"),
        ("customer_uuid",),
    ),
    ("dp-no-value", "data_points", point(value=...), ("value", "required")),
    ("dp-inf", "data_points", point(value=HUGE), ("value", "finite")),
    ("dp-future", "data_points", point(time=FUTURE), ("time", "past")),
    ("pr-to-before-from", "profiles", profile(to="2023-12-31T00:00:00Z"), ("to", "after from")),
    ("pr-empty-range", "profiles", profile(to=PAST), ("to", "after from")),
    ("pr-to-future", "profiles", profile(to=FUTURE), ("to", "future")),
    ("pr-no-value", "profiles", profile(value=...), ("value", "required")),
    ("inv-to-today", "invoices", invoice(to=TODAY), ("to", "before today")),
    ("inv-from-after-to", "invoices", invoice(**{"from": "2023-02-01"}), ("to", "before from")),
    ("inv-no-amounts", "invoices", invoice(cost=...), ("cost", "consumption")),
    ("inv-negative", "invoices", invoice(cost=-1.0), ("cost", ">= 0")),
    ("inv-note-256", "invoices", invoice(note="n" * 256), ("note", "255")),
    ("inv-no-meter", "invoices", invoice(meter_id=...), ("meter_id", "required")),
    ("inv-bad-date", "invoices", invoice(to="2023-01-31T00:00:00Z"), ("to",)),
]


@pytest.fixture(scope="module")
def sb(make_sandbox: Any) -> Sandbox:
    return make_sandbox(seed="demo", seed_size="2x1x3600")


def error_line(run: Run) -> str:
    lines = [line for line in run.stderr.splitlines() if line.startswith(FATAL_PREFIX)]
    assert run.returncode != 0, run.stderr[-1500:]
    assert len(lines) == 1, run.stderr[-1500:]
    assert "Traceback" not in run.stderr
    return lines[0].split(FATAL_PREFIX, 1)[1]


def _fail_run(sb: Sandbox, tmp_path: Path, case: tuple) -> tuple[tuple, Run, int]:
    _, stream, rec, _ = case
    before = sb.stats()["by_operation"]
    messages = [schema_message(stream), {"type": "RECORD", "stream": stream, "record": rec}]
    run = run_target(tmp_path, target_config(sb), messages)
    after = sb.stats()["by_operation"]
    sent = sum(n for op, n in after.items() if op.startswith("create")) - sum(
        n for op, n in before.items() if op.startswith("create")
    )
    return case, run, sent


def test_each_rule_broken_alone_stops_with_stream_key_and_rule(sb: Sandbox, tmp_path: Path) -> None:
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda c: _fail_run(sb, tmp_path, c), RULES))
    problems = []
    for (case_id, stream, rec, words), run, _sent in results:
        try:
            line = error_line(run)
        except AssertionError as exc:
            problems.append(f"{case_id}: {exc}")
            continue
        # a record key shows each value up to 60 characters (the line stays at most 200)
        key_hint = f"import_id={rec['import_id'][:59]}" if "import_id" in rec else ""
        if stream == "invoices" and "meter_id" in rec:
            key_hint = f"meter_id={rec['meter_id']}"
        wanted = ("line 2", f"stream {stream}", key_hint, *words)
        missing = [w for w in wanted if w and w not in line]
        if missing:
            problems.append(f"{case_id}: {missing} not in {line!r}")
    assert not problems, "\n".join(problems)


def test_reject_mode_writes_one_line_per_broken_rule_and_loads_the_rest(
    sb: Sandbox, tmp_path: Path
) -> None:
    prefix = f"rj{uuid.uuid4().hex[:6]}"
    rejects = tmp_path / "rejects.jsonl"
    streams = sorted({stream for _, stream, _, _ in RULES})
    messages: list[dict[str, Any] | str] = [schema_message(s) for s in streams]
    for case_id, stream, rec, _ in RULES:
        tagged = dict(rec)
        if "import_id" in tagged and isinstance(tagged["import_id"], str) and tagged["import_id"]:
            tagged["import_id"] = tagged["import_id"].replace("bad", prefix)
        tagged["note" if stream == "invoices" and "note" not in rec else "_case"] = case_id
        messages.append({"type": "RECORD", "stream": stream, "record": tagged})
    good = reading(import_id=f"{prefix}-ok")
    messages.append({"type": "RECORD", "stream": "readings", "record": good})
    messages.append({"type": "STATE", "value": {"done": True}})
    config = target_config(sb, on_invalid="reject", rejects_path=str(rejects))
    run = run_target(tmp_path, config, messages)
    assert run.returncode == 0, run.stderr[-2000:]
    entries = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert len(entries) == len(RULES), [e["reason"] for e in entries]
    for entry, (case_id, stream, _, words) in zip(entries, RULES, strict=True):
        assert entry["stream"] == stream, case_id
        assert all(w in entry["reason"] for w in words), (case_id, entry["reason"])
        assert entry["record"].get("_case", entry["record"].get("note")) == case_id
    stored = [r for r in sb.records("readings") if r["import_id"].startswith(prefix)]
    assert [r["import_id"] for r in stored] == [f"{prefix}-ok"]
    assert run.states == [{"done": True}]


def test_odd_but_valid_values_are_accepted_exactly(sb: Sandbox, tmp_path: Path) -> None:
    prefix = f"od{uuid.uuid4().hex[:6]}"
    ids = {
        "unicode": f"{prefix}-měřič-Ω-電力",
        "max-length": (prefix + "-" + "y" * 255)[:255],
        "punctuation": f"{prefix}-a/b?c#d%e&f",
    }
    records = [
        reading(import_id=ids["unicode"], state=1e308),
        reading(import_id=ids["max-length"], state=-0.0, unit="", sender=""),
        reading(import_id=ids["punctuation"], state=0, time="2024-01-01T01:00:00.987+01:00"),
    ]
    messages = [schema_message("readings")]
    messages += [{"type": "RECORD", "stream": "readings", "record": r} for r in records]
    run = run_target(tmp_path, target_config(sb), messages)
    assert run.returncode == 0, run.stderr[-2000:]
    stored = {
        r["import_id"]: r for r in sb.records("readings") if r["import_id"].startswith(prefix)
    }
    assert set(stored) == set(ids.values())
    assert stored[ids["unicode"]]["state"] == 1e308
    # fractional seconds truncated, the offset applied
    assert stored[ids["punctuation"]]["time"] == "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        (["{not json"], ("line 1", "JSON")),
        (['{"type": "RECORD", "stream": "readings", "record": {"state": NaN}}'], ("line 1",)),
        (['{"type": "RECORD", "stream": "readings", "record": {"state": Infinity}}'], ("line 1",)),
        (["[1, 2]"], ("line 1", "object")),
        (['{"stream": "readings"}'], ("line 1", "type")),
        (
            ['{"type": "RECORD", "stream": "readings", "record": {"time": "x"}}'],
            ("readings", "schema"),
        ),
    ],
    ids=["malformed", "nan-literal", "infinity-literal", "not-object", "no-type", "before-schema"],
)
def test_malformed_singer_lines_stop_with_one_line(
    sb: Sandbox, tmp_path: Path, lines: list[str], words: tuple[str, ...]
) -> None:
    line = error_line(run_target(tmp_path, target_config(sb), lines))
    assert all(w in line for w in words), line


def test_unknown_message_types_are_skipped_with_a_warning(sb: Sandbox, tmp_path: Path) -> None:
    prefix = f"um{uuid.uuid4().hex[:6]}"
    messages = [
        {"type": "BATCH_V9", "stream": "readings"},
        schema_message("readings"),
        {"type": "ACTIVATE_VERSION", "stream": "readings", "version": 1},
        {"type": "RECORD", "stream": "readings", "record": reading(import_id=f"{prefix}-a")},
        {"type": "SOMETHING_NEW"},
        {"type": "STATE", "value": {"ok": 1}},
    ]
    run = run_target(tmp_path, target_config(sb), messages)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "BATCH_V9" in run.stderr and "SOMETHING_NEW" in run.stderr
    assert [r["import_id"] for r in sb.records("readings") if r["import_id"].startswith(prefix)]
    assert run.states == [{"ok": 1}]


def test_records_violating_their_schema(sb: Sandbox, tmp_path: Path) -> None:
    typed = {
        "type": "SCHEMA",
        "stream": "readings",
        "schema": {
            "type": "object",
            "properties": {
                "time": {"type": "string", "format": "date-time"},
                "state": {"type": "number"},
                "import_id": {"type": "string"},
            },
        },
        "key_properties": ["import_id", "time"],
    }
    bad = {"type": "RECORD", "stream": "readings", "record": reading(state="not a number")}
    plain = error_line(run_target(tmp_path, target_config(sb), [typed, bad]))
    assert "state" in plain and "import_id=bad-r" in plain


def test_schema_validation_error_names_stream_and_key(sb: Sandbox, tmp_path: Path) -> None:
    typed = {
        "type": "SCHEMA",
        "stream": "readings",
        "schema": {"type": "object", "properties": {"state": {"type": "number"}}},
        "key_properties": [],
    }
    bad = {"type": "RECORD", "stream": "readings", "record": reading(state="not a number")}
    run = run_target(tmp_path, target_config(sb, validate_records=True), [typed, bad])
    line = error_line(run)
    assert "stream readings" in line and "import_id=bad-r" in line, line
    assert "SCHEMA: state:" in line, line
    assert "Traceback" not in run.stderr, run.stderr[-2000:]


def test_schema_validation_rejects_under_on_invalid_reject(sb: Sandbox, tmp_path: Path) -> None:
    # "site" means nothing to the contract: only the tap's SCHEMA can refuse it
    prefix = f"sv{uuid.uuid4().hex[:6]}"
    typed = {
        "type": "SCHEMA",
        "stream": "readings",
        "schema": {"type": "object", "properties": {"site": {"type": "integer"}}},
        "key_properties": [],
    }
    bad = reading(import_id=f"{prefix}-bad", site="north")
    good = reading(import_id=f"{prefix}-ok", site=7)
    rejects = tmp_path / "rejects.jsonl"
    config = target_config(
        sb, validate_records=True, on_invalid="reject", rejects_path=str(rejects)
    )
    messages = [
        typed,
        *({"type": "RECORD", "stream": "readings", "record": r} for r in (bad, good)),
    ]
    run = run_target(tmp_path, config, messages)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    entries = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert [(e["stream"], e["key"]) for e in entries] == [
        ("readings", f"import_id={prefix}-bad time={PAST}")
    ]
    assert "SCHEMA: site:" in entries[0]["reason"], entries[0]["reason"]
    stored = [r["import_id"] for r in sb.records("readings") if r["import_id"].startswith(prefix)]
    assert stored == [f"{prefix}-ok"]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"customer_id": None}, ("bad config", "customer_id")),
        ({"max_concurrency": "many"}, ("bad config", "max_concurrency")),
        ({"max_retries": -1}, ("bad config", "max_retries")),
        ({"request_timeout": 0}, ("bad config", "request_timeout")),
        ({"verify_tls": "yes"}, ("bad config", "verify_tls")),
        ({"on_invalid": "ignore"}, ("bad config", "on_invalid")),
        ({"api_url": "ftp://example.org"}, ("bad config", "api_url")),
        ({"api_url": "not a url"}, ("bad config", "api_url")),
        ({"api_url": "http://127.0.0.1:9"}, ("127.0.0.1:9",)),
        ({"import_token": "imp_wrong_token_1234567890"}, ("401", "import_token")),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else None,
)
def test_invalid_config_stops_with_one_line(
    sb: Sandbox, tmp_path: Path, overrides: dict[str, Any], words: tuple[str, ...]
) -> None:
    config = {k: v for k, v in {**target_config(sb, max_retries=1), **overrides}.items()}
    config = {k: v for k, v in config.items() if v is not None}
    messages = [schema_message("readings"), {"type": "RECORD", "stream": "readings",
                                             "record": reading(import_id="cfg")}]  # fmt: skip
    run = run_target(tmp_path, config, messages)
    line = error_line(run)
    assert all(w in line for w in words), line
    assert "imp_wrong_token_1234567890" not in run.stderr
