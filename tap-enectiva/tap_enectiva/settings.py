"""The tap's settings (``--about`` lists them with these descriptions) and their readers.

Streams and the authenticator read settings from the config through the functions below,
never through the tap object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any

from singer_sdk import typing as th

from enectiva import network
from enectiva.network import CA_BUNDLE, CA_BUNDLE_DESCRIPTION
from enectiva.times import TimeFormatError, parse_timestamp
from tap_enectiva.errors import TapError

PLUGIN_NAME = "tap-enectiva"
PACKAGE_NAME = "tap-enectiva"
DEFAULT_API_URL = "https://api.enectiva.cz"
DEFAULT_MAX_CONCURRENCY = 8

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_url",
        th.URIType,
        default=DEFAULT_API_URL,
        description="Base URL of the Enectiva API (the sandbox's URL in tests).",
    ),
    th.Property(
        "customer_id",
        th.StringType,
        description="The customer UUID (informational for the read endpoints).",
    ),
    th.Property(
        "login_token",
        th.StringType,
        required=True,
        secret=True,
        description="Long-lived login token, exchanged for short-lived access tokens.",
    ),
    th.Property(
        "login_token_secondary",
        th.StringType,
        secret=True,
        description="A second login token of the same customer: when login_token is refused "
        "(401: expired or revoked), the run goes on with this one and logs one warning.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description="Read readings, data points and deltas from this instant on "
        "(first run; later runs continue from their bookmarks).",
    ),
    th.Property(
        "end_date",
        th.DateTimeType,
        description="Read only records strictly before this instant.",
    ),
    th.Property(
        "meter_ids",
        th.ArrayType(th.StringType),
        description="Only these meters (and their readings and deltas); all when unset.",
    ),
    th.Property(
        "include_deactivated",
        th.BooleanType,
        default=False,
        description="Also list deactivated meters (and read their readings and deltas).",
    ),
    th.Property(
        "data_series_ids",
        th.ArrayType(th.StringType),
        description="Data series to read data points of (the API has no list of them).",
    ),
    th.Property(
        "virtual_meter_ids",
        th.ArrayType(th.StringType),
        description="Virtual meters to read monthly deltas of (the API has no list of them).",
    ),
    th.Property(
        "lookback_days",
        th.NumberType(minimum=0),
        default=0,
        description="Days before each readings and data points bookmark that every run reads "
        "again, so late and corrected records come again under the same key (fractions allowed).",
    ),
    th.Property(
        "deltas_lookback_months",
        th.IntegerType,
        default=3,
        description="Months before the last bookmarked month that every run reads again, "
        "because the current month grows and past months can change.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType(exclusive_minimum=0),
        default=60,
        description="Seconds to wait for an answer before retrying a request (fractions allowed).",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=8,
        description="Retries of a request after 5xx, timeouts and dropped connections "
        "(exponential backoff with jitter). 429s wait Retry-After and count apart "
        "(at most 30 per request).",
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType(minimum=1),
        default=DEFAULT_MAX_CONCURRENCY,
        description="Requests in flight at most: partitions (meters, entities, data series, "
        "virtual meters) are read concurrently, each partition's pages in order.",
    ),
    th.Property(
        "partition_count",
        th.IntegerType(minimum=1),
        default=1,
        description="Split the run into this many partitions by a stable hash of the meter, "
        "entity, data series and virtual meter ids (one process and one state per partition).",
    ),
    th.Property(
        "partition_index",
        th.IntegerType(minimum=0),
        default=0,
        description="Which partition this process reads, 0-based, below partition_count.",
    ),
    th.Property(
        "user_agent",
        th.StringType,
        description="User-Agent header of every request (default tap-enectiva/VERSION).",
    ),
    th.Property(
        "verify_tls",
        th.BooleanType,
        default=True,
        description="Verify the API's TLS certificate; turn off only for a test server.",
    ),
    th.Property(
        CA_BUNDLE,
        th.StringType,
        description=CA_BUNDLE_DESCRIPTION,
    ),
).to_dict()


def setting(config: Mapping[str, Any], name: str) -> Any:
    """A setting's value, or its default from :data:`CONFIG_SCHEMA` (written once, there)."""
    value = config.get(name)
    return CONFIG_SCHEMA["properties"][name].get("default") if value is None else value


def config_time(config: Mapping[str, Any], key: str) -> datetime | None:
    """``start_date`` / ``end_date`` as an aware datetime (UTC when no offset), or None."""
    value = config.get(key)
    if not value:
        return None
    try:
        return parse_timestamp(value, default_tz=UTC)
    except TimeFormatError:
        try:
            return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
        except ValueError:
            raise TapError(f"{key} {value!r} is not an RFC 3339 date-time") from None


def lookback(config: Mapping[str, Any]) -> timedelta:
    """``lookback_days`` as a duration (zero when unset)."""
    return timedelta(days=float(setting(config, "lookback_days")))


def config_ids(config: Mapping[str, Any], key: str) -> list[str]:
    """An id list setting (``meter_ids``, ``data_series_ids``, ...) as strings; [] when unset."""
    return [str(i) for i in config.get(key) or ()]


def tls_verify(config: Mapping[str, Any]) -> bool | str:
    """requests' ``verify`` of every session: ``verify_tls`` off, the ``ca_bundle`` file, or on.

    Raises a :class:`TapError` naming ``ca_bundle`` when that file cannot be used.
    """
    verify_tls = bool(setting(config, "verify_tls"))
    ca_bundle = config.get(CA_BUNDLE) or None
    error = network.ca_bundle_error(ca_bundle) if verify_tls else None
    if error:
        raise TapError(error)
    return network.requests_verify(verify_tls, ca_bundle)


def user_agent(config: Mapping[str, Any]) -> str:
    """The User-Agent of every request: the setting, else ``tap-enectiva/VERSION``."""
    configured = config.get("user_agent")
    if configured:
        return str(configured)
    try:
        version = metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        version = "[could not be detected]"
    return f"{PLUGIN_NAME}/{version}"
