"""The shipped BMS export is the generator's output and writes the repeated hour twice."""

from __future__ import annotations

import csv
import io
from collections import Counter

from demo import make_csv


def generated() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(make_csv.COLUMNS)
    writer.writerows(make_csv.rows())
    return out.getvalue()


def test_the_committed_csv_is_the_generators_output() -> None:
    assert make_csv.OUTPUT.read_text(encoding="utf-8") == generated()


def test_the_night_clocks_go_back_has_two_rows_per_meter_at_two() -> None:
    night = make_csv.FALL_BACK.isoformat()
    stamps = Counter(
        (row["timestamp"], row["meter"])
        for row in csv.DictReader(io.StringIO(generated()))
        if row["timestamp"].startswith(night)
    )
    for meter in make_csv.METERS:
        per_hour = [stamps[f"{night} {hour:02d}:00:00", meter.tag] for hour in range(5)]
        assert per_hour == [1, 1, 2, 1, 1], meter.tag
