"""TargetEnectiva: settings, stream routing, STATE release, summary and clean CLI errors."""

from __future__ import annotations

import copy
import functools
import sys
import typing as t

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TargetCapabilities,
)
from singer_sdk.plugin_base import PluginBase, _ConfigInput
from singer_sdk.singerlib.json import serialize_json
from singer_sdk.target_base import Target

from enectiva import auth, times
from target_enectiva import DEFAULT_SENDER
from target_enectiva.delivery import Delivery, DeliverySettings
from target_enectiva.errors import TargetError
from target_enectiva.kinds import KINDS, Kind
from target_enectiva.reader import LineReader
from target_enectiva.rejects import RejectsFile
from target_enectiva.report import Report
from target_enectiva.sinks import (
    EnectivaSink,
    InvalidRecordError,
    RequestPlan,
    SkippedStreamSink,
)
from target_enectiva.watermark import Watermark

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.sinks import Sink

SECRET_SETTINGS = ("import_token", "login_token")
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
        "login_token",
        th.StringType,
        secret=True,
        description="Login token, exchanged for access tokens; only needed for invoices.",
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
        description="Most requests in flight; lowered on 429 and raised again (adaptive).",
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
        "validate_records",
        th.BooleanType,
        default=False,
        description=(
            "Also validate records against the tap's SCHEMA (the contract's rules are "
            "always checked)."
        ),
    ),
).to_dict()


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

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.report = Report()
        self.watermark = Watermark(self._emit_state)
        self._delivery: Delivery | None = None
        self._rejects: RejectsFile | None = None
        self._skipped_streams: set[str] = set()

    # ---------- settings ----------

    def setting(self, name: str) -> t.Any:
        """A setting's value, or its default from ``config_jsonschema``."""
        value = self.config.get(name)
        if value is None:
            return self.config_jsonschema["properties"].get(name, {}).get("default")
        return value

    @functools.cached_property  # read per record; the config does not change during a run
    def dry_run(self) -> bool:
        return bool(self.setting("dry_run"))

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            found = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigValidationError(
                str(exc), errors=[self._redact(e) for e in exc.errors], schema=exc.schema
            ) from None
        extra = self._setting_errors()
        if extra and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=extra)
        return [self._redact(e) for e in found] + extra

    def _setting_errors(self) -> list[str]:
        out = []
        api_url = str(self.setting("api_url") or "")
        if not api_url.startswith(("http://", "https://")):
            out.append("api_url must start with http:// or https://")
        if self.setting("on_invalid") == "reject" and not self.setting("rejects_path"):
            out.append("on_invalid: reject needs rejects_path (where rejected records go)")
        tz_name = self.config.get("input_time_zone")
        if tz_name:
            try:
                times.zone(tz_name)
            except ValueError as exc:
                out.append(f"input_time_zone: {exc}")
        return out

    def _redact(self, text: str) -> str:
        return auth.redact(text, [str(self.config.get(s) or "") for s in SECRET_SETTINGS])

    # ---------- routing ----------

    def kind_of(self, stream_name: str) -> Kind | None:
        """The record kind a stream loads as (``stream_kinds`` first, then its own name)."""
        mapped = (self.config.get("stream_kinds") or {}).get(stream_name)
        return KINDS.get(mapped or stream_name)

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        kind = self.kind_of(stream_name)
        if kind is None:
            if self.setting("unknown_streams") == "skip":
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
        if not self.dry_run:
            needed = "login_token" if kind.token == "access" else "import_token"
            if not self.config.get(needed):
                raise TargetError(f"stream {stream_name} loads {kind.name}, which needs {needed}")
        return EnectivaSink

    def request_plan(self, kind: Kind, stream_name: str) -> RequestPlan:
        tz_name = self.config.get("input_time_zone")
        return RequestPlan(
            kind,
            stream_name,
            api_url=self.setting("api_url"),
            customer_id=self.setting("customer_id"),
            sender=self.setting("sender"),
            default_tz=times.zone(tz_name) if tz_name else None,
            want_order=bool(self.setting("skip_already_imported")),
        )

    # ---------- records ----------

    def load(self, plan: RequestPlan, record: dict[str, t.Any]) -> None:
        """Validate a record and hand its request to delivery (or just count, in a dry run)."""
        try:
            job = plan.job_for(record)
        except InvalidRecordError as exc:
            self.refuse(plan.stream, exc.key, exc.reason, record)
            return
        if self.dry_run:
            self.report.add(plan.stream, "validated")
            return
        self._engine().submit(job)

    def refuse(self, stream: str, key: str, reason: str, record: dict[str, t.Any]) -> None:
        """A record breaking a rule: stop naming it, or reject it (``on_invalid: reject``)."""
        if self.setting("on_invalid") != "reject":
            raise TargetError(f"stream {stream}, record {key}: {reason}")
        self._rejects_file().write(stream=stream, key=key, reason=reason, record=record)
        self.report.add(stream, "rejected")

    def _rejects_file(self) -> RejectsFile:
        if self._rejects is None:
            self._rejects = RejectsFile(self.setting("rejects_path"))
        return self._rejects

    def _engine(self) -> Delivery:
        if self._delivery is None:
            api_url = str(self.setting("api_url")).rstrip("/")
            settings = DeliverySettings(
                import_token=self.config.get("import_token"),
                login_token=self.config.get("login_token"),
                access_token_url=api_url + auth.access_token_path(),
                max_concurrency=int(self.setting("max_concurrency")),
                request_timeout=float(self.setting("request_timeout")),
                max_retries=int(self.setting("max_retries")),
                reject_invalid=self.setting("on_invalid") == "reject",
                skip_already_imported=bool(self.setting("skip_already_imported")),
                verify_tls=bool(self.setting("verify_tls")),
                report_interval=self.report_interval,
                sender=str(self.setting("sender")),
                secrets=tuple(str(self.config.get(s) or "") for s in SECRET_SETTINGS),
            )
            self._delivery = Delivery(
                settings,
                report=self.report,
                watermark=self.watermark,
                rejects=self._rejects_file() if settings.reject_invalid else None,
                logger=self.logger,
            )
            self._delivery.start()
        return self._delivery

    # ---------- STATE ----------

    def _process_state_message(self, message_dict: dict) -> None:
        # The SDK keeps the latest STATE and writes it after draining every sink; here it is
        # released by the acknowledgement watermark instead, as soon as it is safe.
        self._assert_line_requires(message_dict, requires={"value"})
        if not self.dry_run:
            self.watermark.offer(message_dict["value"])

    def _write_state_message(self, state: dict) -> None:
        # Never called with a value (``_latest_state`` stays None): the watermark writes.
        return

    def _emit_state(self, value: t.Any) -> None:
        sys.stdout.write(serialize_json(value) + "\n")
        sys.stdout.flush()

    # ---------- end of run ----------

    def process_endofpipe(self) -> None:
        if self._delivery is not None:
            self._delivery.finish()
        super().process_endofpipe()
        self.report.log(self.logger, final=True)
        self.shutdown()

    def shutdown(self) -> None:
        """Stop delivery and close files without waiting (after an error)."""
        if self._delivery is not None:
            self._delivery.close()
        if self._rejects is not None:
            self._rejects.close()

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        self.logger.info("signal %d: waiting for records in flight, then stopping", signum)
        if self._delivery is not None:
            try:
                self._delivery.finish(timeout=float(self.setting("request_timeout")))
            except TargetError as exc:
                self.logger.error(str(exc))
        self.report.log(self.logger, final=True)
        self.shutdown()
        PluginBase._handle_termination(self, signum, frame)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: t.IO[str] | None = None,
    ) -> None:
        """Run the target; every failure ends with one line on stderr and exit code 1."""
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
            cls._fail(f"bad config: {'; '.join(exc.errors) or exc}")
        except Exception as exc:  # one line, no traceback, whatever stopped the run
            message = str(exc) or type(exc).__name__
            if target is not None:
                target.shutdown()
                target.report.log(target.logger, final=True)
                message = target._redact(message)
                line = target.message_reader.line_number
                if not message.startswith("line ") and line:
                    message = f"line {line}: {message}"
            cls._fail(message)

    @classmethod
    def _fail(cls, message: str) -> t.NoReturn:
        cls.logger.error("target-enectiva stopped: %s", " ".join(message.split()))
        sys.exit(1)


if __name__ == "__main__":
    TargetEnectiva.cli()
