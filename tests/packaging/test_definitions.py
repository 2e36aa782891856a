"""The Hub-format definitions, meltano.yml and each plugin's --about stay in step; each
distribution declares exactly what its code imports."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.plugin_definitions import PLUGINS, about, definition_path, render

ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(PLUGINS)
#: The setting kinds Meltano knows (meltano.core.setting.SettingKind).
MELTANO_KINDS = {
    "string", "integer", "decimal", "boolean", "date_iso8601", "email", "password", "oauth",
    "options", "file", "array", "object", "hidden",
}  # fmt: skip
#: Capabilities no test exercises: never advertised.
UNTESTED_CAPABILITIES = {"batch", "activate-version", "structured-logging"}


@pytest.fixture(scope="module")
def abouts() -> dict[str, dict[str, Any]]:
    return {name: about(name) for name in NAMES}


def load_definition(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load(definition_path(name).read_text(encoding="utf-8")))


def meltano_yml_plugin(name: str) -> dict[str, Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    kind = PLUGINS[name]["type"]
    return dict(next(p for p in project["plugins"][kind] if p["name"] == name))


@pytest.mark.parametrize("name", NAMES)
def test_definition_file_is_what_the_plugin_says_about_itself(name, abouts):
    committed = definition_path(name).read_text(encoding="utf-8")
    assert committed == render(name, abouts[name]), (
        f"{definition_path(name).relative_to(ROOT)} is stale: "
        "run .venv/bin/python scripts/plugin_definitions.py"
    )


@pytest.mark.parametrize("name", NAMES)
def test_definition_has_the_hub_shape(name, abouts):
    spec = load_definition(name)
    for key in ("name", "namespace", "variant", "pip_url", "executable", "capabilities"):
        assert spec[key], key
    assert spec["namespace"] == name.replace("-", "_")
    folder = PLUGINS[name]["folder"]
    assert re.fullmatch(
        rf"git\+https://\S+\.git#subdirectory=enectiva git\+https://\S+\.git#subdirectory={folder}",
        spec["pip_url"],
    )
    properties = abouts[name]["settings"]["properties"]
    assert [s["name"] for s in spec["settings"]] == list(properties)
    for setting in spec["settings"]:
        prop = properties[setting["name"]]
        assert setting["label"] and setting["description"], setting["name"]
        assert setting["kind"] in MELTANO_KINDS, setting["name"]
        assert setting["sensitive"] is bool(prop.get("secret")), setting["name"]
        if prop.get("secret"):
            assert setting["kind"] == "password"
        if "enum" in prop:
            assert [o["value"] for o in setting["options"]] == prop["enum"]
        if "format" in prop and prop["format"] == "date-time":
            assert setting["kind"] == "date_iso8601"
        default = prop.get("default")
        if default is not None and str(abouts[name]["version"]) not in str(default):
            assert setting["value"] == default, setting["name"]
    names = {s["name"] for s in spec["settings"]}
    groups = spec["settings_group_validation"]
    assert groups and all(set(group) <= names for group in groups)
    required = set(abouts[name]["settings"].get("required", []))
    assert all(required <= set(group) for group in groups), "a group misses a required setting"


@pytest.mark.parametrize("name", NAMES)
def test_only_tested_capabilities_are_advertised(name, abouts):
    capabilities = set(abouts[name]["capabilities"])
    assert not capabilities & UNTESTED_CAPABILITIES
    assert set(load_definition(name)["capabilities"]) == capabilities


@pytest.mark.parametrize("name", NAMES)
def test_meltano_yml_matches_the_definition(name):
    spec = load_definition(name)
    local = meltano_yml_plugin(name)
    for key in ("namespace", "executable", "settings_group_validation"):
        assert local[key] == spec[key], key
    assert set(local["capabilities"]) == set(spec["capabilities"])
    # Installed from the plugin's own folder and the contract's, never the whole repository.
    assert local["pip_url"].split() == ["-e", "./enectiva", "-e", f"./{PLUGINS[name]['folder']}"]
    assert [s["name"] for s in local["settings"]] == [s["name"] for s in spec["settings"]]
    for mine, theirs in zip(local["settings"], spec["settings"], strict=True):
        for key in ("kind", "value", "options"):
            assert mine.get(key) == theirs.get(key), (mine["name"], key)
        assert bool(mine.get("sensitive")) is theirs["sensitive"], mine["name"]


# ---------- distributions ----------

#: Import name -> distribution name, where they differ.
DISTRIBUTION_OF = {
    "yaml": "pyyaml",
    "jwt": "pyjwt",
    "jsonschema_rs": "jsonschema-rs",
    "typing_extensions": "typing-extensions",
    "singer_sdk": "singer-sdk",
    "enectiva": "enectiva-contract",
}
#: Distribution folder -> (import package folder, own import name).
DISTRIBUTIONS = {
    "enectiva": (ROOT / "enectiva", "enectiva"),
    "tap-enectiva": (ROOT / "tap-enectiva/tap_enectiva", "tap_enectiva"),
    "target-enectiva": (ROOT / "target-enectiva/target_enectiva", "target_enectiva"),
    "sandbox": (ROOT / "sandbox/enectiva_sandbox", "enectiva_sandbox"),
}
#: Declared without an import yet: @override on SDK hooks (a project rule for both plugins).
DECLARED_AHEAD = {"tap-enectiva": {"typing-extensions"}, "target-enectiva": {"typing-extensions"}}


def imported_distributions(package: Path, own: str) -> set[str]:
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    third_party = names - set(sys.stdlib_module_names) - {own}
    return {DISTRIBUTION_OF.get(n, n).lower().replace("_", "-") for n in third_party}


def declared_distributions(folder: str) -> set[str]:
    project = tomllib.loads((ROOT / folder / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {
        re.split(r"[\s\[<>=~!;]", requirement, maxsplit=1)[0].lower()
        for requirement in project["project"]["dependencies"]
    }
    if (ROOT / folder / "hatch_build.py").exists():
        declared.add("enectiva-contract")  # pinned to the same version by the build hook
    return declared


@pytest.mark.parametrize("folder", sorted(DISTRIBUTIONS))
def test_each_distribution_declares_what_it_imports(folder):
    package, own = DISTRIBUTIONS[folder]
    imported = imported_distributions(package, own)
    declared = declared_distributions(folder)
    assert imported - declared == set(), "imported but not declared"
    assert declared - imported - DECLARED_AHEAD.get(folder, set()) == set(), "declared, unused"


def test_plugins_carry_the_same_build_hook():
    copies = {
        folder: (ROOT / folder / "hatch_build.py").read_text(encoding="utf-8")
        for folder in ("tap-enectiva", "target-enectiva", "sandbox")
    }
    assert len(set(copies.values())) == 1, "the hatch_build.py copies differ"


def test_one_version_for_all_distributions():
    version = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", version)
    for folder in DISTRIBUTIONS:
        project = tomllib.loads((ROOT / folder / "pyproject.toml").read_text(encoding="utf-8"))
        assert project["project"]["dynamic"] == ["version"], folder
        assert "version" not in project["project"]
        assert project["tool"]["hatch"]["version"]["path"] == "../VERSION", folder
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
