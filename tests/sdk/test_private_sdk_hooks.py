"""The singer-sdk internals this code relies on: an SDK upgrade that drops one fails here.

The SDK's public hooks are checked by mypy (every override says ``@override``). Its private
ones can change in any release without notice; each is listed here with why we use it, so an
upgrade that renames or removes one names it instead of silently changing behaviour.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator

import pytest

#: (SDK module, class or None for a module-level function, attribute): why we rely on it.
PRIVATE_SDK_PARTS: dict[tuple[str, str | None, str], str] = {
    # tap
    ("singer_sdk.streams.core", "Stream", "_write_record_message"): (
        "tap: records that nothing can change skip the SDK's per-record pipeline"
    ),
    ("singer_sdk.streams.core", "Stream", "_increment_stream_state"): (
        "tap: a meter's bookmark advances per record under state_partitioning_keys"
    ),
    ("singer_sdk.helpers._state", None, "increment_state"): (
        "tap: the SDK's own bookmark rule, applied to the meter's partition"
    ),
    ("singer_sdk.streams.rest", "RESTStream", "_prepare_request"): (
        "tap: the next page is fetched ahead on a helper thread"
    ),
    ("singer_sdk.streams.rest", "RESTStream", "_request"): (
        "tap: the one seam every request passes (the run's credential policy: pacing, tokens, "
        "resends)"
    ),
    ("singer_sdk.streams.core", "Stream", "_sync_children"): (
        "tap: child partitions (meters' readings and deltas) go to the concurrent reader"
    ),
    ("singer_sdk.streams.core", "Stream", "_sync_records"): (
        "tap: configured partitions (data series, virtual meters) go to the concurrent reader"
    ),
    # called (not overridden) by the tap's partition reader, which replays _sync_records' steps
    ("singer_sdk.streams.core", "Stream", "_check_max_record_limit"): "tap: partition reader",
    ("singer_sdk.streams.core", "Stream", "_finalize_state"): "tap: partition reader",
    ("singer_sdk.streams.core", "Stream", "_get_state_partition_context"): "tap: reader",
    ("singer_sdk.streams.core", "Stream", "_process_record"): "tap: partition reader",
    ("singer_sdk.streams.core", "Stream", "_write_replication_key_signpost"): "tap: reader",
    ("singer_sdk.streams.core", "Stream", "_write_schema_message"): "tap: partition reader",
    ("singer_sdk.streams._state", "StreamStateManager", "_logger"): (
        "tap: a partition's starting bookmark is logged at DEBUG (state.py)"
    ),
    ("singer_sdk.streams._state", "StreamStateManager", "write_starting_replication_value"): (
        "tap: the partition reader writes each partition's starting value"
    ),
    ("singer_sdk.streams.core", "Stream", "_write_state_message"): "tap: STATE by cadence",
    ("singer_sdk.streams.core", "Stream", "_stream_version"): "tap: direct record writes",
    ("singer_sdk.streams.rest", "RESTStream", "_write_request_duration_log"): "tap: reader",
    ("singer_sdk.plugin_base", "BaseSingerReader", "_assert_line_requires"): (
        "target: a STATE line without value is refused as the SDK would"
    ),
    # target
    ("singer_sdk.sinks.core", "Sink", "_validate_and_parse"): (
        "target: the SDK's validation is replaced by the contract's rules"
    ),
    ("singer_sdk.sinks.core", "Sink", "_remove_sdc_metadata_from_record"): (
        "target: _sdc_deleted_at must survive the stripping of _sdc_ fields"
    ),
    ("singer_sdk.plugin_base", "PluginBase", "_validate_config"): (
        "tap and target: config errors redacted, and the checks JSON Schema cannot say"
    ),
    ("singer_sdk.target_base", "Target", "_process_state_message"): (
        "target: STATE is released by the acknowledgement watermark, not by draining"
    ),
    ("singer_sdk.target_base", "Target", "_write_state_message"): (
        "target: the watermark writes STATE, never the SDK"
    ),
    ("singer_sdk.target_base", "Target", "_handle_termination"): (
        "target: SIGTERM waits for the records in flight"
    ),
    ("singer_sdk.singerlib.encoding.base", "GenericSingerReader", "_process_unknown_message"): (
        "target: an unknown message type is one clear line"
    ),
}

OUR_PACKAGES = ("tap_enectiva", "target_enectiva")


def missing_parts() -> list[str]:
    missing = []
    for (module_name, class_name, attribute), _why in PRIVATE_SDK_PARTS.items():
        try:
            owner: object = importlib.import_module(module_name)
            if class_name is not None:
                owner = getattr(owner, class_name)
        except (ImportError, AttributeError):
            missing.append(f"{module_name}.{class_name or ''}")
            continue
        # an instance attribute is looked for where the class assigns it
        if not hasattr(owner, attribute) and not (
            inspect.isclass(owner)
            and re.search(rf"self\.{attribute}\s*(:[^=\n]*)?=", inspect.getsource(owner))
        ):
            missing.append(".".join(p for p in (module_name, class_name, attribute) if p))
    return missing


def our_classes() -> Iterator[type]:
    for package_name in OUR_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if info.name.endswith("__main__"):
                continue  # running it would start the plugin
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if inspect.isclass(value) and value.__module__ == module.__name__:
                    yield value


def test_every_private_sdk_part_we_rely_on_exists_in_the_installed_sdk() -> None:
    missing = missing_parts()
    assert not missing, (
        "the installed singer-sdk lacks private parts this code relies on: "
        + ", ".join(missing)
        + " (see PRIVATE_SDK_PARTS for why each is used, and adapt before upgrading)"
    )


def test_every_private_sdk_hook_we_override_is_listed() -> None:
    listed = {attribute for (_, _, attribute) in PRIVATE_SDK_PARTS}
    unlisted = []
    for cls in our_classes():
        for attribute in vars(cls):
            if not attribute.startswith("_") or attribute.startswith("__"):
                continue
            sdk_bases = [
                base
                for base in cls.__mro__[1:]
                if base.__module__.startswith("singer_sdk") and attribute in vars(base)
            ]
            if sdk_bases and attribute != "_abc_impl" and attribute not in listed:
                unlisted.append(f"{cls.__module__}.{cls.__qualname__}.{attribute}")
    assert not unlisted, f"private SDK hooks overridden but not listed: {unlisted}"


@pytest.mark.parametrize("name", ["_write_record_message", "_validate_and_parse"])
def test_the_check_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The guard itself: remove a hook from the SDK and the check names it."""
    from singer_sdk.sinks.core import Sink
    from singer_sdk.streams.core import Stream

    owner = Stream if name == "_write_record_message" else Sink
    monkeypatch.delattr(owner, name)
    assert any(item.endswith(f".{name}") for item in missing_parts())
