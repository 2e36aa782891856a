"""The README documents every setting of both plugins, and the record schemas it shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tap_enectiva.settings import CONFIG_SCHEMA as TAP_SETTINGS
from target_enectiva.target import CONFIG_SCHEMA as TARGET_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("settings", [TAP_SETTINGS, TARGET_SETTINGS], ids=["tap", "target"])
def test_every_own_setting_is_in_the_readme(settings: dict) -> None:
    for name in settings["properties"]:
        assert f"| `{name}` |" in README, f"setting {name} missing from README.md"


def test_readme_shows_the_committed_reading_schema() -> None:
    path = ROOT / "target-enectiva/target_enectiva/schemas/readings.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    block = README.index("```json\n", README.index("The reading schema")) + len("```json\n")
    shown = README[block : README.index("\n```", block)]
    assert json.loads(shown) == schema
