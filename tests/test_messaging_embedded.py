"""The outbox and the idempotent consumer on the embedded stack: SQLite and kombu's in-memory
broker. (The same guarantees under faults are proven on RabbitMQ and PostgreSQL in
tests/integration.)"""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from support.bus import drain, publish_raw, queue_size, reset_memory_broker, run_relays_concurrently, run_worker_until
from support.events import account_created
from ts_accounts.adapters.orm import School
from ts_accounts.service_layer.schools import add_school
from ts_shared.db import database_unavailable
from ts_shared.messaging.outbox import add_to_outbox
from ts_shared.runtime.process import build_worker
from ts_stats.adapters.orm import AccountSnapshot


@pytest.fixture
def platform(platform):
    """Every service's database migrated (conftest.py copies them), the in-memory broker empty."""
    reset_memory_broker()
    yield platform
    reset_memory_broker()


def _count(runtime, table) -> int:
    with runtime.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_change_and_its_event_commit_together(platform):
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()
    assert _count(accounts, School.__table__) == 1
    assert _count(accounts, accounts.spec.tables.outbox) == 1


def test_a_failed_change_leaves_no_event_behind(platform):
    accounts = platform.runtime("accounts")
    with pytest.raises(RuntimeError):
        with accounts.uow() as uow:
            add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY")
            raise RuntimeError("the use case fails after its change")
    assert _count(accounts, School.__table__) == 0
    assert _count(accounts, accounts.spec.tables.outbox) == 0


def test_the_relay_publishes_each_event_once_and_marks_it_sent(platform):
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()
    relay = accounts.relay()
    assert relay.publish_pending() == 1
    assert relay.publish_pending() == 0
    with accounts.engine.connect() as connection:
        assert connection.execute(select(accounts.spec.tables.outbox.c.sent_at)).scalar_one() is not None
    # Routed to every service that subscribes to it, and to no other.
    url = platform.settings.broker_url
    assert queue_size(url, platform.spec("portal").subscription) == 1
    assert queue_size(url, platform.spec("notifier").subscription) == 1
    assert queue_size(url, platform.spec("stats").subscription) == 1  # its name and academy, for the pages
    assert queue_size(url, platform.spec("accounts").subscription) == 0


def test_two_relays_on_one_sqlite_outbox_never_publish_a_row_twice(platform):
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_to_outbox(uow.session, accounts.spec.tables.outbox, [account_created(n) for n in range(300)])
        uow.commit()
    published = run_relays_concurrently([accounts.relay(), accounts.relay()])
    assert sum(published) == 300 and min(published) > 0  # both took part
    ids = [message_id for _, _, message_id in drain(platform.settings.broker_url, "ts.stats")]
    assert len(ids) == 300 and len(set(ids)) == 300


def test_a_consumer_applies_a_message_delivered_twice_only_once(platform):
    stats = platform.runtime("stats")
    event = account_created(1)
    for _ in range(2):
        publish_raw(platform.settings.broker_url, event.to_message(), event.type, event.id)
    publish_raw(platform.settings.broker_url, account_created(2).to_message(), "account.created")
    worker = build_worker(platform, "stats")
    run_worker_until(worker, lambda: queue_size(platform.settings.broker_url, stats.spec.subscription) == 0
                     and _count(stats, stats.spec.tables.processed_events) == 2)
    assert _count(stats, AccountSnapshot.__table__) == 2
    assert worker.consumers[0].apply(event) is False  # a third copy: recognised as a duplicate


def test_a_message_that_keeps_failing_goes_to_the_dead_letter_queue_and_the_rest_flows(platform, monkeypatch):
    stats = platform.runtime("stats")
    worker = build_worker(platform, "stats")
    consumer = worker.consumers[0]
    consumer.retry_delay = 0.001
    poison, healthy = account_created(1), account_created(2)
    consumer.batch_size = 1  # the one-by-one path, whose handler is replaced here (batches: test_batches.py)
    original = consumer.subscription.handlers["account.created"]
    attempts = []

    def fails_for_poison(uow, event):
        if event.id == poison.id:
            attempts.append(event.id)
            raise ValueError("cannot apply this one")
        original(uow, event)

    monkeypatch.setitem(consumer.subscription.handlers, "account.created", fails_for_poison)
    url = platform.settings.broker_url
    publish_raw(url, poison.to_message(), poison.type, poison.id)
    publish_raw(url, healthy.to_message(), healthy.type, healthy.id)
    run_worker_until(worker, lambda: queue_size(url, stats.spec.subscription, dead_letters=True) == 1
                     and _count(stats, AccountSnapshot.__table__) == 1)
    assert len(attempts) == stats.spec.subscription.max_deliveries
    [(body, headers, message_id)] = drain(url, "ts.stats.dlq")
    assert message_id == poison.id and body["id"] == poison.id
    assert headers["x-ts-error"] == "ValueError: cannot apply this one"
    assert headers["x-ts-deliveries"] == stats.spec.subscription.max_deliveries
    assert _count(stats, stats.spec.tables.processed_events) == 1  # the failed one left no trace


def test_an_invalid_message_is_dead_lettered_at_once(platform):
    stats = platform.runtime("stats")
    url = platform.settings.broker_url
    broken = account_created(1).to_message()
    broken["payload"]["account"]["state"] = "exploded"
    publish_raw(url, broken, "account.created")
    worker = build_worker(platform, "stats")
    run_worker_until(worker, lambda: queue_size(url, stats.spec.subscription, dead_letters=True) == 1)
    [(_, headers, _)] = drain(url, "ts.stats.dlq")
    assert "invalid account.created payload" in headers["x-ts-error"]
    assert headers["x-ts-deliveries"] == 1
    assert _count(stats, AccountSnapshot.__table__) == 0


def test_a_locked_database_pauses_a_consumer_but_a_broken_statement_counts_as_a_failure(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'stats.sqlite'}", connect_args={"timeout": 0})
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE snapshots (id INTEGER)")
    locker = engine.raw_connection()
    locker.execute("BEGIN EXCLUSIVE")  # another process writing
    try:
        with pytest.raises(OperationalError) as locked, engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO snapshots VALUES (1)")
    finally:
        locker.rollback()
        locker.close()
    with pytest.raises(OperationalError) as broken, engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO snapshot VALUES (1)")  # a bug: no such table
    engine.dispose()
    assert database_unavailable(locked.value)
    assert not database_unavailable(broken.value)
