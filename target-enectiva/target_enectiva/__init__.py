"""target-enectiva: a Singer target that pushes records into the Enectiva import API."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("target-enectiva")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

#: What the target writes into ``sender`` unless the setting says otherwise.
DEFAULT_SENDER = f"target-enectiva/{__version__}"
