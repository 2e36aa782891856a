"""The demo's closing report: what each stream added to the warehouse, and a line per meter."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, tzinfo
from pathlib import Path

from demo.warehouse import MONTHS_SHOWN, MeterSummary, NightReadings


@dataclass
class StreamLine:
    """One stream of the pull run."""

    stream: str
    emitted: int  # records the tap emitted in this run (its own record_count metrics)
    written: int  # warehouse rows inserted or updated in this run
    added: int  # new warehouse rows in this run
    total: int  # warehouse rows after this run


@dataclass
class FallBackMeter:
    """One meter's readings across the repeated hour: local wall times and their instants."""

    import_id: str
    local: list[str]  # HH:MM in the export's zone, in time order (02:00 twice)
    utc: list[str]  # HH:MM UTC of the same readings

    @property
    def distinct(self) -> int:
        return len(set(self.utc))


@dataclass
class FallBack:
    """The night clocks went back inside the export, and where its readings landed."""

    night: str  # YYYY-MM-DD
    zone: str
    meters: list[FallBackMeter] = field(default_factory=list)

    @classmethod
    def of(cls, readings: list[NightReadings], zone: tzinfo, night: date) -> FallBack:
        return cls(
            night=night.isoformat(),
            zone=str(getattr(zone, "key", zone)),
            meters=[
                FallBackMeter(
                    import_id=r.import_id,
                    local=r.walls(zone),
                    utc=[i.strftime("%H:%M") for i in r.instants],
                )
                for r in readings
            ],
        )


@dataclass
class Report:
    database: str
    pushed: int  # CSV records the CSV tap emitted into target-enectiva in this run
    streams: list[StreamLine] = field(default_factory=list)
    meters: list[MeterSummary] = field(default_factory=list)
    fall_back: FallBack | None = None
    seconds: float = 0.0

    def stream(self, name: str) -> StreamLine:
        for line in self.streams:
            if line.stream == name:
                return line
        raise KeyError(name)

    def to_json(self) -> str:
        data = asdict(self)
        for meter, summary in zip(data["meters"], self.meters, strict=True):
            meter["consumption"] = summary.consumption
        return json.dumps(data, indent=2, default=str)

    def write(self, path: Path) -> None:
        path.write_text(self.to_json() + "\n", encoding="utf-8")


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def render(report: Report) -> str:
    """The report as the demo prints it."""
    lines = [f"CSV records pushed into the sandbox in this run: {report.pushed:,}", ""]
    header = (
        f"{'stream':<22}{'tap emitted':>13}{'rows written':>14}{'rows added':>12}{'in total':>11}"
    )
    lines += ["Rows per stream in this run (warehouse tables):", header, "-" * len(header)]
    for s in report.streams:
        lines.append(f"{s.stream:<22}{s.emitted:>13,}{s.written:>14,}{s.added:>12,}{s.total:>11,}")
    lost = [s.stream for s in report.streams if s.written < s.emitted]
    if lost:
        lines.append(
            f"WARNING: the warehouse kept fewer rows than the tap emitted: {', '.join(lost)}"
        )
    lines += ["", f"Per meter: readings, and consumption over the latest {MONTHS_SHOWN} months:"]
    width = max([len(m.name) for m in report.meters] + [5])
    for m in report.meters:
        months = "  ".join(f"{month} {_num(value)}" for month, value in m.months) or "no deltas"
        total = f"= {_num(m.consumption)} {m.unit}".rstrip() if m.months else ""
        lines.append(
            f"  {m.name:<{width}}  {m.import_id:<22}{m.readings:>8,} readings   {months}  {total}"
        )
    if report.fall_back is not None and report.fall_back.meters:
        night = report.fall_back
        lines += ["", f"DST change {night.night} ({night.zone}, clocks went back):"]
        width = max(len(m.import_id) for m in night.meters)
        for m in night.meters:
            lines.append(
                f"  {m.import_id:<{width}}  {', '.join(m.local)} local -> {m.distinct} distinct "
                f"instants UTC {', '.join(m.utc)}"
            )
    lines += ["", f"Warehouse (DuckDB): {report.database}"]
    query = f"import duckdb; duckdb.connect('{report.database}').sql('SHOW ALL TABLES').show()"
    lines.append(f'Query it: .venv/bin/python -c "{query}"')
    return "\n".join(lines)
