"""The checked-in Kubernetes Indexed Job passes the settings a partitioned run needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from tap_enectiva.settings import CONFIG_SCHEMA

MANIFEST = Path(__file__).resolve().parents[2] / "deploy/kubernetes/tap-enectiva-indexed-job.yaml"
PREFIX = "TAP_ENECTIVA_"


def test_indexed_job_maps_its_completion_index_to_partition_index():
    job: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    (container,) = spec["template"]["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}

    # partition_count is the Job's completions; partition_index its completion index.
    assert int(env["TAP_ENECTIVA_PARTITION_COUNT"]["value"]) == spec["completions"]
    field = env["TAP_ENECTIVA_PARTITION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert spec["parallelism"] <= spec["completions"]

    # Every TAP_ENECTIVA_* variable names a real setting (the SDK and Meltano read them).
    settings = set(CONFIG_SCHEMA["properties"])
    for name in env:
        if name.startswith(PREFIX):
            assert name[len(PREFIX) :].lower() in settings, name
    assert int(env["TAP_ENECTIVA_MAX_CONCURRENCY"]["value"]) >= 1
    assert "secretKeyRef" in env["TAP_ENECTIVA_LOGIN_TOKEN"]["valueFrom"], "token from a secret"

    # One Meltano state id per partition.
    command = " ".join(container["command"] + container["args"])
    assert "meltano" in command and " run " in command
    assert '--state-id-suffix "partition-${JOB_COMPLETION_INDEX}' in command
    assert "tap-enectiva" in command


def test_meltano_declares_the_partition_settings():
    project = yaml.safe_load((MANIFEST.parents[2] / "meltano.yml").read_text(encoding="utf-8"))
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-enectiva"]
    declared = {s["name"] for s in tap["settings"]}
    assert {"max_concurrency", "partition_count", "partition_index"} <= declared
