"""Write the Meltano Hub-format definitions of both plugins from their own ``--about``.

    .venv/bin/python scripts/plugin_definitions.py          # rewrite plugins/*/*--enectiva.yml

Every setting, its kind, default, sensitivity and the capabilities come from the plugin's
``--about --format=json`` (so they cannot drift); labels, the plugin's description and the
install line are written here. ``tests/packaging/test_definitions.py`` checks that the files in
the repository are exactly what this script writes, and that ``meltano.yml`` agrees with them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
VARIANT = "enectiva"
#: Where users install from (Meltano runs ``pip install <pip_url>``): the contract package
#: first, since the plugins pin it and it is not on PyPI. The public repository of this project.
REPOSITORY = "https://github.com/enectiva-singer/enectiva-singer"


def pip_url(folder: str) -> str:
    """The user-facing install line: the contract and the plugin from the repository."""
    source = f"git+{REPOSITORY}.git"
    return f"{source}#subdirectory=enectiva {source}#subdirectory={folder}"


PLUGINS: dict[str, dict[str, Any]] = {
    "tap-enectiva": {
        "type": "extractors",
        "folder": "tap-enectiva",
        "label": "Enectiva",
        "description": "Energy management: meters, entities, readings, data points, deltas",
        "keywords": ["api", "energy", "meltano_sdk"],
        # Every setting but the token has a default or is optional.
        "settings_group_validation": [["login_token"]],
        "select": ["*.*"],
    },
    "target-enectiva": {
        "type": "loaders",
        "folder": "target-enectiva",
        "label": "Enectiva",
        "description": "Energy management: imports readings, data points, profiles, invoices",
        "keywords": ["api", "energy", "meltano_sdk"],
        # Imports need the import token; invoices the login token.
        "settings_group_validation": [
            ["customer_id", "import_token"],
            ["customer_id", "login_token"],
        ],
    },
}

ACRONYMS = {"api": "API", "url": "URL", "id": "ID", "ids": "IDs", "tls": "TLS", "ca": "CA"}


def definition_path(name: str) -> Path:
    return ROOT / "plugins" / PLUGINS[name]["type"] / f"{name}--{VARIANT}.yml"


def about(name: str) -> dict[str, Any]:
    """The plugin's ``--about --format=json`` (the executable next to this Python)."""
    executable = Path(sys.executable).with_name(name)
    done = subprocess.run(
        [str(executable), "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def json_type(prop: dict[str, Any]) -> str:
    types = prop.get("type", "string")
    if isinstance(types, list):
        return str(next((t for t in types if t != "null"), "string"))
    return str(types)


def setting_kind(prop: dict[str, Any]) -> str:
    """The Meltano setting kind of one JSON Schema property."""
    kind = json_type(prop)
    if prop.get("secret"):
        return "password"
    if prop.get("enum"):
        return "options"
    if kind == "string" and prop.get("format") == "date-time":
        return "date_iso8601"
    return {"number": "decimal"}.get(kind, kind)


def label(name: str, prop: dict[str, Any]) -> str:
    if prop.get("title"):
        return str(prop["title"])
    return " ".join(ACRONYMS.get(w, w.capitalize()) for w in name.split("_"))


def setting(name: str, prop: dict[str, Any], version: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "label": label(name, prop),
        "description": " ".join(str(prop.get("description", "")).split()),
        "kind": setting_kind(prop),
    }
    if entry["kind"] == "options":
        entry["options"] = [{"label": str(v).capitalize(), "value": v} for v in prop["enum"]]
    default = prop.get("default")
    # A default naming the release (e.g. sender target-enectiva/0.1.0) is the plugin's to fill.
    if default is not None and version not in str(default):
        entry["value"] = default
    entry["sensitive"] = bool(prop.get("secret"))
    return entry


def definition(name: str, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Hub-format definition of one plugin."""
    info = info or about(name)
    meta = PLUGINS[name]
    settings = info["settings"]["properties"]
    result: dict[str, Any] = {
        "name": name,
        "namespace": name.replace("-", "_"),
        "variant": VARIANT,
        "label": meta["label"],
        "description": meta["description"],
        "domain_url": "https://www.enectiva.cz",
        "repo": REPOSITORY,
        "pip_url": pip_url(meta["folder"]),
        "executable": name,
        "keywords": meta["keywords"],
        "capabilities": sorted(info["capabilities"]),
        "settings": [setting(k, v, str(info["version"])) for k, v in settings.items()],
        "settings_group_validation": meta["settings_group_validation"],
    }
    if "select" in meta:
        result["select"] = meta["select"]
    return result


def render(name: str, info: dict[str, Any] | None = None) -> str:
    header = (
        f"# Meltano Hub-format definition of {name} (variant {VARIANT}).\n"
        "# Written by scripts/plugin_definitions.py from the plugin's --about: do not edit.\n"
        f"#   meltano add {PLUGINS[name]['type'][:-1]} {name} --from-ref <this file or its URL>\n"
    )
    return header + yaml.safe_dump(definition(name, info), sort_keys=False, width=100)


if __name__ == "__main__":
    for plugin in PLUGINS:
        path = definition_path(plugin)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(plugin), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
