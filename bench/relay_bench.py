"""Outbox relay benchmark: how fast a relay empties an outbox, and how soon the bus drains after a
broker outage.

    .venv/bin/python bench/relay_bench.py                      # 20,000 events, 1 relay; then the outage
    .venv/bin/python bench/relay_bench.py --events 5000 --relays 2 --skip-outage

Both parts run on the real RabbitMQ (127.0.0.1:5672, a fresh virtual host made with rabbitmqctl,
every service's queue declared: quorum queues, as in production) and PostgreSQL (127.0.0.1:5432,
fresh accounts and stats databases).

(a) --events account.created events are written to the accounts outbox before the clock starts;
    --relays relays (threads, each with its own connections, as separate `tsctl relay` processes
    would) publish them with publisher confirms. The clock stops when the last row is marked sent.
(b) A relay and a stats worker run between a userspace TCP proxy (tests/support/tcp_proxy.py) and
    the broker. The proxy cuts every connection and refuses new ones for --outage-seconds while
    --outage-events events are committed; then the broker is back. The figure is the time from
    the broker's return until the stats worker has applied every event.

Targets on the 2-core machine: >= 2,000 events/s; drained <= 5 s after the broker's return.
The last line is machine-readable:
relay_bench: events_per_s=<n> drain_after_outage_s=<s>
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from pathlib import Path

from kombu import Connection, Queue
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the fault tests' TCP proxy

from scratch import RABBITMQ_HOST, RABBITMQ_PORT, scratch_platform  # noqa: E402
from support.tcp_proxy import TcpProxy  # noqa: E402
from ts_shared.config import Settings  # noqa: E402
from ts_shared.messaging.envelope import new_event  # noqa: E402
from ts_shared.messaging.outbox import add_to_outbox  # noqa: E402
from ts_shared.runtime.process import Platform, build_worker  # noqa: E402

UAI = "0541234X"



def account_created(n: int):
    child = {"school_uai": UAI, "student_id": str(100000 + n), "division": "3A", "mef_code": "10310019110",
             "mefstat": "1031"}
    account = {"account_id": f"bench-{n}", "version": 1, "kind": "student", "login": f"eleve.bench{n}",
               "state": "not_notified", "children": [child]}
    return new_event("account.created", {"account": account}, producer="accounts", school_uai=UAI)


def write_events(runtime, count: int, start: int = 0) -> None:
    chunk = 5000
    for first in range(start, start + count, chunk):
        with runtime.uow() as uow:
            add_to_outbox(uow.session, runtime.spec.tables.outbox,
                          [account_created(n) for n in range(first, min(first + chunk, start + count))])
            uow.commit()


def count_rows(runtime, table, *where) -> int:
    with runtime.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def bench_throughput(platform: Platform, events: int, relays: int) -> float:
    accounts = platform.runtime("accounts")
    outbox = accounts.spec.tables.outbox
    workers = [accounts.relay() for _ in range(relays)]
    for relay in workers:
        relay.publish_pending()  # connected, the topology declared (the outbox is still empty)
    write_events(accounts, events)
    published = [0] * relays

    def run(index: int) -> None:
        published[index] = workers[index].publish_pending()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(relays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for relay in workers:
        relay.close()
    with Connection(platform.settings.broker_url) as connection:  # (b) starts from an empty queue
        Queue("ts.stats", no_declare=True)(connection.default_channel).purge()
    unsent = count_rows(accounts, outbox, outbox.c.sent_at.is_(None))
    rate = events / elapsed
    print(f"(a) {events} events, {relays} relay(s): {elapsed:.2f} s, {rate:.0f} events/s "
          f"(published per relay: {published}; unsent left: {unsent})")
    return rate


def bench_outage(settings: Settings, events: int, outage_seconds: float) -> float:
    proxy = TcpProxy(RABBITMQ_HOST, int(RABBITMQ_PORT)).start()
    through = settings.broker_url.replace(f"{RABBITMQ_HOST}:{RABBITMQ_PORT}", f"127.0.0.1:{proxy.port}")
    platform = Platform(settings.with_overrides(broker_url=through))
    accounts, stats = platform.runtime("accounts"), platform.runtime("stats")
    already = count_rows(stats, stats.spec.tables.processed_events)
    stop = threading.Event()
    relay = accounts.relay()
    worker = build_worker(platform, "stats")
    threads = [threading.Thread(target=relay.run, args=(stop,), kwargs={"poll_seconds": settings.relay_poll_seconds}),
               threading.Thread(target=worker.run)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)  # both connected
        proxy.refusing = True
        proxy.cut()
        down_at = time.monotonic()
        write_events(accounts, events, start=10_000_000)
        time.sleep(max(0.0, outage_seconds - (time.monotonic() - down_at)))
        proxy.refusing = False
        back_at = time.monotonic()
        outbox, published = accounts.spec.tables.outbox, None
        while count_rows(stats, stats.spec.tables.processed_events) < already + events:
            if published is None and not count_rows(accounts, outbox, outbox.c.sent_at.is_(None)):
                published = time.monotonic() - back_at
            if time.monotonic() - back_at > 120:
                raise SystemExit("(b) not drained 120 s after the broker's return")
            time.sleep(0.05)
        drained = time.monotonic() - back_at
    finally:
        stop.set()
        worker.stop()
        for thread in threads:
            thread.join(timeout=60)
        platform.dispose()
        proxy.close()
    print(f"(b) broker away {outage_seconds:.0f} s while {events} events were committed: every one published "
          f"{published if published is not None else drained:.2f} s and applied {drained:.2f} s after its return")
    return drained


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--relays", type=int, default=1)
    parser.add_argument("--outage-seconds", type=float, default=30)
    parser.add_argument("--outage-events", type=int, default=500)
    parser.add_argument("--skip-outage", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING if os.environ.get("TS_BENCH_VERBOSE") else logging.ERROR,
        format="%(asctime)s %(name)s %(message)s",
    )

    drained = float("nan")  # when the outage is skipped
    with scratch_platform("relay_bench_", ("accounts", "stats"), TS_RELAY_POLL_SECONDS="0.1") as platform:
        rate = bench_throughput(platform, args.events, args.relays)
        if not args.skip_outage:
            drained = bench_outage(platform.settings, args.outage_events, args.outage_seconds)
    print(f"relay_bench: events_per_s={rate:.0f} drain_after_outage_s={drained:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
