"""Build hook: require the shared contract package at exactly this distribution's version.

tap-enectiva, target-enectiva and enectiva-sandbox each carry this same file (a build hook must
live inside the project it builds, so that its sdist builds too); tests/packaging checks the
copies stay equal. The version itself is written once, in the repository's VERSION file.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

CONTRACT = "enectiva-contract"


class ContractPinHook(BuildHookInterface):
    """Adds ``enectiva-contract==<version>`` to the built distribution's requirements."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        build_data["dependencies"].append(f"{CONTRACT}=={self.metadata.version}")
