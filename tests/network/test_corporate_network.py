"""A corporate network with real parts: the sandbox over HTTPS with a certificate of a private
CA made here (trustme), reached through a real forward proxy with basic auth (proxy.py), by
the real tap and target CLIs with ``HTTPS_PROXY`` and ``ca_bundle``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.network.forward_proxy import ForwardProxy
from tests.network.probe_messages import PROBE_MESSAGES
from tests.support.sandbox import Sandbox, tap_config, target_config
from tests.tap.tap_runner import TapRun, tap_args
from tests.target.target_cli_helpers import FATAL_PREFIX, Run, run_target, schema

pytestmark = pytest.mark.slow

PROXY_USER = "proxyuser"
PROXY_PASSWORD = f"pw{uuid.uuid4().hex[:16]}"
DEBUG = {"LOGLEVEL": "DEBUG", "TAP_ENECTIVA_LOGLEVEL": "DEBUG", "TARGET_ENECTIVA_LOGLEVEL": "DEBUG"}
#: The proxy variables of the test process itself stay out of the runs.
_PROXY_VARIABLES = {"https_proxy", "http_proxy", "all_proxy", "no_proxy"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corporate")


@pytest.fixture(scope="module")
def ca_file(folder: Path) -> str:
    """A private CA's certificate (PEM); the sandbox's certificate is signed by it."""
    return str(folder / "ca.pem")


@pytest.fixture(scope="module")
def tls_sandbox(make_sandbox: Any, folder: Path, ca_file: str) -> Sandbox:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(ca_file)
    server = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = folder / "server.pem", folder / "server.key"
    server.private_key_and_cert_chain_pem.write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    sb = make_sandbox(
        seed="demo", seed_size="3x2x3600", ssl_certfile=cert, ssl_keyfile=key, ca_bundle=ca_file
    )
    assert sb.url.startswith("https://127.0.0.1:"), sb.url
    return sb


@pytest.fixture(scope="module")
def proxy(folder: Path) -> Iterator[ForwardProxy]:
    with ForwardProxy(folder, PROXY_USER, PROXY_PASSWORD) as running:
        yield running


def network_env(proxy: ForwardProxy, **extra: str) -> dict[str, str]:
    """The environment of a run: the proxy with its credentials, nothing of the test's own."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARIABLES}
    return {**env, "HTTPS_PROXY": proxy.url(), **DEBUG, **extra}


