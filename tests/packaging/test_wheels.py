"""Built and installed as users will: sdists and wheels of all four distributions, metadata
checked, wheels installed into a clean venv outside the checkout, CLIs and a tap -> target
round trip run from there against the installed sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import time
import venv
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {
    "enectiva": "enectiva_contract",
    "tap-enectiva": "tap_enectiva",
    "target-enectiva": "target_enectiva",
    "sandbox": "enectiva_sandbox",
}
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def make_venv(path: Path, *requirements: str) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    python = path / "bin" / "python"
    if requirements:
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *requirements], check=True, cwd=path)
    return python


def clean_env() -> dict[str, str]:
    """No venv, PYTHONPATH or plugin settings of the test run leak into the installed CLIs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TAP_", "TARGET_"))}
    env.pop("VIRTUAL_ENV", None)
    return env


def wheel_metadata(wheel: Path) -> tuple[list[str], list[str]]:
    """(Requires-Dist lines, file names) of a wheel."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(meta).decode("utf-8"))
    return message.get_all("Requires-Dist") or [], names


def requirement_names(requires: list[str]) -> set[str]:
    return {r.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
            for r in requires}  # fmt: skip


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdists and wheels of all four (the wheels built from the sdists, as `build` does)."""
    work = tmp_path_factory.mktemp("build")
    tools = make_venv(work / "tools", "build", "twine")
    out = work / "dist"
    for folder in FOLDERS:
        subprocess.run(
            [str(tools), "-m", "build", "--outdir", str(out), str(ROOT / folder)],
            check=True,
            cwd=work,
            capture_output=True,
        )
    built = sorted(out.iterdir())
    check = subprocess.run(
        [str(tools), "-m", "twine", "check", "--strict", *map(str, built)],
        capture_output=True,
        text=True,
        cwd=work,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    return out


def test_every_distribution_has_an_sdist_and_a_wheel(dist: Path):
    for stem in FOLDERS.values():
        assert (dist / f"{stem}-{VERSION}.tar.gz").exists(), stem
        assert list(dist.glob(f"{stem}-{VERSION}-*.whl")), stem


def test_wheels_bring_only_what_their_code_needs(dist: Path):
    requires = {stem: wheel_metadata(next(dist.glob(f"{stem}-*.whl"))) for stem in FOLDERS.values()}
    tap = requirement_names(requires["tap_enectiva"][0])
    target = requirement_names(requires["target_enectiva"][0])
    assert not tap & {"aiohttp", "uvloop", "starlette", "uvicorn"}
    assert not target & {"starlette", "uvicorn"}
    for stem in ("tap_enectiva", "target_enectiva", "enectiva_sandbox"):
        assert f"enectiva-contract=={VERSION}" in requires[stem][0], stem
    contract_files = requires["enectiva_contract"][1]
    assert "enectiva/openapi.yaml" in contract_files
    assert not [n for n in contract_files if n.endswith((".pyc", "pyproject.toml"))]


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv outside the checkout with the four wheels (nothing editable)."""
    users = tmp_path_factory.mktemp("users")
    make_venv(users / "venv", *map(str, sorted(dist.glob("*.whl"))))
    return users


def run(installed: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    executable = installed / "venv" / "bin" / args[0]
    return subprocess.run(
        [str(executable), *args[1:]],
        cwd=installed,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def test_installed_packages_come_from_the_venv_not_the_checkout(installed: Path):
    code = "import enectiva, tap_enectiva, target_enectiva, enectiva_sandbox as s"
    code += "; print(s.__file__)"
    done = run(installed, "python", "-c", code + "; import sys; print(sys.path)")
    assert done.returncode == 0, done.stderr
    assert str(installed / "venv") in done.stdout.splitlines()[0]
    assert str(ROOT) not in done.stdout


@pytest.mark.parametrize("plugin", ["tap-enectiva", "target-enectiva"])
def test_installed_plugins_answer_about(installed: Path, plugin: str):
    done = run(installed, plugin, "--about", "--format=json")
    assert done.returncode == 0, done.stderr
    about = json.loads(done.stdout)
    assert about["name"] == plugin
    assert about["version"] == VERSION


def start_sandbox(installed: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    creds_file = installed / "sandbox-credentials.json"
    command = [str(installed / "venv" / "bin" / "enectiva-sandbox"), "serve", "--port", "0"]
    command += ["--data", ":memory:", "--seed", "demo", "--credentials-file", str(creds_file)]
    log = (installed / "sandbox.log").open("wb")
    proc = subprocess.Popen(command, cwd=installed, env=clean_env(), stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (installed / "sandbox.log").read_text()
        if creds_file.exists():
            try:
                creds = json.loads(creds_file.read_text(encoding="utf-8"))
                if requests.get(f"{creds['api_url']}/_sandbox/health", timeout=2).ok:
                    return proc, creds
            except (ValueError, requests.RequestException):
                pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the installed sandbox did not start")


def test_round_trip_tap_to_target_with_the_installed_wheels(installed: Path):
    proc, creds = start_sandbox(installed)
    try:
        meter = creds["meter_ids"][0]
        # The tap's stream maps shape one meter's readings as the target's reading input, in
        # a new series (import_id + "-copy"), so they are new; the target skips other streams.
        stream_maps = {
            "readings": {
                "time": "time",
                "state": "state",
                "import_id": "import_id + '-copy'",
                "__else__": None,
                "__key_properties__": ["import_id", "time"],
            }
        }
        tap_config = {
            "api_url": creds["api_url"],
            "customer_id": creds["customer_id"],
            "login_token": creds["login_token"],
            "start_date": "2000-01-01T00:00:00Z",
            "meter_ids": [meter],
            "stream_maps": stream_maps,
        }
        target_config = {
            "api_url": creds["api_url"],
            "customer_id": creds["customer_id"],
            "import_token": creds["import_token"],
            "sender": "packaging-test",
            "unknown_streams": "skip",
        }
        (installed / "tap.json").write_text(json.dumps(tap_config), encoding="utf-8")
        (installed / "target.json").write_text(json.dumps(target_config), encoding="utf-8")

        tapped = run(installed, "tap-enectiva", "--config", "tap.json")
        assert tapped.returncode == 0, tapped.stderr[-2000:]
        messages = [json.loads(line) for line in tapped.stdout.splitlines()]
        records = [m["record"] for m in messages if m.get("stream") == "readings" and "record" in m]
        assert all(set(r) == {"time", "state", "import_id"} for r in records)

        loaded = run(installed, "target-enectiva", "--config", "target.json", input=tapped.stdout)
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        stored = requests.get(f"{creds['api_url']}/_sandbox/records/readings", timeout=60).json()
        copies = {(r["import_id"], r["time"]) for r in stored if r["import_id"].endswith("-copy")}
        assert len(copies) == len(records)
        assert {r["import_id"] for r in records} == {i for i, _ in copies}
        for secret in (creds["login_token"], creds["import_token"]):
            assert secret not in tapped.stderr + loaded.stderr + loaded.stdout
    finally:
        proc.terminate()
        proc.wait(10)
