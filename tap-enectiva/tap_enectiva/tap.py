"""TapEnectiva: settings, streams, the shared authenticator and the CLI's error lines."""

from __future__ import annotations

import copy
import sys
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlsplit

import click
import requests
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)

from enectiva.auth import redact
from enectiva.times import TimeFormatError, parse_timestamp
from tap_enectiva.auth import AccessTokenAuthenticator
from tap_enectiva.errors import TapError, connection_reason
from tap_enectiva.output import BufferedMsgSpecWriter
from tap_enectiva.settings import CONFIG_SCHEMA, DEFAULT_API_URL
from tap_enectiva.streams import STREAM_TYPES


class TapEnectiva(Tap):
    """Singer tap for the Enectiva API."""

    name = "tap-enectiva"
    package_name = "tap-enectiva"
    # What the tests exercise (tests/packaging): not the SDK's default batch, activate-version
    # and structured-logging (with it, Meltano reads the tap's metrics as JSON events, which
    # the demo's record counts do not parse).
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
    ]
    # A copy: the SDK adds its built-in settings to this dict in place; CONFIG_SCHEMA stays ours.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    message_writer_class = BufferedMsgSpecWriter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._meters: dict[str, dict[str, Any]] = {}
        super().__init__(*args, **kwargs)

    def discover_streams(self) -> list:
        return [stream_type(self) for stream_type in STREAM_TYPES]

    # ---- shared by the streams ----

    @cached_property
    def authenticator(self) -> AccessTokenAuthenticator:
        """One authenticator (one access token) for every stream of the run."""
        api_url = str(self.config.get("api_url") or DEFAULT_API_URL)
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in api_url:
            raise TapError(f"api_url {api_url!r} is not an http(s) URL")
        session = requests.Session()
        session.verify = bool(self.config.get("verify_tls", True))
        return AccessTokenAuthenticator(
            api_url=api_url,
            login_token=str(self.config["login_token"]),
            session=session,
            timeout=float(self.config.get("request_timeout", 60)),
            max_retries=int(self.config.get("max_retries", 8)),
            user_agent=self.user_agent,
        )

    @cached_property
    def user_agent(self) -> str:
        return str(self.config.get("user_agent") or f"{self.name}/{self.plugin_version}")

    @cached_property
    def start_date(self) -> datetime | None:
        return _config_time(self.config, "start_date")

    @cached_property
    def end_date(self) -> datetime | None:
        return _config_time(self.config, "end_date")

    @cached_property
    def meter_ids(self) -> frozenset[str] | None:
        ids = self.config.get("meter_ids")
        return frozenset(str(i) for i in ids) if ids else None

    def remember_meter(self, record: dict[str, Any]) -> None:
        """Keep what child streams of a meter need (a few fields per meter)."""
        self._meters[record["id"]] = {
            "import_id": record.get("import_id"),
            "suit": record.get("suit"),
            "time_zone": record.get("time_zone"),
        }

    def meter(self, meter_id: str | None) -> dict[str, Any]:
        """What ``remember_meter`` kept of a meter (empty when unknown)."""
        return self._meters.get(meter_id or "", {})

    # ---- CLI ----

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Run the tap; a failure ends as one ``tap-enectiva: error: ...`` line, exit 1."""
        try:
            super().invoke(*args, **kwargs)
        except ConfigValidationError as exc:
            _fail(f"invalid config: {'; '.join(exc.errors or [str(exc)])}", kwargs)
        except (TapError, FatalAPIError) as exc:
            _fail(str(exc), kwargs)
        except RetriableAPIError as exc:
            _fail(f"{exc} (still failing after max_retries retries)", kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            _fail(f"lost the connection to the API: {connection_reason(exc)}", kwargs)
        except requests.RequestException as exc:
            _fail(f"request failed: {exc}", kwargs)


def _config_time(config: Any, key: str) -> datetime | None:
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


def _fail(message: str, invoke_kwargs: dict[str, Any]) -> None:
    config = getattr(invoke_kwargs.get("config"), "config", None) or {}
    line = redact(message, [config.get("login_token")]).replace("\n", " ")
    click.echo(f"{TapEnectiva.name}: error: {line}", err=True)
    sys.exit(1)
