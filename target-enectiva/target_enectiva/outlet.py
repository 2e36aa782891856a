"""Where a sink hands its finished jobs: the delivery engine, or (dry run) only a count."""

from __future__ import annotations

import logging
from typing import Protocol

from target_enectiva.delivery import Delivery, DeliverySettings
from target_enectiva.invalid import InvalidRecords
from target_enectiva.plan import Job
from target_enectiva.report import Report
from target_enectiva.watermark import Watermark


class Outlet(Protocol):
    """Takes a checked record's job (main thread)."""

    def submit(self, job: Job) -> None: ...


class DryRun:
    """``dry_run``: a record that passed every check is counted; nothing is sent."""

    def __init__(self, report: Report) -> None:
        self._report = report

    def submit(self, job: Job) -> None:
        self._report.add(job.stream, "validated")


class EngineOutlet:
    """The delivery engine, started on the first job (a run without records starts none)."""

    def __init__(
        self,
        settings: DeliverySettings,
        *,
        report: Report,
        watermark: Watermark,
        invalid: InvalidRecords,
        logger: logging.Logger,
    ) -> None:
        self._settings = settings
        self._report = report
        self._watermark = watermark
        self._invalid = invalid
        self._logger = logger
        self.delivery: Delivery | None = None

    def submit(self, job: Job) -> None:
        delivery = self.delivery
        if delivery is None:
            delivery = self.delivery = Delivery(
                self._settings,
                report=self._report,
                watermark=self._watermark,
                invalid=self._invalid,
                logger=self._logger,
            )
            delivery.start()
        delivery.submit(job)
