"""The target's settings (``--about`` lists them with these descriptions) and how code reads them.

:data:`CONFIG_SCHEMA` is what users set; :class:`TargetSettings` is the same, typed and with
defaults applied, read once from the config by the target and by each sink.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo

from singer_sdk import typing as th

from enectiva import times
from enectiva.local_times import DEFAULT_POLICY, POLICIES, AmbiguityPolicy
from enectiva.network import CA_BUNDLE, CA_BUNDLE_DESCRIPTION, ca_bundle_error
from target_enectiva import DEFAULT_SENDER
from target_enectiva.kinds import KINDS, Kind, kind_of

#: Settings whose values never appear in logs, errors or state.
SECRET_SETTINGS = (
    "import_token",
    "import_token_secondary",
    "login_token",
    "login_token_secondary",
)
KIND_NAMES = list(KINDS)


#: The target's own settings (the SDK's built-in ones are added to a copy).
CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_url",
        th.StringType,
        default="https://api.enectiva.cz",
        description="Base URL of the Enectiva API.",
    ),
    th.Property(
        "customer_id",
        th.StringType,
        required=True,
        description="The customer's UUID (the {customerId} of the import paths).",
    ),
    th.Property(
        "import_token",
        th.StringType,
        secret=True,
        description="Import token: readings, data points and profiles (and their deletes).",
    ),
    th.Property(
        "import_token_secondary",
        th.StringType,
        secret=True,
        description=(
            "A second import token of the customer: used for the rest of the run once "
            "import_token is refused (401), e.g. expired."
        ),
    ),
    th.Property(
        "login_token",
        th.StringType,
        secret=True,
        description="Login token, exchanged for access tokens; only needed for invoices.",
    ),
    th.Property(
        "login_token_secondary",
        th.StringType,
        secret=True,
        description=(
            "A second login token of the customer: used for the rest of the run once "
            "login_token is refused (401), e.g. expired."
        ),
    ),
    th.Property(
        "sender",
        th.StringType,
        default=DEFAULT_SENDER,
        description="Written into each record's `sender` unless the record has one.",
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType(minimum=1, maximum=256),
        default=32,
        description=(
            "Most requests in flight; within it each token is paced from the API's budget "
            "headers, or just under the rate learned from 429s."
        ),
    ),
    th.Property(
        "request_timeout",
        th.NumberType(exclusive_minimum=0),
        default=60,
        description="Seconds one request may take before it is retried.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0),
        default=8,
        description="Retries of one request after 5xx, timeouts or dropped connections.",
    ),
    th.Property(
        "on_invalid",
        th.StringType(allowed_values=["fail", "reject"]),
        default="fail",
        description=(
            "A record breaking a rule (client-side check or the API's 400/409 overlap/404 "
            "on create): `fail` stops the run naming it; `reject` writes it to "
            "`rejects_path` and goes on."
        ),
    ),
    th.Property(
        "rejects_path",
        th.StringType,
        description="JSON Lines file receiving rejected records (on_invalid: reject).",
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        description="Validate every record, send nothing, emit no STATE.",
    ),
    th.Property(
        "skip_already_imported",
        th.BooleanType,
        default=False,
        description=(
            "Ask the latest endpoint once per series and skip creates strictly before it "
            "(readings/data points by time, profiles by from); never deletes or invoices."
        ),
    ),
    th.Property(
        "input_time_zone",
        th.StringType,
        description=(
            "IANA zone for times written without an offset; unset: such times are refused."
        ),
    ),
    th.Property(
        "ambiguous_local_times",
        th.StringType(allowed_values=list(POLICIES)),
        default=DEFAULT_POLICY,
        description=(
            "A local time that occurs twice (clocks go back): `infer` takes the first "
            "occurrence unless the series' previous record is at or after it; `earliest` / "
            "`latest` always take that one; `refuse` makes it an invalid record."
        ),
    ),
    th.Property(
        "stream_kinds",
        th.ObjectType(additional_properties=th.StringType(allowed_values=KIND_NAMES)),
        description=(
            "Maps other stream names onto a record kind "
            "(readings, data_points, profiles, invoices)."
        ),
    ),
    th.Property(
        "unknown_streams",
        th.StringType(allowed_values=["fail", "skip"]),
        default="fail",
        description="A stream mapping to no kind: `fail` stops the run, `skip` warns.",
    ),
    th.Property(
        "verify_tls",
        th.BooleanType,
        default=True,
        description="Verify the API's TLS certificate.",
    ),
    th.Property(
        CA_BUNDLE,
        th.StringType,
        description=CA_BUNDLE_DESCRIPTION,
    ),
    th.Property(
        "validate_records",
        th.BooleanType,
        default=False,
        description=(
            "Also validate records against the tap's SCHEMA (the contract's rules are "
            "always checked)."
        ),
    ),
).to_dict()


def _value(config: Mapping[str, t.Any], name: str) -> t.Any:
    """A setting's value, or its default from :data:`CONFIG_SCHEMA`."""
    value = config.get(name)
    if value is None:
        return CONFIG_SCHEMA["properties"].get(name, {}).get("default")
    return value


