"""Name search benchmark (E2): an academy of 100,000 students (20 schools of 5,000, about 200,000
guardians) with French names — accents, apostrophes, hyphens, particles — then the console's
search by the first letters of a name in one school, as a secretary types them.

    .venv/bin/python bench/search_bench.py                 # embedded stack (SQLite)
    .venv/bin/python bench/search_bench.py --postgres      # a fresh database on the local PostgreSQL

The population is written straight into the tables (the import has its own benchmark); the
search is the console's use case (`support.search`, the stored folded key and its index). The last
line is machine-readable: search_bench: students=<n> median_ms=<ms> worst_ms=<ms>
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from ts_accounts.adapters.orm import Guardian, GuardianLink, Student
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.domain.names import name_key
from ts_accounts.service_layer.schools import add_school
from ts_accounts.service_layer.support import SearchFilters, search
from ts_shared.config import Settings
from ts_shared.runtime.process import Platform

LAST_NAMES = ["Lefèvre", "Bénard", "Brunet", "N'Diaye", "Le Gall", "Martin", "Dupont", "de La Tour", "D'Angelo",
              "Van der Berg", "Müller", "Éluard", "Saint-Just", "Œuvray", "Lefebvre", "Durand", "Petit", "Roux",
              "Garçon", "Bernard", "Ndiaye", "Lemaître", "Hébert", "Lambert", "Fontaine", "Chevalier"]
FIRST_NAMES = ["Hervé", "Inès", "Zoé", "Maël", "Léa", "Noé", "Chloé", "Jérémy", "Anaïs", "Loïc"]
TYPED = ["lefe", "LEFÈ", "benard", "ndiaye", "N’D", "le g", "de la", "saint-j", "oeuv", "mu", "b", "z"]


def populate(platform: Platform, schools: int, per_school: int) -> list[str]:
    rng = random.Random(16)
    uais = [f"{9000000 + number:07d}" + "ABCDEFGHJKLMNPRSTUVWXYZ"[number % 23] for number in range(schools)]
    with platform.runtime("accounts").uow() as uow:
        for uai in uais:
            add_school(uow, uai=uai, name=f"Collège {uai}", academy_code="BENCH")
        uow.commit()
    engine = platform.runtime("accounts").engine
    for uai in uais:
        students, guardians = [], []
        for index in range(per_school):
            last = rng.choice(LAST_NAMES) + ("" if rng.random() < 0.8 else f"-{rng.choice(LAST_NAMES)}")
            students.append({"school_uai": uai, "siecle_id": str(index), "last_name": last, "name_key": name_key(last),
                             "first_name": rng.choice(FIRST_NAMES), "birth_date": date(2012, 1, 1), "groups": [],
                             "division": f"{rng.randint(3, 6)}{rng.choice('ABCD')}"})
            for rank in (1, 2):
                guardian_last = last if rank == 1 else rng.choice(LAST_NAMES)
                guardians.append({"school_uai": uai, "siecle_id": f"{index}-{rank}", "last_name": guardian_last,
                                  "name_key": name_key(guardian_last), "first_name": rng.choice(FIRST_NAMES),
                                  "address_lines": []})
        with engine.begin() as connection:
            student_ids = dict(connection.execute(insert(Student).returning(Student.siecle_id, Student.id),
                                                  students).all())
            guardian_ids = dict(connection.execute(insert(Guardian).returning(Guardian.siecle_id, Guardian.id),
                                                   guardians).all())
            connection.execute(insert(GuardianLink), [
                {"guardian_id": guardian_ids[f"{index}-{rank}"], "student_id": student_ids[str(index)],
                 "legal_rank": rank} for index in range(per_school) for rank in (1, 2)])
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE students; ANALYZE guardians; ANALYZE guardian_links"))
        else:
            connection.execute(text("ANALYZE"))
    return uais


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--students-per-school", type=int, default=5000)
    parser.add_argument("--postgres", action="store_true", help="a new database on 127.0.0.1:5432")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="search-bench-"))
    env = {"TS_DATA_DIR": str(work), "TS_LOG_LEVEL": "WARNING"}
    database = f"ts_search_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    if args.postgres:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        env["TS_ACCOUNTS_DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    platform = Platform(Settings.from_env(env))
    try:
        platform.runtime("accounts").migrate()
        started = time.perf_counter()
        uais = populate(platform, args.schools, args.students_per_school)
        total = args.schools * args.students_per_school
        print(f"backend: {'PostgreSQL' if args.postgres else 'SQLite (embedded)'}; {total} students written in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        timings = []
        for kind in (AccountKind.STUDENT, AccountKind.GUARDIAN):
            for typed in TYPED:
                with platform.runtime("accounts").uow() as uow:
                    begun = time.perf_counter()
                    rows = search(uow.session, uais[len(uais) // 2], kind, SearchFilters(name_prefix=typed))
                    elapsed = (time.perf_counter() - begun) * 1000
                timings.append(elapsed)
                print(f"  {kind.value:8} « {typed} »: {len(rows):5d} row(s) in {elapsed:7.1f} ms")
        print(f"search_bench: students={total} median_ms={statistics.median(timings):.1f} worst_ms={max(timings):.1f}")
    finally:
        platform.dispose()
        if args.postgres:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
