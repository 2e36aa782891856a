"""The SDK's standard target tests that apply to an API target.

The standard suites send arbitrary stream names (``test_camelcase``, ...), which map to no
Enectiva record kind, so they run with ``unknown_streams: skip``: they check that the target
reads every kind of Singer input cleanly, refuses RECORD before SCHEMA and a record missing a
key property, and prints its about/version information. Left out, as in MeltanoLabs'
target-postgres for what does not apply: ``multiple_state_messages`` pins the SDK's
drain-driven STATE timing (this target releases STATE by acknowledgement instead, tested in
test_cli.py) and ``invalid_schema`` expects a failure from SCHEMA validation, which only
applies when ``validate_records`` is on.
"""

from __future__ import annotations

from singer_sdk.testing import get_target_test_class, target_tests
from singer_sdk.testing.suites import SingerTestSuite
from target_enectiva.target import TargetEnectiva

STANDARD_CONFIG = {
    "api_url": "http://127.0.0.1:9",  # never contacted: every stream is skipped
    "customer_id": "00000000-0000-4000-8000-000000000000",
    "import_token": "standard-tests-import-token",
    "unknown_streams": "skip",
}

applicable_suite = SingerTestSuite(
    kind="target",
    tests=[
        getattr(target_tests, name)
        for name in (
            "TargetArrayData",
            "TargetCamelcaseComplexSchema",
            "TargetCamelcaseTest",
            "TargetCliPrintsTest",
            "TargetDuplicateRecords",
            "TargetEncodedStringData",
            "TargetNoPrimaryKeys",
            "TargetOptionalAttributes",
            "TargetPrimaryKeyUpdates",
            "TargetRecordBeforeSchemaTest",
            "TargetRecordMissingKeyProperty",
            "TargetRecordMissingOptionalFields",
            "TargetRecordMissingRequiredProperty",
            "TargetSchemaNoProperties",
            "TargetSchemaUpdates",
            "TargetSpecialCharsInAttributes",
        )
    ],
)

TestTargetEnectivaStandard = get_target_test_class(
    TargetEnectiva,
    config=STANDARD_CONFIG,
    custom_suites=[applicable_suite],
    include_target_tests=False,
)
