"""The README documents every setting of both plugins, and the record schemas it shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.settings_tables import PLUGINS, settings_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("plugin", ["tap-enectiva", "target-enectiva"])
def test_readme_settings_tables_are_the_plugins_about_output(plugin: str) -> None:
    table = settings_table(plugin)
    assert table in README, f"README's {plugin} settings table differs from --about"
    assert table.count("\n") - 1 == len(PLUGINS[plugin]["properties"])  # every own setting


def test_readme_shows_the_committed_reading_schema() -> None:
    path = ROOT / "target-enectiva/target_enectiva/schemas/readings.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    block = README.index("```json\n", README.index("The reading schema")) + len("```json\n")
    shown = README[block : README.index("\n```", block)]
    assert json.loads(shown) == schema
