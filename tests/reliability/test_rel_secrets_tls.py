"""Secrets never leave the process (DEBUG logs, errors, STATE, catalogs, rejects); TLS is
verified unless a setting turns it off."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.chaos_proxy import ChaosProxy
from tests.reliability.workload import schema_message
from tests.support.sandbox import Sandbox, tap_config, target_config
from tests.tap.tap_runner import TAP_COMMAND, discover, run_tap, select
from tests.target.target_cli_helpers import FATAL_PREFIX, TARGET_CLI, run_target

pytestmark = pytest.mark.slow
DEBUG = {"LOGLEVEL": "DEBUG", "TAP_ENECTIVA_LOGLEVEL": "DEBUG", "TARGET_ENECTIVA_LOGLEVEL": "DEBUG"}
JWT_PREFIX = "eyJ"  # every JWT (an access token) starts with the base64 of '{"'


@pytest.fixture(scope="module")
def sb(make_sandbox: Any) -> Sandbox:
    return make_sandbox(seed="demo", seed_size="7x2x3600", page_size=20, token_lifetime=2)


def leaks(text: str, secrets: list[str]) -> list[str]:
    found = [s[:8] + "..." for s in secrets if s and s in text]
    if JWT_PREFIX in text:
        found.append("an access token (JWT)")
    return found


def test_tap_at_debug_leaks_no_token(sb: Sandbox, tmp_path: Path, monkeypatch) -> None:
    for name, value in DEBUG.items():
        monkeypatch.setenv(name, value)
    config = tap_config(sb, data_series_ids=sb.creds["data_series_ids"], max_retries=10)
    catalog = discover(tmp_path, config)
    sb.set_faults(fail_rate=0.2)  # retry paths log too
    try:
        run = run_tap(tmp_path, config, catalog=select(catalog, {"meters", "readings"}))
    finally:
        sb.set_faults(fail_rate=0)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "DEBUG" in run.stderr, "the run did not log at DEBUG"
    assert run.records("readings") and run.states
    # the switch path: login_token expired, login_token_secondary valid
    second = dict(config, login_token_secondary=sb.creds["login_token_secondary"])
    sb.expire_token("login_primary")
    try:
        switched = run_tap(tmp_path, second, catalog=select(catalog, {"meters", "readings"}))
    finally:
        sb.set_token_window("login_primary")  # open again for the other tests
    assert switched.returncode == 0, switched.stderr[-2000:]
    assert "using login_token_secondary" in switched.stderr
    # both refused: the fatal line names both settings, never their values
    wrong = dict(
        config,
        login_token="login_" + "f" * 48,
        login_token_secondary="login_" + "e" * 48,
    )
    refused = run_tap(tmp_path, wrong, catalog=select(catalog, {"meters"}))
    assert refused.returncode != 0
    assert "login_token_secondary" in refused.stderr
    secrets = [
        sb.creds["login_token"],
        sb.creds["login_token_secondary"],
        wrong["login_token"],
        wrong["login_token_secondary"],
    ]
    outputs = [run, switched, refused]
    everything = "\n".join([json.dumps(catalog)] + [o.stdout + o.stderr for o in outputs])
    assert not leaks(everything, secrets)


def test_target_at_debug_leaks_no_token(sb: Sandbox, tmp_path: Path) -> None:
    prefix = f"sc{uuid.uuid4().hex[:6]}"
    rejects = tmp_path / "rejects.jsonl"
    messages: list[Any] = [schema_message("readings"), schema_message("invoices")]
    for n in range(60):
        messages.append(
            {
                "type": "RECORD",
                "stream": "readings",
                "record": {
                    "time": f"2024-01-01T{n // 60:02d}:{n % 60:02d}:00Z",
                    "state": float(n),
                    "import_id": f"{prefix}-{n % 3}",
                },
            }
        )
    messages.append(
        {"type": "RECORD", "stream": "readings", "record": {"time": "x", "import_id": "bad"}}
    )
    for n in range(6):
        messages.append(
            {
                "type": "RECORD",
                "stream": "invoices",
                "record": {
                    "meter_id": sb.creds["meter_ids"][0],
                    "from": f"1999-{n + 1:02d}-01",
                    "to": f"1999-{n + 1:02d}-20",
                    "cost": 1.0 + n,
                    "note": prefix,
                },
            }
        )
    messages.append({"type": "STATE", "value": {"pos": len(messages)}})
    config = target_config(
        sb, on_invalid="reject", rejects_path=str(rejects), max_retries=10, max_concurrency=4
    )
    sb.set_faults(fail_rate=0.2)
    try:
        run = run_target(tmp_path, config, messages, env=DEBUG)
    finally:
        sb.set_faults(fail_rate=0)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "DEBUG" in run.stderr, "the run did not log at DEBUG"
    wrong = dict(config, import_token="imp_" + "e" * 48, login_token="login_" + "e" * 48)
    refused = run_target(tmp_path, wrong, messages, env=DEBUG)
    assert refused.returncode != 0
    secrets = [sb.creds["import_token"], sb.creds["login_token"]]
    secrets += [wrong["import_token"], wrong["login_token"]]
    everything = "\n".join(
        [run.stdout, run.stderr, refused.stdout, refused.stderr, rejects.read_text("utf-8")]
    )
    assert not leaks(everything, secrets)


# ---------- TLS ----------


@pytest.fixture(scope="module")
def tls_proxy(sb: Sandbox, tmp_path_factory: pytest.TempPathFactory):
    """The sandbox behind a TLS proxy with a self-signed certificate for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with ChaosProxy(sb.url, ssl_context=context) as proxy:
        yield proxy


