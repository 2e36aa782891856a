"""TargetEnectiva: routes streams to sinks, owns the delivery engine and the STATE watermark.

A record's own path (kind, times, rules, request) is its sink's (``sinks.py``); invalid
records are ``invalid.py``'s; the settings are ``settings.py``'s.
"""

from __future__ import annotations

import copy
import sys
import typing as t

from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TargetCapabilities,
)
from singer_sdk.plugin_base import PluginBase, _ConfigInput
from singer_sdk.target_base import Target
from typing_extensions import override

from enectiva import auth
from enectiva.fatal import fatal_line
from target_enectiva.delivery import Delivery, DeliverySettings
from target_enectiva.errors import TargetError
from target_enectiva.invalid import InvalidRecords
from target_enectiva.kinds import Kind
from target_enectiva.outlet import DryRun, EngineOutlet, Outlet
from target_enectiva.probe import ProbeSink, is_probe
from target_enectiva.reader import LineReader
from target_enectiva.report import Report
from target_enectiva.settings import (
    CONFIG_SCHEMA,
    KIND_NAMES,
    TargetSettings,
    secrets_of,
    setting_errors,
)
from target_enectiva.sinks import EnectivaSink, SkippedStreamSink
from target_enectiva.watermark import Watermark, write_stdout

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.sinks import Sink

PLUGIN = "target-enectiva"
__all__ = ["CONFIG_SCHEMA", "TargetEnectiva"]


