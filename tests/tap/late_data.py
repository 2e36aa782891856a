"""Late and corrected readings imported into a sandbox behind a tap run's bookmark."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from enectiva.media import MEDIA_TYPE
from tests.support.sandbox import Sandbox


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def import_reading(sb: Sandbox, **attributes: Any) -> None:
    """``POST /import/readings`` with the sandbox's import token; 201 expected."""
    answer = requests.post(
        f"{sb.url}/import/readings/{sb.creds['customer_id']}",
        json={"data": {"type": "readings", "attributes": attributes}},
        headers={
            "Accept": MEDIA_TYPE,
            "Content-Type": MEDIA_TYPE,
            "Authorization": f"Bearer {sb.creds['import_token']}",
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text


@dataclass(frozen=True)
class LateData:
    """What was imported: a late reading (a new time) and a correction (a stored time)."""

    meter_id: str
    late_time: str
    late_state: float
    corrected_time: str
    corrected_state: float


def import_late_and_corrected(sb: Sandbox, readings: list[dict[str, Any]]) -> LateData:
    """Behind the bookmark of the meter with the most ``readings`` (a tap run's records):
    a reading 7 minutes after a stored one less than a day old, and that stored one corrected
    (same import_id, suit and time, another state)."""
    meter_id = Counter(r["meter_id"] for r in readings).most_common(1)[0][0]
    own = sorted((r for r in readings if r["meter_id"] == meter_id), key=lambda r: r["time"])
    bookmark = instant(own[-1]["time"])
    stored = next(r for r in own if instant(r["time"]) > bookmark - timedelta(days=1))
    late_time = utc_text(instant(stored["time"]) + timedelta(minutes=7))
    assert late_time not in {r["time"] for r in own}
    assert late_time < own[-1]["time"], "the late reading lies behind the bookmark"
    series = {"import_id": stored["import_id"], "suit": stored["suit"]}
    data = LateData(
        meter_id=meter_id,
        late_time=late_time,
        late_state=stored["state"] + 0.1,
        corrected_time=stored["time"],
        corrected_state=stored["state"] + 0.05,
    )
    import_reading(sb, time=data.late_time, state=data.late_state, **series)
    import_reading(sb, time=data.corrected_time, state=data.corrected_state, **series)
    return data
