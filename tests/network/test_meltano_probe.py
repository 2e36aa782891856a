"""Meltano's loader test stream (``meltano config test target-enectiva``) against the sandbox:
the real target CLI checks its credentials, writes nothing, and fails in one line naming the
setting to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.network.probe_messages import PROBE_MESSAGES
from tests.support.sandbox import Sandbox, target_config
from tests.target.target_cli_helpers import FATAL_PREFIX, run_target

UNKNOWN_CUSTOMER = "00000000-0000-4000-8000-000000000000"


def test_valid_credentials_pass_and_write_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    before = {kind: len(sandbox.records(kind)) for kind in ("readings", "invoices")}
    run = run_target(tmp_path, target_config(sandbox), PROBE_MESSAGES)
    assert run.returncode == 0, run.stderr[-3000:]
    # Meltano's verdict: exit 0 and no output line mentioning an error or an exception.
    output = (run.stdout + run.stderr).lower()
    assert not [x for x in output.splitlines() if "error" in x or "exception" in x]
    assert "import_token and login_token accepted" in run.stderr
    assert {kind: len(sandbox.records(kind)) for kind in before} == before


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"import_token": "imp_" + "1" * 48}, "check import_token"),
        ({"login_token": "login_" + "1" * 48}, "check login_token"),
        ({"customer_id": UNKNOWN_CUSTOMER}, "check customer_id"),
        ({"import_token": None, "login_token": None}, "set import_token"),
    ],
    ids=["import_token", "login_token", "customer_id", "no-token"],
)
def test_a_refusal_is_one_line_naming_the_setting(
    sandbox: Sandbox, tmp_path: Path, overrides: dict[str, Any], named: str
) -> None:
    config = {k: v for k, v in {**target_config(sandbox), **overrides}.items() if v is not None}
    run = run_target(tmp_path, config, PROBE_MESSAGES)
    assert run.returncode == 1
    lines = [x for x in run.stderr.splitlines() if x.startswith(FATAL_PREFIX)]
    assert len(lines) == 1, run.stderr[-3000:]
    assert named in lines[0] and "meltano_test_stream" in lines[0], lines[0]
    assert "Traceback" not in run.stderr and run.states == []
    for secret in (overrides.get("import_token"), overrides.get("login_token")):
        assert not secret or secret not in run.stderr
