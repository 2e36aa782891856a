"""The main job in one command (``make demo``): CSV -> sandbox -> DuckDB warehouse -> report.

1. installs Meltano (pinned, own venv) and the project's plugins (``meltano install``);
2. starts the sandbox (demo seed) on a free port, its data kept in ``OUTPUT/sandbox.db``;
3. pushes the shipped BMS export through tap-spreadsheets into target-enectiva;
4. pulls every stream out with ``meltano run tap-enectiva target-duckdb``;
5. prints a report from the warehouse, and writes it to ``OUTPUT/report.json``.

Meltano's system database (state) lives in ``OUTPUT/meltano.db`` next to the sandbox data and
the warehouse, so a second run is incremental, and deleting OUTPUT starts over cleanly.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enectiva_sandbox.process import Sandbox
from enectiva_sandbox.store import DATA_FORMAT, data_format

from demo import make_csv, plot, warehouse
from demo.meltano_cli import Meltano, ensure_meltano, project_lock
from demo.report import FallBack, Report, StreamLine, render
from demo.sandbox_env import sandbox_variables

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT = "sandbox"
CSV_TAP, PUSH_TARGET = "tap-spreadsheets", "target-enectiva"
TAP, WAREHOUSE_LOADER = "tap-enectiva", "target-duckdb"
STEPS = 5


def banner(step: int, text: str) -> None:
    print(f"\n==> [{step}/{STEPS}] {text}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=ROOT / "output" / "demo",
        help="sandbox data, Meltano state, warehouse and report (default: output/demo)",
    )
    parser.add_argument("--port", type=int, default=0, help="sandbox port (default: a free one)")
    return parser.parse_args(argv)


def meltano_env(output: Path, credentials: dict[str, object]) -> dict[str, str]:
    """What the project's ``sandbox`` environment reads, plus where state and warehouse go."""
    return {
        "MELTANO_DATABASE_URI": f"sqlite:///{output / 'meltano.db'}",
        "MELTANO_ENVIRONMENT": ENVIRONMENT,
        "TARGET_DUCKDB_PATH": str(output / "warehouse.duckdb"),
        **sandbox_variables(credentials),
    }


def run(output: Path, port: int) -> Report:
    """The whole demo, holding the Meltano project (one demo or test at a time)."""
    with project_lock(ROOT):
        return _run(output, port)


def _run(output: Path, port: int) -> Report:
    started = time.monotonic()
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    database = output / "warehouse.duckdb"
    _start_afresh_if_outdated(output)

    banner(1, f"Installing Meltano and the plugins (meltano install: plugins in {ROOT}/.meltano)")
    executable = ensure_meltano(ROOT / ".venv-meltano")
    installer = Meltano(
        executable, ROOT, {"MELTANO_DATABASE_URI": f"sqlite:///{output}/meltano.db"}
    )
    installer.check("install")

    banner(2, f"Starting the sandbox (demo seed, data in {output / 'sandbox.db'})")
    # Data, credentials and log in the output folder, kept between runs (the second is incremental).
    server = Sandbox(
        seed="demo",
        data=output / "sandbox.db",
        port=port,
        workdir=output,
        validate_responses=False,
        start_timeout=120,  # a new database is seeded before the server listens
    )
    with server as sandbox:
        creds = sandbox.creds
        print(f"    sandbox at {sandbox.url}, customer {creds['customer_id']}", flush=True)
        meltano = Meltano(
            executable,
            ROOT,
            meltano_env(output, creds),
            secrets=[str(creds["login_token"]), str(creds["import_token"])],
        )

        banner(3, f"Pushing demo/data/bms_export.csv: meltano run {CSV_TAP} {PUSH_TARGET}")
        pushed = meltano.check("run", CSV_TAP, PUSH_TARGET, extractor=CSV_TAP).records

        banner(4, f"Pulling every stream: meltano run {TAP} {WAREHOUSE_LOADER}")
        totals_before = warehouse.row_counts(database)
        marks = warehouse.batch_marks(database)
        emitted = meltano.check("run", TAP, WAREHOUSE_LOADER, extractor=TAP).records

    banner(5, "Report")
    totals = warehouse.row_counts(database)
    written = warehouse.rows_written_since(database, marks)
    report = Report(database=str(database), pushed=sum(pushed.values()))
    for stream in sorted(set(totals) | set(emitted)):
        report.streams.append(
            StreamLine(
                stream=stream,
                emitted=emitted.get(stream, 0),
                written=written.get(stream, 0),
                added=totals.get(stream, 0) - totals_before.get(stream, 0),
                total=totals.get(stream, 0),
            )
        )
    report.meters = warehouse.meter_summaries(database)
    night = warehouse.readings_around_fall_back(
        database, [m.tag for m in make_csv.METERS], make_csv.LOCAL_ZONE, make_csv.FALL_BACK
    )
    report.fall_back = FallBack.of(night, make_csv.LOCAL_ZONE, make_csv.FALL_BACK)
    report.seconds = round(time.monotonic() - started, 1)
    print(render(report))
    report.write(output / "report.json")
    picture = plot.draw_consumption(
        warehouse.monthly_consumption(database), output / "consumption.png"
    )
    print(f"Monthly consumption per meter, as a picture: {picture}")
    print(f"\nDone in {report.seconds:.0f} s. Run it again: the second run is incremental.")
    return report


def _start_afresh_if_outdated(output: Path) -> None:
    """An output folder from an earlier version (older sandbox data) is cleared, not misread."""
    found = data_format(output / "sandbox.db")
    if found is None or found == DATA_FORMAT:
        return
    print(f"    {output} holds data of an earlier version (format {found}): starting afresh")
    for name in ("sandbox.db", "sandbox.db-wal", "sandbox.db-shm", "meltano.db",
                 "warehouse.duckdb", "report.json", "consumption.png"):  # fmt: skip
        (output / name).unlink(missing_ok=True)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through the sandbox's context manager, which stops it


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        run(args.output_dir, args.port)
    except KeyboardInterrupt:
        print("\ndemo interrupted; the sandbox was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
