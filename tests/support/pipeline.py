"""Running several services' relays and workers together (threads), until a condition holds:
the whole event flow of a feature, on the in-memory broker or on RabbitMQ. Also: changes released
at the same moment, and the test that every published event has been applied."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from sqlalchemy import func, select

from support.bus import queue_size, wait_for
from ts_shared.runtime.process import Platform, build_worker


@contextmanager
def services_running(platform: Platform, *, services=("accounts", "notifier"), paused=()):
    """The relays of `services` and the workers of those not `paused` (a paused consumer lets its
    queue fill up: the events it would apply are "in flight"), until the block ends."""
    stop = threading.Event()
    workers = [build_worker(platform, name) for name in services
               if platform.spec(name).subscription and name not in paused]
    relays = [platform.runtime(name).relay() for name in services]
    threads = [threading.Thread(target=worker.run, daemon=True) for worker in workers]
    threads += [threading.Thread(target=relay.run, args=(stop,), kwargs={"poll_seconds": 0.05}, daemon=True)
                for relay in relays]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=10)


def run_services(platform: Platform, until, *, services=("accounts", "notifier"), paused=(),
                 timeout: float = 60.0) -> None:
    with services_running(platform, services=services, paused=paused):
        wait_for(until, timeout=timeout)


def at_once(*changes) -> list:
    """Run each change in its own thread, all released together by a barrier (as two requests
    arriving at the same moment); returns their results, or re-raises the first failure."""
    barrier, results, failures = threading.Barrier(len(changes)), [None] * len(changes), []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = changes[index]()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(changes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if failures:
        raise failures[0]
    return results


def everything_applied(platform: Platform, *consumers: str, source: str = "accounts") -> bool:
    """`source`'s outbox is all published, and each consumer's queue is empty with every event of
    its subscription recorded as processed."""
    runtime = platform.runtime(source)
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as connection:
        unsent = connection.execute(
            select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        ).scalar_one()
        published = dict(
            connection.execute(select(outbox.c.event_type, func.count()).group_by(outbox.c.event_type)).all()
        )
    if unsent:
        return False
    for name in consumers:
        consumer = platform.runtime(name)
        subscription = consumer.spec.subscription
        expected = sum(count for event_type, count in published.items() if event_type in subscription.routing_keys)
        with consumer.engine.connect() as connection:
            processed = connection.execute(
                select(func.count()).select_from(consumer.spec.tables.processed_events)).scalar_one()
        if processed < expected or queue_size(platform.settings.broker_url, subscription) != 0:
            return False
    return True
