"""Statistics benchmark: how fast one stats worker applies account events, and how long the
statistics pages take.

    .venv/bin/python bench/stats_bench.py                         # 20,000 events; a 1,000-student school; 100 schools
    .venv/bin/python bench/stats_bench.py --events 5000 --workers 2 --academy-schools 20

Everything runs on the real RabbitMQ (127.0.0.1:5672, a fresh virtual host made with rabbitmqctl,
quorum queues as in production) and PostgreSQL (127.0.0.1:5432, fresh accounts and stats databases).

(a) --events account events (each account created, notified, then a quarter of them used) are
    written to the accounts outbox and published by a relay into the stats queue before the clock
    starts; --workers stats workers (threads, each with its own connections) then consume them by
    batches (one transaction per batch, acknowledged after its commit). The clock stops when every
    event id is in stats' processed_events.
(b) G1 and G2 (« Synthèse comptes élèves / responsables ») of a school of --school-students
    students (two guardian accounts each, 4 MEF, 8 divisions each), and (c) the academy's campaign
    view over --academy-schools schools of --academy-students students each: the copies are
    written straight into the stats database, then each page is asked --repeat times through the
    stats app (Flask, in process, as the gateway would forward it); the figure is the median.

Targets on the 2-core machine: >= 2,000 events/s; each page <= 200 ms.
The last line is machine-readable:
stats_bench: events_per_s=<n> school_page_ms=<ms> academy_page_ms=<ms>
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, UTC

from sqlalchemy import func, select
from werkzeug.test import Client

from scratch import scratch_platform
from ts_shared.messaging.envelope import new_event
from ts_shared.messaging.outbox import add_to_outbox
from ts_shared.runtime.process import Platform, build_worker
from ts_shared.web.staff_session import SCHOOL_RIGHTS, STAFF_IDENTITY_HEADER, StaffIdentity, seal_identity
from ts_stats.service_layer.counters import record_accounts, record_school

UAI = "0541234X"
MEFS = (("10010012110", "6EME", "1001"), ("10110001110", "5EME", "1011"), ("10210001110", "4EME", "1021"),
        ("10310019110", "3EME", "1031"))
NOW = datetime.now(UTC)



def account(uai: str, n: int, *, kind: str, student: int, version: int = 1, state: str = "not_notified") -> dict:
    mef, label, mefstat = MEFS[student % len(MEFS)]
    division = f"{label[0]}{'ABCDEFGH'[student // 4 % 8]}"
    child = {"school_uai": uai, "student_id": f"{uai}-{student}", "division": division,
             "mef_code": mef, "mef_label": label, "mefstat": mefstat, "kept_from_previous_school": False,
             "guardian_id": f"{uai}-g{n}" if kind == "guardian" else None,
             "legal_rank": 1 if kind == "guardian" else None}
    return {"account_id": f"{uai}-{kind}-{n}", "version": version, "kind": kind, "login": f"bench.{uai}.{kind}{n}",
            "state": state, "notified_at": NOW - timedelta(days=n % 60) if state != "not_notified" else None,
            "activated_at": NOW - timedelta(days=n % 50) if state == "used" else None, "access_refused": n % 97 == 0,
            "closed": False, "children": [child]}


def account_events(count: int) -> list:
    """Accounts created, then notified, then a quarter of them used: `count` events in all."""
    accounts = max(1, count * 4 // 9)
    events = []
    for n in range(accounts):
        events.append(("account.created", account(UAI, n, kind="student", student=n)))
    for n in range(accounts):
        events.append(("account.notified", account(UAI, n, kind="student", student=n, version=2, state="notified")))
    for n in range(0, accounts, 4):
        events.append(("account.activated", account(UAI, n, kind="student", student=n, version=3, state="used")))
    return [new_event(kind, {"account": snapshot}, producer="accounts", school_uai=UAI)
            for kind, snapshot in events[:count]]


def count_rows(runtime, table) -> int:
    with runtime.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def bench_events(platform: Platform, events: int, workers: int) -> float:
    accounts, stats = platform.runtime("accounts"), platform.runtime("stats")
    made = account_events(events)
    with accounts.uow() as uow:
        add_to_outbox(uow.session, accounts.spec.tables.outbox, made)
        uow.commit()
    relay = accounts.relay()
    while relay.publish_pending():
        pass
    relay.close()
    running = [build_worker(platform, "stats") for _ in range(workers)]
    threads = [threading.Thread(target=worker.run) for worker in running]
    processed = stats.spec.tables.processed_events
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        while count_rows(stats, processed) < len(made):
            if time.perf_counter() - started > 600:
                raise SystemExit("(a) not applied after 600 s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        for worker in running:
            worker.stop()
        for thread in threads:
            thread.join(timeout=60)
    rate = len(made) / elapsed
    print(f"(a) {len(made)} account events, {workers} stats worker(s) taking batches of "
          f"{stats.spec.consume_batch}: {elapsed:.2f} s, {rate:.0f} events/s")
    return rate


def fill_school(stats, uai: str, name: str, students: int, academy: str = "NCY") -> None:
    rows = []
    for n in range(students):
        state = ("not_notified", "notified", "used")[n % 3]
        rows.append(account(uai, n, kind="student", student=n, state=state))
        for rank in (0, 1):
            guardian = 2 * n + rank
            guardian_state = ("not_notified", "notified", "activating", "used")[guardian % 4]
            rows.append(account(uai, guardian, kind="guardian", student=n, state=guardian_state))
    with stats.uow() as uow:
        record_school(uow.session, uai, {"name": name, "academy_code": academy, "settings_version": 1,
                                         "service_labels": {}})
        for first in range(0, len(rows), 2000):
            record_accounts(uow.session, rows[first:first + 2000])
        uow.commit()


def median_ms(client: Client, path: str, header: str, repeat: int, first: list | None = None) -> float:
    started = time.perf_counter()
    response = client.get(path, headers={STAFF_IDENTITY_HEADER: header})  # warm-up (templates, plans)
    assert response.status_code == 200, (path, response.status_code)
    if first is not None:
        first.append((time.perf_counter() - started) * 1000)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, headers={STAFF_IDENTITY_HEADER: header})
        response.get_data()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def bench_pages(platform: Platform, school_students: int, schools: int, academy_students: int,
                repeat: int) -> tuple[float, float]:
    stats = platform.runtime("stats")
    fill_school(stats, "0549999Z", "Collège du banc d'essai", school_students)
    started = time.perf_counter()
    for index in range(schools):
        fill_school(stats, f"07{index:05d}A", f"Établissement {index}", academy_students, academy="BEN")
    print(f"    ({schools} schools of {academy_students} students written in {time.perf_counter() - started:.0f} s)")
    client = Client(stats.spec.create_app(stats))
    token = platform.settings.internal_token
    head = StaffIdentity(staff_id=1, login="chef.bench", display_name="Chef", school_uai="0549999Z",
                         school_name="Collège du banc d'essai", rights=frozenset(SCHOOL_RIGHTS), academy_admin=False,
                         expires_at=time.time() + 3600)
    academy = StaffIdentity(staff_id=2, login="admin.bench", display_name="Admin", school_uai=None, school_name=None,
                            rights=frozenset(), academy_admin=True, expires_at=time.time() + 3600, academy_code="BEN")
    g1 = median_ms(client, "/admin/stats/", seal_identity(head, token), repeat)
    g2 = median_ms(client, "/admin/stats/responsables", seal_identity(head, token), repeat)
    cold: list[float] = []
    view = median_ms(client, "/admin/stats/academie", seal_identity(academy, token), repeat, cold)
    print(f"(b) a school of {school_students} students ({3 * school_students} accounts): "
          f"G1 {g1:.0f} ms, G2 {g2:.0f} ms "
          f"(median of {repeat})")
    print(f"(c) the academy's campaign view, {schools} schools ({3 * academy_students * schools} accounts): "
          f"{view:.0f} ms (the first view after every school changed, computing each school's line again: "
          f"{cold[0]:.0f} ms)")
    return max(g1, g2), view


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--school-students", type=int, default=1000)
    parser.add_argument("--academy-schools", type=int, default=100)
    parser.add_argument("--academy-students", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING if os.environ.get("TS_BENCH_VERBOSE") else logging.ERROR)

    with scratch_platform("stats_bench_", ("accounts", "stats")) as platform:
        rate = bench_events(platform, args.events, args.workers)
        school_ms, academy_ms = bench_pages(platform, args.school_students, args.academy_schools,
                                            args.academy_students, args.repeat)
    print(f"stats_bench: events_per_s={rate:.0f} school_page_ms={school_ms:.0f} academy_page_ms={academy_ms:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
