"""Record schemas per kind, generated from the contract's ``*Input`` components.

``python -m target_enectiva.schemas`` (re)writes the JSON files next to this module; a test
checks the committed files equal what :func:`generate` returns.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from enectiva import contract
from target_enectiva.kinds import DELETED_AT_FIELD, INVOICE_METER_FIELD, KINDS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def generate(kind_name: str) -> dict[str, Any]:
    """The record schema of a kind: its input component plus the Singer-side fields."""
    kind = KINDS[kind_name]
    schema = contract.component_schema(kind.input_component)
    out: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "title": f"target-enectiva {kind_name} record",
        "description": (
            f"One RECORD of a stream loaded as {kind_name}; generated from the contract's "
            f"{kind.input_component} component. Do not edit: run "
            "`python -m target_enectiva.schemas`."
        ),
        **schema,
    }
    properties = dict(out["properties"])
    required = list(out.get("required", []))
    if kind_name == "invoices":
        properties[INVOICE_METER_FIELD] = {
            "type": "string",
            "minLength": 1,
            "description": "The meter the invoice belongs to (the {meterId} of the path).",
        }
        required.insert(0, INVOICE_METER_FIELD)
    properties[DELETED_AT_FIELD] = {
        "type": ["string", "null"],
        "format": "date-time",
        "description": (
            "Set: the record is deleted instead of created"
            + (" (refused: invoices cannot be deleted)." if kind.delete_operation is None else ".")
        ),
    }
    out["properties"] = properties
    out["required"] = required
    return out


def render(kind_name: str) -> str:
    """The file text of a kind's schema (stable formatting)."""
    return json.dumps(generate(kind_name), indent=2, ensure_ascii=False) + "\n"


def schema_path(kind_name: str) -> Path:
    """Where the committed schema file of a kind lives."""
    return Path(str(resources.files(__name__).joinpath(f"{kind_name}.json")))


def load(kind_name: str) -> dict[str, Any]:
    """The committed schema of a kind."""
    return json.loads(schema_path(kind_name).read_text(encoding="utf-8"))


def write_all() -> list[Path]:
    """Write every kind's schema file; returns the paths written."""
    written = []
    for kind_name in KINDS:
        path = schema_path(kind_name)
        path.write_text(render(kind_name), encoding="utf-8")
        written.append(path)
    return written
