"""Import benchmark (A1, B1): generate synthetic SIECLE exports, import them, print the figures.

    .venv/bin/python bench/import_bench.py                      # embedded stack (SQLite)
    .venv/bin/python bench/import_bench.py --postgres           # a fresh database on the local PostgreSQL
    .venv/bin/python bench/import_bench.py --academy-students 20000 --schools 4   # a quicker run

A school of 1,000 students (about 2,000 guardians), then an academy of 100,000 students: 20
schools of 5,000 sharing one login directory, imported one after the other (each import is one
transaction, as `tsctl import siecle` does it: parse, people, accounts, their events). The
export files are generated before the clock starts. Peak memory is read after the school and
after the academy: streaming keeps it flat as files grow.

Targets on the 2-core machine: school < 5 s, academy < 5 min. The last line is machine-readable:
import_bench: school_s=<s> academy_s=<s> people_per_s=<n> peak_rss_mb=<n>
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.demo.synthetic_siecle import generate_school, write_export
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import add_school
from ts_shared.config import Settings
from ts_shared.runtime.process import Platform

ACADEMY = "BENCH"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def uai_for(number: int) -> str:
    return f"{number:07d}" + "ABCDEFGHJKLMNPRSTUVWXYZ"[number % 23]


def import_school(platform: Platform, uai: str, files: list[Path]) -> tuple[float, int, int]:
    """Import one school; return (seconds, people, accounts)."""
    started = time.perf_counter()
    with platform.runtime("accounts").uow() as uow:
        report = import_population(uow, uai=uai, source=source_from_exports(uai, [inspect_export(f) for f in files]),
                                   actor="bench")
        uow.commit()
    elapsed = time.perf_counter() - started
    people = sum(report.created.get(kind, 0) for kind in ("élèves", "responsables"))
    return elapsed, people, report.accounts_created


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--school-students", type=int, default=1000)
    parser.add_argument("--academy-students", type=int, default=100_000)
    parser.add_argument("--schools", type=int, default=20, help="schools the academy's students are spread over")
    parser.add_argument("--postgres", action="store_true", help="import into a new database on 127.0.0.1:5432")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    env = {"TS_DATA_DIR": str(work / "data"), "TS_LOG_LEVEL": "WARNING", "TS_LOG_FORMAT": "text"}
    database = None
    if args.postgres:
        database = f"ts_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        env["TS_ACCOUNTS_DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    platform = Platform(Settings.from_env(env))
    per_school = args.academy_students // args.schools
    print(f"backend: {'PostgreSQL' if args.postgres else 'SQLite (embedded)'}; work folder {work}", flush=True)

    print(f"generating exports: 1 school of {args.school_students} students, "
          f"{args.schools} schools of {per_school} students ...", flush=True)
    started = time.perf_counter()
    school_files = write_export(generate_school(uai_for(1), args.school_students, seed=1), work / "school")
    academy_files = [
        (
            uai_for(100 + n),
            write_export(generate_school(uai_for(100 + n), per_school, seed=100 + n), work / f"academy-{n}"),
        )
        for n in range(args.schools)
    ]
    print(f"  generated in {time.perf_counter() - started:.1f} s "
          f"({sum(f.stat().st_size for _, files in academy_files for f in files) / 1e6:.0f} MB of XML)", flush=True)

    with platform.runtime("accounts").uow() as uow:
        for uai in [uai_for(1)] + [uai for uai, _ in academy_files]:
            add_school(uow, uai=uai, name=f"Établissement {uai}", academy_code=ACADEMY)
        uow.commit()

    school_s, school_people, school_accounts = import_school(platform, uai_for(1), school_files)
    school_rss = peak_rss_mb()
    print(f"school: {school_people} people, {school_accounts} accounts in {school_s:.2f} s; "
          f"peak RSS {school_rss:.0f} MB", flush=True)

    academy_s = academy_people = academy_accounts = 0
    for index, (uai, files) in enumerate(academy_files, start=1):
        seconds, people, accounts = import_school(platform, uai, files)
        academy_s += seconds
        academy_people += people
        academy_accounts += accounts
        print(f"  academy school {index}/{len(academy_files)} {uai}: {people} people, {accounts} accounts "
              f"in {seconds:.2f} s (peak RSS {peak_rss_mb():.0f} MB)", flush=True)
    academy_rss = peak_rss_mb()
    people_per_s = academy_people / academy_s
    print(f"academy: {academy_people} people, {academy_accounts} accounts in {academy_s:.1f} s "
          f"({people_per_s:.0f} people/s); peak RSS {academy_rss:.0f} MB (after the school: {school_rss:.0f} MB)")
    platform.dispose()
    if database:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
    print(f"import_bench: school_s={school_s:.2f} academy_s={academy_s:.1f} people_per_s={people_per_s:.0f} "
          f"peak_rss_mb={academy_rss:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
