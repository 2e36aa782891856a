"""Print the README's settings tables, cut from the plugins' own ``--about --format=markdown``.

    .venv/bin/python scripts/settings_tables.py          # both tables, as the README shows them

Only each plugin's own settings are kept (the SDK's built-in ones are documented by the SDK).
``tests/unit/test_docs.py`` checks that the README holds exactly these tables.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tap_enectiva.settings import CONFIG_SCHEMA as TAP_SETTINGS
from target_enectiva.target import CONFIG_SCHEMA as TARGET_SETTINGS

PLUGINS = {"tap-enectiva": TAP_SETTINGS, "target-enectiva": TARGET_SETTINGS}


def settings_table(executable: str) -> str:
    """The plugin's ``--about`` settings table, restricted to its own settings."""
    own = set(PLUGINS[executable]["properties"])
    about = subprocess.run(
        [str(Path(sys.executable).with_name(executable)), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = about.split("## Settings", 1)[1].strip().splitlines()
    header, rule, body = rows[0], rows[1], rows[2:]
    kept = [r for r in body if r.startswith("| ") and r.split("|")[1].strip() in own]
    return "\n".join([header, rule, *kept])


if __name__ == "__main__":
    for name in PLUGINS:
        print(f"{name}:\n\n{settings_table(name)}\n")
