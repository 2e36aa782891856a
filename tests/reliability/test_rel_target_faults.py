"""The target under mixed faults at 1%, 10% and 30%: nothing lost, nothing stored twice."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.chaos_proxy import ChaosProxy
from tests.reliability.faults import RATES, apply_mix, fault_total, injected, rate_id, rate_label
from tests.reliability.figures import record_run
from tests.reliability.workload import build_workload, compare, expected, owned_by
from tests.support.sandbox import Sandbox, target_config
from tests.target.target_cli_helpers import TARGET_CLI, write_config

pytestmark = pytest.mark.slow
KINDS = ("readings", "data_points", "profiles", "invoices")


@pytest.fixture(scope="module")
def sb_and_proxy(make_sandbox: Any):
    sb = make_sandbox(seed="demo", seed_size="7x2x3600", token_lifetime=2)
    with ChaosProxy(sb.url, seed=7, slow_seconds=3.0) as proxy:
        yield sb, proxy


@pytest.mark.parametrize("rate", RATES, ids=rate_id)
def test_target_loses_and_doubles_nothing_under_faults(
    sb_and_proxy: tuple[Sandbox, ChaosProxy], tmp_path: Path, rate: float
) -> None:
    sb, proxy = sb_and_proxy
    prefix = f"tf{uuid.uuid4().hex[:6]}"
    work = build_workload(
        prefix,
        seed=int(rate * 1000),
        readings=480,
        series=12,
        data_points=60,
        profiles=40,
        invoice_meters=sb.creds["meter_ids"][:3],
        invoices_per_meter=10,
        invoice_year=2000 + 2 * RATES.index(rate),  # each run its own invoice ranges
        corrections=8,
    )
    sb.reset_stats()
    proxy.counts.clear()
    proxy.requests = 0
    apply_mix(sb, proxy, rate)
    config = target_config(
        sb,
        api_url=proxy.url,
        max_retries=15,
        request_timeout=2,
        max_concurrency=16,
        sender="reliability",
    )
    try:
        done = subprocess.run(
            [TARGET_CLI, "--config", str(write_config(tmp_path, config))],
            input=work.lines(),
            capture_output=True,
            text=True,
            timeout=400,
            check=False,
        )
    finally:
        faults = injected(sb, proxy)
        requests = proxy.requests
        sb.set_faults(fail_rate=0, drop_rate=0, rate_limit=None)
        proxy.set_rates(**dict.fromkeys(proxy.rates, 0.0))
    results = {
        kind: compare(sb, kind, expected(work, kind), owned_by(prefix, kind)) for kind in KINDS
    }
    lost = sum(len(c.lost) + len(c.wrong) for c in results.values())
    duplicated = sum(len(c.duplicated) + len(c.unexpected) for c in results.values())
    record_run(
        "target faults",
        rate=rate_label(rate),
        faults=faults,
        records_checked=sum(c.checked for c in results.values()),
        lost=lost,
        duplicated=duplicated,
        requests=requests,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for kind, comparison in results.items():
        assert comparison.ok, f"{kind}: {comparison.describe()}"
    states = [line for line in done.stdout.splitlines() if line.strip()]
    assert states and states[-1] == f'{{"pos":{len(work.records)}}}', states[-3:]
    if rate >= 0.10:
        assert fault_total(faults) > 0, faults
