"""Batch consumption: a batch of deliveries applied in one transaction and acknowledged after its
commit gives exactly what one-by-one gives — duplicates inside the batch or already processed,
versions out of order, a poison event among good ones, a worker killed before or after a commit."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, UTC

import pytest
from sqlalchemy import func, select

from support.bus import drain, publish_raw, queue_size, run_worker_until
from support.events import account_snapshot
from support.settings import settings_for
from ts_shared.messaging.envelope import new_event, parse_event
from ts_shared.runtime.process import Platform, build_worker
from ts_stats.adapters.orm import AccountChild, AccountSnapshot, ServiceAccessCount

UAI = "0541234X"
STATES = ("not_notified", "notified", "used")


def _events(accounts: int = 60) -> list:
    """Each account created then changed twice (versions 1..3), plus portal accesses."""
    events = []
    for n in range(accounts):
        for version, state in enumerate(STATES, start=1):
            snapshot = account_snapshot(n, version=version, state=state, kind="guardian" if n % 2 else "student")
            snapshot["children"][0]["division"] = f"3{'ABC'[n % 3]}"
            snapshot["access_refused"] = n % 7 == 0 and version == 3
            kind = "account.created" if version == 1 else "account.updated"
            events.append(new_event(kind, {"account": snapshot}, producer="accounts", school_uai=UAI))
    at = datetime(2026, 10, 5, tzinfo=UTC)
    for n in range(40):
        when = at + timedelta(days=n)
        events.append(new_event("portal.service_accessed", {
            "kind": "guardian", "service_code": "notes" if n % 3 else "vie_scolaire", "mefstat": "1031",
            "month": when.strftime("%Y-%m"), "accessed_at": when.isoformat()}, producer="portal", school_uai=UAI))
    return [parse_event(event.to_message()) for event in events]


def _state(runtime) -> tuple:
    with runtime.engine.connect() as connection:
        snapshots = sorted(connection.execute(select(AccountSnapshot.account_id, AccountSnapshot.version,
                                                     AccountSnapshot.state, AccountSnapshot.access_refused)).all())
        children = sorted(connection.execute(select(AccountChild.account_id, AccountChild.division)).all())
        accesses = sorted(connection.execute(select(ServiceAccessCount.month, ServiceAccessCount.service_code,
                                                    ServiceAccessCount.count)).all())
    return snapshots, children, accesses


@pytest.fixture
def two_stats(tmp_path):
    platforms = []
    for name in ("one", "two"):
        platform = Platform(settings_for(tmp_path / name))
        platform.runtime("stats").migrate()
        platforms.append(platform)
    yield [platform.runtime("stats") for platform in platforms]
    for platform in platforms:
        platform.dispose()


def test_a_batch_gives_what_one_by_one_gives(two_stats):
    one_by_one, batched = two_stats
    events = _events()
    shuffled = random.Random(3).sample(events, len(events))
    consumer = one_by_one.consumer()
    for event in events:  # in order, one transaction each
        consumer.apply(event)
    consumer = batched.consumer()
    assert consumer.batch_size == 200 and consumer.batch_handler is not None
    first = shuffled[:150]
    applied = consumer.apply_batch(first + first[:10])  # out of order, and copies inside the batch
    assert applied == [True] * 150 + [False] * 10
    applied = consumer.apply_batch(shuffled[140:])  # 10 already processed: dropped
    assert applied == [False] * 10 + [True] * (len(events) - 150)
    assert _state(batched) == _state(one_by_one)
    snapshots, _, accesses = _state(batched)
    assert {version for _, version, _, _ in snapshots} == {3} and sum(count for *_, count in accesses) == 40


def test_a_batch_killed_before_its_commit_leaves_nothing_and_comes_again(two_stats, monkeypatch):
    stats, _ = two_stats
    consumer = stats.consumer()
    events = _events(10)
    monkeypatch.setattr("ts_shared.messaging.consumer.crash_point", _dies_at("consumer.before_commit"))
    with pytest.raises(SystemExit):
        consumer.apply_batch(events)
    assert _state(stats) == ([], [], [])
    with stats.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(stats.spec.tables.processed_events)).scalar() == 0
    monkeypatch.undo()
    assert all(consumer.apply_batch(events))
    assert not any(consumer.apply_batch(events))  # killed after the commit, before the acks: redelivered, dropped


def _dies_at(point: str):
    def crash_point(name: str) -> None:
        if name == point:
            raise SystemExit(f"killed at {name}")
    return crash_point


def test_a_worker_takes_batches_from_the_broker_and_a_poison_event_does_not_hold_the_others(tmp_path, monkeypatch):
    from support.bus import reset_memory_broker
    reset_memory_broker()
    platform = Platform(settings_for(tmp_path))
    platform.runtime("stats").migrate()
    url = platform.settings.broker_url
    events = _events(20)
    poison = events[7]
    worker = build_worker(platform, "stats")
    consumer = worker.consumers[0]
    consumer.retry_delay = 0.001
    assert worker.prefetch_count >= consumer.batch_size
    original = consumer.subscription.handlers[poison.type]

    def fails_for_poison(uow, event):
        if event.id == poison.id:
            raise ValueError("cannot apply this one")
        original(uow, event)

    def batch_refusing_poison(uow, batch):
        if any(event.id == poison.id for event in batch):
            raise ValueError("cannot apply this one")
        platform.spec("stats").batch_handler(uow, batch)

    monkeypatch.setitem(consumer.subscription.handlers, poison.type, fails_for_poison)
    consumer.batch_handler = batch_refusing_poison
    batches = []
    real_apply_batch = consumer.apply_batch
    monkeypatch.setattr(consumer, "apply_batch", lambda batch: batches.append(len(batch)) or real_apply_batch(batch))
    for event in events + events[:5]:  # five published twice
        publish_raw(url, event.to_message(), event.type, event.id)
    stats = platform.runtime("stats")
    processed = stats.spec.tables.processed_events

    def done() -> bool:
        with stats.engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(processed)).scalar()
        return count == len(events) - 1 and queue_size(url, stats.spec.subscription, dead_letters=True) == 1

    run_worker_until(worker, done)
    assert max(batches) > 1  # deliveries did come by batches
    [(body, headers, _)] = drain(url, "ts.stats.dlq")
    assert body["id"] == poison.id and headers["x-ts-error"] == "ValueError: cannot apply this one"
    snapshots, _, accesses = _state(stats)
    assert sum(count for *_, count in accesses) == 40 - (poison.type == "portal.service_accessed")
    platform.dispose()
    reset_memory_broker()
