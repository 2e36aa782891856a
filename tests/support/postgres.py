"""A throwaway PostgreSQL server for the warehouse tests: a real cluster on a loopback port.

The server binaries come from the machine (Debian's ``postgresql`` package, which ``.ci/run``
installs where missing). As root, the cluster runs as the ``postgres`` user (``initdb``
refuses root). Nothing is left behind: the data directory is removed at :meth:`stop`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

START_TIMEOUT = 60.0


def server_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (newest installed version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def require_server_binaries() -> Path:
    """The binaries; missing ones fail under CI (``.ci/run`` installs them) and skip elsewhere."""
    found = server_binaries()
    if found is None:
        message = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


class Postgres:
    """``start()`` a cluster with trust auth for user ``postgres``; ``dsn`` once started."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="enectiva-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.user = "postgres"
        self.database = "warehouse"
        self._as_postgres = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    def _checked(self, *args: str) -> None:
        done = self._run(*args)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> Postgres:
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._checked(
            str(self.binaries / "initdb"), "-D", str(self.data), "-U", self.user,
            "-A", "trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._checked(
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l",
            str(self.folder / "server.log"), "-o", options, "-w", "-t", str(int(START_TIMEOUT)),
            "start",
        )  # fmt: skip
        self.sql(f"CREATE DATABASE {self.database}", database="postgres")
        return self

    def sql(self, statement: str, *, database: str | None = None) -> list[list[str]]:
        """Rows of a statement run with ``psql`` (values as text, ``|``-separated)."""
        psql = self.binaries / "psql"
        command = [str(psql) if psql.exists() else "psql", "-X", "-A", "-t", "-F", "|"]
        command += ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
        command += ["-d", database or self.database, "-v", "ON_ERROR_STOP=1", "-c", statement]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return [line.split("|") for line in done.stdout.splitlines() if line]

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "-w", "stop")  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
