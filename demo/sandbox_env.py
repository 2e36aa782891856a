"""The environment variables meltano.yml's ``sandbox`` environment reads, from a sandbox's
credentials file (``enectiva-sandbox serve --credentials-file FILE``).

    eval "$(.venv/bin/python -m demo.sandbox_env sandbox-credentials.json)"
    .venv-meltano/bin/meltano run tap-enectiva target-jsonl
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path


def sandbox_variables(credentials: Mapping[str, object]) -> dict[str, str]:
    """``ENECTIVA_*`` variables for the sandbox's main customer (ids lists as JSON arrays)."""
    return {
        "ENECTIVA_API_URL": str(credentials["api_url"]),
        "ENECTIVA_CUSTOMER_ID": str(credentials["customer_id"]),
        "ENECTIVA_LOGIN_TOKEN": str(credentials["login_token"]),
        "ENECTIVA_IMPORT_TOKEN": str(credentials["import_token"]),
        "ENECTIVA_DATA_SERIES_IDS": json.dumps(credentials.get("data_series_ids") or []),
        "ENECTIVA_VIRTUAL_METER_IDS": json.dumps(credentials.get("virtual_meter_ids") or []),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m demo.sandbox_env CREDENTIALS_FILE", file=sys.stderr)
        return 2
    credentials = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    for name, value in sandbox_variables(credentials).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