def _about(command: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [*command, "--about", "--format", "json"], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("command", [TAP_COMMAND, [TARGET_CLI]], ids=["tap", "target"])
def test_verify_tls_defaults_to_true(command: list[str]) -> None:
    setting = _about(command)["settings"]["properties"]["verify_tls"]
    assert setting.get("default") is True
    assert setting.get("description")


def test_tap_refuses_a_self_signed_certificate_unless_told(
    sb: Sandbox, tls_proxy: ChaosProxy, tmp_path: Path
) -> None:
    plain = tap_config(sb)
    catalog = select(discover(tmp_path, plain), {"meters"})
    config = dict(plain, api_url=tls_proxy.url, max_retries=1)
    refused = run_tap(tmp_path, config, catalog=catalog)
    assert refused.returncode != 0
    errors = [line for line in refused.stderr.splitlines() if "tap-enectiva: error:" in line]
    assert len(errors) == 1, refused.stderr[-2000:]
    assert "certificate" in errors[0].lower() or "tls" in errors[0].lower(), errors[0]
    assert "verify_tls" in errors[0], f"the error should name the setting: {errors[0]}"
    allowed = run_tap(tmp_path, dict(config, verify_tls=False), catalog=catalog)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert allowed.records("meters")


def test_target_refuses_a_self_signed_certificate_unless_told(
    sb: Sandbox, tls_proxy: ChaosProxy, tmp_path: Path
) -> None:
    prefix = f"tl{uuid.uuid4().hex[:6]}"
    rec = {"time": "2024-01-01T00:00:00Z", "state": 1.0, "import_id": prefix}
    messages = [schema_message("readings"), {"type": "RECORD", "stream": "readings", "record": rec}]
    config = target_config(sb, api_url=tls_proxy.url, max_retries=1)
    refused = run_target(tmp_path, config, messages)
    assert refused.returncode != 0
    line = next(x for x in refused.stderr.splitlines() if x.startswith(FATAL_PREFIX))
    assert "certificate" in line.lower() or "ssl" in line.lower(), line
    allowed = run_target(tmp_path, dict(config, verify_tls=False), messages)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert any(r["import_id"] == prefix for r in sb.records("readings"))


def test_target_certificate_error_says_what_to_do(
    sb: Sandbox, tls_proxy: ChaosProxy, tmp_path: Path
) -> None:
    rec = {"time": "2024-01-01T00:00:00Z", "state": 1.0, "import_id": "tls-hint"}
    messages = [schema_message("readings"), {"type": "RECORD", "stream": "readings", "record": rec}]
    config = target_config(sb, api_url=tls_proxy.url, max_retries=2)
    refused = run_target(tmp_path, config, messages)
    line = next(x for x in refused.stderr.splitlines() if x.startswith(FATAL_PREFIX))
    assert "TLS certificate not accepted" in line and "verify_tls: false" in line, line
    assert "retries" not in line and refused.summary("readings")["retried"] == 0, line


def test_cli_python_is_this_venv() -> None:
    # the plugins under test are the ones of this checkout, not another install
    assert Path(TARGET_CLI).parent == Path(sys.executable).parent
    assert os.path.exists(TARGET_CLI)


def test_target_switching_tokens_at_debug_leaks_no_token(make_sandbox: Any, tmp_path: Path) -> None:
    # both first tokens expired at start: the run switches to both second tokens (imports and
    # invoices), renews short-lived access tokens, rejects a record; then a run where every
    # token is refused. No token value appears in output, STATE or rejects.
    sb = make_sandbox(
        seed="demo",
        seed_size="7x2x3600",
        token_lifetime=2,
        expired_tokens=["import_primary", "login_primary"],
    )
    prefix = f"sw{uuid.uuid4().hex[:6]}"
    rejects = tmp_path / "rejects.jsonl"
    messages: list[Any] = [schema_message("readings"), schema_message("invoices")]
    for n in range(40):
        rec = {
            "time": f"2024-01-01T00:{n:02d}:00Z",
            "state": float(n),
            "import_id": f"{prefix}-{n % 4}",
        }
        messages.append({"type": "RECORD", "stream": "readings", "record": rec})
    dup = {"time": "2024-01-01T00:00:00Z", "state": 99.0, "import_id": f"{prefix}-0"}
    messages.append({"type": "RECORD", "stream": "readings", "record": dup})  # a correction
    for n in range(4):
        invoice = {
            "meter_id": sb.creds["meter_ids"][0],
            "from": f"1998-{n + 1:02d}-01",
            "to": f"1998-{n + 1:02d}-20",
            "cost": 1.0 + n,
            "note": prefix,
        }
        messages.append({"type": "RECORD", "stream": "invoices", "record": invoice})
    overlapping = dict(invoice, cost=5.0)  # the same range again: 409 overlap, rejected
    messages.append({"type": "RECORD", "stream": "invoices", "record": overlapping})
    messages.append({"type": "STATE", "value": {"pos": len(messages)}})
    config = target_config(
        sb,
        import_token_secondary=sb.creds["import_token_secondary"],
        login_token_secondary=sb.creds["login_token_secondary"],
        on_invalid="reject",
        rejects_path=str(rejects),
        max_concurrency=4,
    )
    run = run_target(tmp_path, config, messages, env=DEBUG)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "DEBUG" in run.stderr, "the run did not log at DEBUG"
    switches = [x for x in run.stderr.splitlines() if "| WARNING" in x and "rest of the run" in x]
    assert len(switches) == 2, switches  # one per token kind
    sb.expire_token("import_secondary")
    sb.expire_token("login_secondary")
    refused = run_target(tmp_path, config, messages, env=DEBUG)
    assert refused.returncode != 0
    secrets = [
        sb.creds[name]
        for name in (
            "import_token",
            "import_token_secondary",
            "login_token",
            "login_token_secondary",
        )
    ]
    everything = "\n".join(
        [run.stdout, run.stderr, refused.stdout, refused.stderr, rejects.read_text("utf-8")]
    )
    assert not leaks(everything, secrets)
