"""HSDS import at scale: the directory benchmark's data (a few thousand services) exported as an HSDS package, then
imported into an empty directory — and imported again (nothing new: every field compared, nothing written).

    .venv/bin/python bench/hsds_import_bench.py                 # 3,000 services, SQLite files in a temporary folder
    .venv/bin/python bench/hsds_import_bench.py --services 5000
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/hsds_import_bench.py

With BENCH_DATABASE_URL set, two databases of their own are created on that server (as bench/directory_bench.py
does) and dropped afterwards. Times are wall-clock, the whole import as the command runs it: read and check the
package, map it, write it in one transaction, audit it.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time as clock
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT.parent) not in sys.path:
    sys.path.insert(0, str(ROOT.parent))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import directory_bench  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from csrn.directory.models import Service  # noqa: E402
from csrn.extensions import db  # noqa: E402
from csrn.hsds import export as hsds_export  # noqa: E402
from csrn.hsds import importer  # noqa: E402
from csrn.settings.models import TaskForceSettings  # noqa: E402

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def export_package(services: int, folder: Path) -> dict[str, int]:
    """Fill a directory with the benchmark's data and export it to `folder`."""
    directory_bench.set_size(services)
    with directory_bench.bench_database() as (url, engine_name):
        app = directory_bench.build_app(url)
        directory_bench.fill(app, random.Random(directory_bench.SEED), NOW)
        with app.app_context():
            written = hsds_export.write(hsds_export.build(NOW), folder)
            db.session.remove()
            db.engine.dispose()
    return written


def timed_import(app, folder: Path) -> tuple[float, importer.ImportReport]:
    with app.app_context():
        started = clock.perf_counter()
        report = importer.import_package(None, NOW, path=folder)
        elapsed = clock.perf_counter() - started
        db.session.remove()
    return elapsed, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=3_000, help="services in the package (default 3,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="csrn-hsds-bench-") as tmp:
        folder = Path(tmp) / "package"
        written = export_package(args.services, folder)
        size = sum(path.stat().st_size for path in folder.iterdir())
        print(f"package: {written['service']} services, {written['organization']} organizations, "
              f"{written['location']} locations, {sum(written.values())} rows, {size / 1e6:.1f} MB")
        with directory_bench.bench_database() as (url, engine_name):
            app = directory_bench.build_app(url)
            with app.app_context():  # the same task force: its counties make the service areas county facets
                settings = TaskForceSettings(id=1, name="Bench Task Force", timezone="America/Chicago", updated_at=NOW)
                settings.counties = directory_bench.COUNTIES
                db.session.add(settings)
                db.session.commit()
            first, report = timed_import(app, folder)
            print(f"{engine_name}: first import {first:.2f} s "
                  f"({report.table('service').created} services, {report.table('organization').created} "
                  f"organizations, {report.table('location').created} locations created; "
                  f"{len(report.warnings)} warnings)")
            second, report = timed_import(app, folder)
            with app.app_context():
                services = db.session.scalar(select(func.count()).select_from(Service))
                db.session.remove()
                db.engine.dispose()
            print(f"{engine_name}: second import {second:.2f} s ({report.created} created, "
                  f"{report.table('service').unchanged} services unchanged; {services} services in the directory)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