@dataclass(frozen=True)
class TargetSettings:
    """The settings of one run, typed, defaults applied."""

    api_url: str
    customer_id: str
    import_token: str | None
    import_token_secondary: str | None
    login_token: str | None
    login_token_secondary: str | None
    sender: str
    max_concurrency: int
    request_timeout: float
    max_retries: int
    reject_invalid: bool  # on_invalid: reject
    rejects_path: str | None
    dry_run: bool
    skip_already_imported: bool
    input_time_zone: tzinfo | None  # None: times without offset are refused
    ambiguous_local_times: AmbiguityPolicy
    stream_kinds: Mapping[str, str]
    skip_unknown_streams: bool  # unknown_streams: skip
    verify_tls: bool
    ca_bundle: str | None  # PEM file of the CA(s) to trust instead of the default ones
    validate_records: bool
    secrets: tuple[str, ...] = field(repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> TargetSettings:
        tz_name = config.get("input_time_zone")
        return cls(
            api_url=str(_value(config, "api_url")),
            customer_id=str(_value(config, "customer_id")),
            import_token=config.get("import_token"),
            import_token_secondary=config.get("import_token_secondary"),
            login_token=config.get("login_token"),
            login_token_secondary=config.get("login_token_secondary"),
            sender=str(_value(config, "sender")),
            max_concurrency=int(_value(config, "max_concurrency")),
            request_timeout=float(_value(config, "request_timeout")),
            max_retries=int(_value(config, "max_retries")),
            reject_invalid=_value(config, "on_invalid") == "reject",
            rejects_path=config.get("rejects_path"),
            dry_run=bool(_value(config, "dry_run")),
            skip_already_imported=bool(_value(config, "skip_already_imported")),
            input_time_zone=times.zone(tz_name) if tz_name else None,
            ambiguous_local_times=_value(config, "ambiguous_local_times"),
            stream_kinds=dict(config.get("stream_kinds") or {}),
            skip_unknown_streams=_value(config, "unknown_streams") == "skip",
            verify_tls=bool(_value(config, "verify_tls")),
            ca_bundle=config.get(CA_BUNDLE) or None,
            validate_records=bool(_value(config, "validate_records")),
            secrets=secrets_of(config),
        )

    def kind_of(self, stream_name: str) -> Kind | None:
        """The record kind a stream loads as (``stream_kinds`` first, then its own name)."""
        return kind_of(stream_name, self.stream_kinds)


def secrets_of(config: Mapping[str, t.Any]) -> tuple[str, ...]:
    """The secret settings' values (to redact from any message)."""
    return tuple(str(config.get(s) or "") for s in SECRET_SETTINGS)


def setting_errors(config: Mapping[str, t.Any]) -> list[str]:
    """What the JSON Schema of the settings cannot say."""
    out = []
    api_url = str(_value(config, "api_url") or "")
    if not api_url.startswith(("http://", "https://")):
        out.append("api_url must start with http:// or https://")
    if _value(config, "on_invalid") == "reject" and not config.get("rejects_path"):
        out.append("on_invalid: reject needs rejects_path (where rejected records go)")
    if _value(config, "verify_tls"):
        ca_error = ca_bundle_error(config.get(CA_BUNDLE))
        if ca_error:
            out.append(ca_error)
    tz_name = config.get("input_time_zone")
    if tz_name:
        try:
            times.zone(tz_name)
        except ValueError as exc:
            out.append(f"input_time_zone: {exc}")
    return out
