"""Meltano for the end-to-end suites: installed once per session, plugins cached in .meltano/."""

from __future__ import annotations

from pathlib import Path

import pytest
from tap_enectiva.streams import STREAM_TYPES

from demo.meltano_cli import Meltano, ensure_meltano, project_lock

ROOT = Path(__file__).resolve().parents[2]

# Both suites use the repository's .venv-meltano and .meltano/: kept on one xdist worker where
# grouping works; ``project_lock`` serialises Meltano use across workers in any case.
MELTANO_GROUP = pytest.mark.xdist_group(name="meltano")

#: Every stream of tap-enectiva (the demo and the Meltano test select them all).
TAP_STREAMS = frozenset(stream.name for stream in STREAM_TYPES)


@pytest.fixture(scope="session")
def meltano_executable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pinned meltano, with every plugin of meltano.yml installed (slow the first time)."""
    system_db = tmp_path_factory.mktemp("meltano-install") / "meltano.db"
    with project_lock(ROOT):
        executable = ensure_meltano(ROOT / ".venv-meltano")
        meltano = Meltano(executable, ROOT, {"MELTANO_DATABASE_URI": f"sqlite:///{system_db}"})
        meltano.check("install")
    return executable