def run_tap_in(tmp_path: Path, config: dict[str, Any], env: dict[str, str]) -> TapRun:
    """The real tap CLI syncing ``meters`` (token exchange plus one list) in ``env``."""
    catalog = {"streams": []}  # filled below from the tap's own discovery
    discover = subprocess.run(
        [*tap_args(tmp_path, config), "--discover"], capture_output=True, text=True, env=env
    )
    assert discover.returncode == 0, discover.stderr[-2000:]
    catalog = json.loads(discover.stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == "meters"
    done = subprocess.run(
        tap_args(tmp_path, config, catalog=catalog), capture_output=True, text=True, env=env
    )
    return TapRun(done.returncode, done.stdout, done.stderr)


def target_messages(sb: Sandbox) -> list[dict[str, Any] | str]:
    """A reading (import token) and an invoice (login token: the access-token exchange)."""
    prefix = f"net{uuid.uuid4().hex[:8]}"
    # invoices of a meter must not overlap: each run gets its own three days
    start = date(1960, 1, 1) + timedelta(days=4 * (int(prefix[3:], 16) % 5000))
    return [
        schema("readings"),
        schema("invoices"),
        {
            "type": "RECORD",
            "stream": "readings",
            "record": {"time": "2024-01-01T00:00:00Z", "state": 1.0, "import_id": prefix},
        },
        {
            "type": "RECORD",
            "stream": "invoices",
            "record": {
                "meter_id": sb.creds["meter_ids"][0],
                "from": start.isoformat(),
                "to": (start + timedelta(days=2)).isoformat(),
                "cost": 12.5,
                "note": prefix,
            },
        },
        {"type": "STATE", "value": {"done": prefix}},
    ]


def fatal_lines(text: str, plugin: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{plugin}: error:")]


def assert_no_proxy_password(*texts: str) -> None:
    for text in texts:
        assert PROXY_PASSWORD not in text, "the proxy's password was printed"


# ---------- through the proxy, trusting the private CA ----------


def test_tap_through_the_proxy_with_ca_bundle(
    tls_sandbox: Sandbox, proxy: ForwardProxy, ca_file: str, tmp_path: Path
) -> None:
    mark = proxy.mark()
    run = run_tap_in(tmp_path, tap_config(tls_sandbox, ca_bundle=ca_file), network_env(proxy))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.records("meters")
    assert "DEBUG" in run.stderr, "the run did not log at DEBUG"
    connects = proxy.wait_for_connects(mark, f"127.0.0.1:{tls_sandbox.port}")
    assert set(connects) == {f"127.0.0.1:{tls_sandbox.port}"}, connects
    assert_no_proxy_password(run.stdout, run.stderr)


def test_target_through_the_proxy_with_ca_bundle(
    tls_sandbox: Sandbox, proxy: ForwardProxy, ca_file: str, tmp_path: Path
) -> None:
    messages = target_messages(tls_sandbox)
    prefix = messages[-1]["value"]["done"]  # type: ignore[index]
    mark = proxy.mark()
    config = target_config(tls_sandbox, ca_bundle=ca_file)
    run = run_target(tmp_path, config, messages, env=network_env(proxy))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"done": prefix}]
    assert any(r["import_id"] == prefix for r in tls_sandbox.records("readings"))
    assert any(r.get("note") == prefix for r in tls_sandbox.records("invoices"))
    assert "DEBUG" in run.stderr, "the run did not log at DEBUG"
    connects = proxy.wait_for_connects(mark, f"127.0.0.1:{tls_sandbox.port}")
    assert set(connects) == {f"127.0.0.1:{tls_sandbox.port}"}, connects
    assert_no_proxy_password(run.stdout, run.stderr)


# ---------- the private CA not trusted: one line naming ca_bundle ----------


def test_tap_without_ca_bundle_names_the_setting(
    tls_sandbox: Sandbox, proxy: ForwardProxy, tmp_path: Path
) -> None:
    run = run_tap_in(tmp_path, tap_config(tls_sandbox, max_retries=1), network_env(proxy))
    assert run.returncode == 1
    lines = fatal_lines(run.stderr, "tap-enectiva")
    assert len(lines) == 1, run.stderr[-3000:]
    assert "ca_bundle" in lines[0] and "TLS certificate" in lines[0], lines[0]
    assert "Traceback" not in run.stderr
    assert_no_proxy_password(run.stdout, run.stderr)


def test_target_without_ca_bundle_names_the_setting(
    tls_sandbox: Sandbox, proxy: ForwardProxy, tmp_path: Path
) -> None:
    config = target_config(tls_sandbox, max_retries=1)
    run = run_target(tmp_path, config, target_messages(tls_sandbox), env=network_env(proxy))
    assert run.returncode == 1
    lines = fatal_lines(run.stderr, "target-enectiva")
    assert len(lines) == 1, run.stderr[-3000:]
    assert "ca_bundle" in lines[0] and "TLS certificate" in lines[0], lines[0]
    assert run.states == []
    assert_no_proxy_password(run.stdout, run.stderr)


