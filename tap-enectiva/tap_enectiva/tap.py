"""TapEnectiva: settings, streams, the run's shared authenticator and the CLI's error line."""

from __future__ import annotations

import copy
import sys
from typing import Any, ClassVar

import click
import requests
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from typing_extensions import override

from enectiva.fatal import fatal_line
from tap_enectiva.auth import LOGIN_SETTINGS
from tap_enectiva.errors import TapError, brief, connection_reason
from tap_enectiva.output import BufferedMsgSpecWriter, flush_stdout
from tap_enectiva.partitions import partition_setting_errors
from tap_enectiva.run import RunShared
from tap_enectiva.settings import CONFIG_SCHEMA, PACKAGE_NAME, PLUGIN_NAME
from tap_enectiva.streams import STREAM_TYPES


class TapEnectiva(Tap):
    """Singer tap for the Enectiva API."""

    name = PLUGIN_NAME
    package_name = PACKAGE_NAME
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

    @override
    def discover_streams(self) -> list[Stream]:
        # One authenticator (one access token), one pacer, one partition reader for every
        # stream of the run.
        run = RunShared(
            self.config,
            writer=self.message_writer,
            write_state=lambda: self.state_writer.write_state(self.state),
        )
        return [stream_type(self, run=run) for stream_type in STREAM_TYPES]

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # What the settings' JSON Schema cannot say: partition_index below partition_count.
        errors = super()._validate_config(raise_errors=raise_errors)
        if not errors:
            errors = partition_setting_errors(self.config)
            if errors and raise_errors:
                raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    # ---- CLI ----

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the tap; a failure ends as one ``tap-enectiva: error: ...`` line, exit 1."""
        try:
            super().invoke(*args, **kwargs)
        except ConfigValidationError as exc:
            _fail(f"invalid config: {'; '.join(exc.errors or [str(exc)])}", kwargs)
        except (TapError, FatalAPIError) as exc:
            _fail(str(exc), kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            _fail(f"lost the connection to the API: {connection_reason(exc)}", kwargs)
        except requests.RequestException as exc:
            _fail(f"request failed: {brief(exc)}", kwargs)


def _fail(message: str, invoke_kwargs: dict[str, Any]) -> None:
    config = getattr(invoke_kwargs.get("config"), "config", None) or {}
    secrets = [config.get(setting) for setting in LOGIN_SETTINGS]
    flush_stdout()  # the records before the failure first: the error line is the last line
    click.echo(fatal_line(PLUGIN_NAME, message, secrets), err=True)
    sys.exit(1)