class TargetEnectiva(Target):
    """Pushes readings, data points, profiles and invoices (and deletes) to Enectiva."""

    name = "target-enectiva"
    package_name = "target-enectiva"
    # What the tests exercise (tests/packaging). Not the SDK's structured-logging: Meltano would
    # then read the target's logs as JSON events, which nothing here relies on or tests.
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        TargetCapabilities.VALIDATE_RECORDS,
    ]
    message_reader_class = LineReader
    default_sink_class = EnectivaSink

    # A copy: the SDK adds its built-in settings to this dict in place; CONFIG_SCHEMA stays ours.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)

    #: Seconds between progress lines on long runs.
    report_interval: float = 30.0

    @override
    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = TargetSettings.from_config(self.config)
        self.report = Report()
        self.watermark = Watermark(write_stdout)
        #: Refuses invalid records (sinks before sending, the engine on the API's answer).
        self.invalid = InvalidRecords(
            reject=self.settings.reject_invalid,
            rejects_path=self.settings.rejects_path,
            report=self.report,
        )
        self._engine: EngineOutlet | None = None
        #: Where the sinks hand their jobs (the engine starts on the first one).
        self.outlet: Outlet = DryRun(self.report) if self.settings.dry_run else self._new_engine()
        self._skipped_streams: set[str] = set()

    def _new_engine(self) -> EngineOutlet:
        settings = self.settings
        self._engine = EngineOutlet(
            DeliverySettings(
                import_token=settings.import_token,
                login_token=settings.login_token,
                import_token_secondary=settings.import_token_secondary,
                login_token_secondary=settings.login_token_secondary,
                access_token_url=settings.api_url.rstrip("/") + auth.access_token_path(),
                max_concurrency=settings.max_concurrency,
                request_timeout=settings.request_timeout,
                max_retries=settings.max_retries,
                skip_already_imported=settings.skip_already_imported,
                verify_tls=settings.verify_tls,
                ca_bundle=settings.ca_bundle,
                report_interval=self.report_interval,
                sender=settings.sender,
                secrets=settings.secrets,
            ),
            report=self.report,
            watermark=self.watermark,
            invalid=self.invalid,
            logger=self.logger,
        )
        return self._engine

    # ---------- settings ----------

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # Private SDK hook: adds the checks JSON Schema cannot say and redacts secrets.
        try:
            found = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigValidationError(
                str(exc), errors=[self._redact(e) for e in exc.errors], schema=exc.schema
            ) from None
        extra = setting_errors(self.config)
        if extra and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=extra)
        return [self._redact(e) for e in found] + extra

    def _redact(self, text: str) -> str:
        return auth.redact(text, list(secrets_of(self.config)))

    # ---------- routing ----------

    def kind_of(self, stream_name: str) -> Kind | None:
        """The record kind a stream loads as (``stream_kinds`` first, then its own name)."""
        return self.settings.kind_of(stream_name)

    @override
    def get_sink_class(self, stream_name: str) -> type[Sink]:
        kind = self.kind_of(stream_name)
        if kind is None:
            if is_probe(stream_name):  # meltano config test: check credentials, write nothing
                return ProbeSink
            if self.settings.skip_unknown_streams:
                if stream_name not in self._skipped_streams:
                    self._skipped_streams.add(stream_name)
                    self.logger.warning(
                        "stream %s maps to no record kind: its records are skipped "
                        "(unknown_streams: skip)",
                        stream_name,
                    )
                return SkippedStreamSink
            raise TargetError(
                f"stream {stream_name} maps to no record kind: name it one of "
                f"{', '.join(KIND_NAMES)}, map it with stream_kinds, "
                "or set unknown_streams: skip"
            )
        if not self.settings.dry_run:
            needed = "login_token" if kind.token == "access" else "import_token"
            if not self.config.get(needed):
                raise TargetError(f"stream {stream_name} loads {kind.name}, which needs {needed}")
        return EnectivaSink

    # ---------- STATE ----------

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        # Private SDK hook: the SDK keeps the latest STATE and writes it after draining every
        # sink; here the acknowledgement watermark releases it instead, as soon as it is safe.
        self._assert_line_requires(message_dict, requires={"value"})
        if not self.settings.dry_run:
            self.watermark.offer(message_dict["value"])

    @override
    def _write_state_message(self, state: dict) -> None:
        # Private SDK hook: never called with a value (``_latest_state`` stays None); the
        # watermark writes STATE.
        return

    # ---------- end of run ----------

    @override
    def process_endofpipe(self) -> None:
        delivery = self._delivery()
        if delivery is not None:
            delivery.finish()
        super().process_endofpipe()
        self.report.log(self.logger, final=True)
        self.shutdown()

    def shutdown(self) -> None:
        """Stop delivery and close files without waiting (after an error)."""
        delivery = self._delivery()
        if delivery is not None:
            delivery.close()
        self.invalid.close()

    def _delivery(self) -> Delivery | None:
        """The delivery engine, once started."""
        return self._engine.delivery if self._engine is not None else None

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # Private SDK hook (SIGTERM/SIGINT): finish what is in flight, then stop.
        self.logger.info("signal %d: waiting for records in flight, then stopping", signum)
        delivery = self._delivery()
        if delivery is not None:
            try:
                delivery.finish(timeout=self.settings.request_timeout)
            except TargetError as exc:
                self.logger.error(str(exc))
        self.report.log(self.logger, final=True)
        self.shutdown()
        PluginBase._handle_termination(self, signum, frame)

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: t.IO[str] | None = None,
    ) -> None:
        """Run the target; every failure ends with one line on stderr and exit code 1."""
        # Skips Target.invoke (PluginBase's handles --about): the run below replaces its body
        # so that every failure becomes one line, not a traceback.
        super(Target, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        target: TargetEnectiva | None = None
        try:
            target = cls(
                config=config.config, validate_config=True, parse_env_config=config.parse_env
            )
            target.listen(file_input)
        except ConfigValidationError as exc:
            cls._fail(f"bad config: {'; '.join(exc.errors) or exc}", secrets_of(config.config))
        except Exception as exc:  # one line, no traceback, whatever stopped the run
            message = str(exc) or type(exc).__name__
            secrets = secrets_of(config.config)
            if target is not None:
                target.shutdown()
                target.report.log(target.logger, final=True)
                secrets = target.settings.secrets
                reader = target.message_reader
                line = reader.line_number if isinstance(reader, LineReader) else 0
                if not message.startswith("line ") and line:
                    message = f"line {line}: {message}"
            cls._fail(message, secrets)

    @classmethod
    def _fail(cls, message: str, secrets: t.Iterable[str]) -> t.NoReturn:
        sys.stderr.write(fatal_line(PLUGIN, message, secrets) + "\n")
        sys.stderr.flush()
        sys.exit(1)


if __name__ == "__main__":
    TargetEnectiva.cli()
