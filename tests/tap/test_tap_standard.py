"""The Singer SDK's standard tap tests, against the shared sandbox (page size 50)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_enectiva.tap import TapEnectiva

from tests.support.sandbox import session_sandbox, tap_config

# The SDK builds the tap and discovers streams at collection time: the sandbox must run now.
_SANDBOX = session_sandbox()
_START = (datetime.now(UTC) - timedelta(days=4)).strftime("%Y-%m-%dT00:00:00Z")

CONFIG = tap_config(
    _SANDBOX,
    start_date=_START,
    data_series_ids=_SANDBOX.creds["data_series_ids"],
    virtual_meter_ids=_SANDBOX.creds["virtual_meter_ids"],
)

TestTapEnectiva = get_tap_test_class(
    TapEnectiva,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=100),
)
