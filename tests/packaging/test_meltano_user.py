"""What a Meltano user in another project does: init, add both plugins from their definition
files, configure, ``meltano config test``, ``meltano run`` (Meltano from .venv-meltano)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from demo.meltano_cli import ensure_meltano
from scripts.plugin_definitions import definition_path
from tests.support.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

# The demo's JSON-lines loader, defined as a user would find it on the Hub.
TARGET_JSONL = {
    "name": "target-jsonl",
    "namespace": "target_jsonl",
    "variant": "andyh1203",
    "pip_url": "target-jsonl==0.1.4",
    "executable": "target-jsonl",
    "settings": [
        {"name": "destination_path", "kind": "string", "label": "Destination Path"},
        {"name": "do_timestamp_file", "kind": "boolean", "label": "Timestamp Files"},
    ],
}


def local_definition(name: str, folder: str, work: Path) -> Path:
    """The repository's definition with a local pip_url (tests install from this checkout)."""
    spec = yaml.safe_load(definition_path(name).read_text(encoding="utf-8"))
    spec["pip_url"] = f"{ROOT / 'enectiva'} {ROOT / folder}"
    path = work / f"{name}.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


class Project:
    def __init__(self, meltano: Path, folder: Path) -> None:
        self.meltano = meltano
        self.folder = folder
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "TAP_"))}
        env.pop("VIRTUAL_ENV", None)
        env.update(MELTANO_SEND_ANONYMOUS_USAGE_STATS="false")
        env.update(MELTANO_CLI_DISABLE_VERSION_CHECK="true")
        self.env = env

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.meltano), *args],
            cwd=self.folder,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=900,
        )

    def check(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"meltano {' '.join(args)}:\n{done.stderr[-3000:]}"
        return done.stdout + done.stderr


@dataclass
class LoaderTest:
    """What ``meltano config test <loader>`` saw: the loader's exit code and all output."""

    exit_code: int
    output: str


# Meltano 4.4.1's loader test ends with ``process.terminate()`` on the loader it has already
# waited for; asyncio then raises ProcessLookupError (a race it loses almost always: the loader
# has exited and its pipes are closed), and Meltano prints a traceback instead of its verdict.
# Its verdict is the loader's exit code and whether any output line says "error" or
# "exception"; at --log-level=debug it logs both before the crash, so the test reads them.
_RETURN_CODE = re.compile(r"Process return code: (-?\d+)")


def config_test_loader(project: Project, loader: str, **env: str) -> LoaderTest:
    done = project.run("--log-level=debug", "config", "test", loader, **env)
    output = done.stdout + done.stderr
    codes = _RETURN_CODE.findall(output)
    assert codes, f"meltano config test {loader} never ran the loader:\n{output[-3000:]}"
    if done.returncode == 0:
        assert "Plugin configuration is valid" in output, output[-3000:]
    else:  # the verdict, or Meltano's crash after it (above)
        assert "Plugin configuration is invalid" in output or "ProcessLookupError" in output, (
            output[-3000:]
        )
    return LoaderTest(int(codes[0]), output)


@pytest.mark.xdist_group(name="meltano")
def test_a_user_adds_configures_tests_and_runs_both_plugins(tmp_path: Path):
    meltano = ensure_meltano(ROOT / ".venv-meltano")
    subprocess.run(
        [str(meltano), "init", "--no-usage-stats", "project"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    project = Project(meltano, tmp_path / "project")
    jsonl = tmp_path / "target-jsonl.yml"
    jsonl.write_text(yaml.safe_dump(TARGET_JSONL), encoding="utf-8")
    tap = local_definition("tap-enectiva", "tap-enectiva", tmp_path)
    target = local_definition("target-enectiva", "target-enectiva", tmp_path)
    project.check("add", "extractor", "tap-enectiva", "--from-ref", str(tap))
    project.check("add", "loader", "target-enectiva", "--from-ref", str(target))
    project.check("add", "loader", "target-jsonl", "--from-ref", str(jsonl))

    with Sandbox(seed="demo") as sandbox:
        creds = sandbox.creds
        settings = {
            "api_url": sandbox.url,
            "customer_id": creds["customer_id"],
            "login_token": creds["login_token"],
            "start_date": "2000-01-01T00:00:00Z",
            "meter_ids": json.dumps(creds["meter_ids"][:1]),
        }
        for key, value in settings.items():
            project.check("config", "set", "tap-enectiva", key, value)
        out = tmp_path / "jsonl"
        out.mkdir()
        project.check("config", "set", "target-jsonl", "destination_path", str(out))
        project.check("config", "set", "target-jsonl", "do_timestamp_file", "false")
        # The token went to .env, not meltano.yml.
        assert creds["login_token"] not in (project.folder / "meltano.yml").read_text()

        project.check("config", "test", "tap-enectiva")

        wrong = project.run("config", "test", "tap-enectiva", TAP_ENECTIVA_LOGIN_TOKEN="wrong")
        assert wrong.returncode != 0
        fatal = [
            line
            for line in (wrong.stdout + wrong.stderr).splitlines()
            if "tap-enectiva: error:" in line
        ]
        assert len(fatal) == 1, wrong.stdout + wrong.stderr
        assert "login_token" in fatal[0]
        assert "Traceback" not in wrong.stdout + wrong.stderr

        # The loader: Meltano sends its probe stream; the target checks its tokens, writes nothing.
        for key, value in {
            "api_url": sandbox.url,
            "customer_id": creds["customer_id"],
            "import_token": creds["import_token"],
            "login_token": creds["login_token"],
        }.items():
            project.check("config", "set", "target-enectiva", key, value)
        before = len(sandbox.records("readings"))
        valid = config_test_loader(project, "target-enectiva")
        assert valid.exit_code == 0, valid.output[-3000:]
        assert "target-enectiva: error" not in valid.output, valid.output[-3000:]
        refused = config_test_loader(
            project, "target-enectiva", TARGET_ENECTIVA_IMPORT_TOKEN="imp_" + "0" * 48
        )
        assert refused.exit_code == 1, refused.output[-3000:]
        # one error, which Meltano may show twice (its debug log, then its own verdict)
        marker = "target-enectiva: error:"
        lines = sorted({x[x.index(marker) :] for x in refused.output.splitlines() if marker in x})
        assert len(lines) == 1, refused.output[-3000:]
        assert "import_token" in lines[0] and "imp_000" not in lines[0], lines[0]
        assert "Plugin configuration is valid" not in refused.output
        assert len(sandbox.records("readings")) == before, "the configuration test wrote records"

        project.check("run", "tap-enectiva", "target-jsonl")
        readings = (out / "readings.jsonl").read_text(encoding="utf-8").splitlines()
        assert readings
        assert {json.loads(r)["meter_id"] for r in readings} == {creds["meter_ids"][0]}