@pytest.mark.parametrize("plugin", ["tap-enectiva", "target-enectiva"])
def test_a_missing_ca_bundle_is_a_config_error(
    plugin: str, tls_sandbox: Sandbox, proxy: ForwardProxy, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-ca.pem")
    env = network_env(proxy)
    if plugin == "tap-enectiva":
        config = tap_config(tls_sandbox, ca_bundle=missing)
        done = subprocess.run(
            tap_args(tmp_path, config), capture_output=True, text=True, env=env, check=False
        )
        returncode, stderr = done.returncode, done.stderr
    else:
        config = target_config(tls_sandbox, ca_bundle=missing)
        run = run_target(tmp_path, config, target_messages(tls_sandbox), env=env)
        returncode, stderr = run.returncode, run.stderr
    assert returncode == 1
    lines = fatal_lines(stderr, plugin)
    assert len(lines) == 1, stderr[-3000:]
    assert f"ca_bundle {missing}: no such file" in lines[0], lines[0]


# ---------- proxy credentials ----------


@pytest.mark.parametrize("plugin", ["tap-enectiva", "target-enectiva"])
def test_a_refused_proxy_password_is_never_printed(
    plugin: str, tls_sandbox: Sandbox, proxy: ForwardProxy, ca_file: str, tmp_path: Path
) -> None:
    wrong = f"wrong{uuid.uuid4().hex[:12]}"
    env = network_env(proxy, HTTPS_PROXY=proxy.url(password=wrong))
    if plugin == "tap-enectiva":
        run: TapRun | Run = run_tap_in(
            tmp_path, tap_config(tls_sandbox, ca_bundle=ca_file, max_retries=1), env
        )
    else:
        config = target_config(tls_sandbox, ca_bundle=ca_file, max_retries=1)
        run = run_target(tmp_path, config, target_messages(tls_sandbox), env=env)
    assert run.returncode == 1
    lines = fatal_lines(run.stderr, plugin)
    assert len(lines) == 1, run.stderr[-3000:]
    assert "the proxy refused the tunnel" in lines[0] and "407" in lines[0], lines[0]
    assert "check HTTPS_PROXY" in lines[0], lines[0]
    assert wrong not in run.stdout + run.stderr, "the proxy's password was printed"
    assert_no_proxy_password(run.stdout, run.stderr)


# ---------- NO_PROXY ----------


@pytest.mark.parametrize("proxy_up", [True, False], ids=["proxy-up", "proxy-down"])
def test_no_proxy_bypasses_the_proxy(
    proxy_up: bool, tls_sandbox: Sandbox, proxy: ForwardProxy, ca_file: str, tmp_path: Path
) -> None:
    env = network_env(proxy, NO_PROXY="localhost,127.0.0.1")
    if not proxy_up:  # a proxy that would refuse every connection: only a bypass succeeds
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            dead = unused.getsockname()[1]
        env["HTTPS_PROXY"] = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{dead}"
    mark = proxy.mark()
    tap = run_tap_in(tmp_path, tap_config(tls_sandbox, ca_bundle=ca_file), env)
    assert tap.returncode == 0, tap.stderr[-3000:]
    assert tap.records("meters")
    config = target_config(tls_sandbox, ca_bundle=ca_file)
    target = run_target(tmp_path, config, target_messages(tls_sandbox), env=env)
    assert target.returncode == 0, target.stderr[-3000:]
    assert proxy.connects_before_marker(mark, tls_sandbox.url, ca_file) == []


# ---------- meltano config test target-enectiva, on the same network ----------


def test_meltano_probe_through_the_proxy(
    tls_sandbox: Sandbox, proxy: ForwardProxy, ca_file: str, tmp_path: Path
) -> None:
    before = {kind: len(tls_sandbox.records(kind)) for kind in ("readings", "invoices")}
    mark = proxy.mark()
    config = target_config(tls_sandbox, ca_bundle=ca_file)
    run = run_target(tmp_path, config, PROBE_MESSAGES, env=network_env(proxy))
    assert run.returncode == 0, run.stderr[-3000:]
    # Meltano fails the test on any output line that mentions an error or an exception.
    assert not [x for x in (run.stdout + run.stderr).lower().splitlines() if "error" in x]
    assert proxy.wait_for_connects(mark, f"127.0.0.1:{tls_sandbox.port}")
    after = {kind: len(tls_sandbox.records(kind)) for kind in ("readings", "invoices")}
    assert after == before, "the probe wrote records"
    wrong = dict(config, import_token="imp_" + "0" * 48)
    refused = run_target(tmp_path, wrong, PROBE_MESSAGES, env=network_env(proxy))
    assert refused.returncode == 1
    lines = [x for x in refused.stderr.splitlines() if x.startswith(FATAL_PREFIX)]
    assert len(lines) == 1 and "import_token" in lines[0], refused.stderr[-3000:]
    assert wrong["import_token"] not in refused.stderr
    assert_no_proxy_password(run.stdout, run.stderr, refused.stdout, refused.stderr)
