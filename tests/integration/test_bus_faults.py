"""The two guarantees of the bus, proven under faults on the real RabbitMQ and PostgreSQL:

(a) a change commits even when the broker is down, and its event is published once it is back;
(b) a consumer applies each event's effect exactly once, whatever crashes or duplicates occur.

Each test gets its own RabbitMQ virtual host and PostgreSQL databases. The faults are made
without root: a userspace TCP proxy, subprocesses killed at crash points (TS_CRASH_POINT),
pg_terminate_backend, monkeypatched handlers (docs/architecture.md and docs/events.md: the rules they check).
"""
from __future__ import annotations

import signal
import subprocess
import threading

import pytest
from amqp.exceptions import AMQPError, MessageNacked
from click.testing import CliRunner
from kombu import Connection, Exchange, Producer, Queue
from kombu.exceptions import KombuError
from sqlalchemy import create_engine, select, text

from support.bus import (
    consume_everything, count_rows, drain, publish_raw, queue_size, run_relays_concurrently, run_worker_until, wait_for,
)
from support.events import account_created
from support.infra import POSTGRES_ADMIN_URL
from support.settings import environment_for, start_tsctl
from ts_accounts.service_layer.schools import add_school
from ts_portal.adapters.orm import SchoolPortalSettings
from ts_shared.messaging.bus import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, declare_topology
from ts_shared.messaging.outbox import ConfirmTimeout, add_to_outbox
from ts_shared.runtime.cli import cli
from ts_shared.runtime.process import Platform, build_worker
from ts_shared.service import all_subscriptions
from ts_stats.adapters.orm import AccountSnapshot

# What a relay raises when the broker is unreachable or never confirms: the socket's error, or
# kombu's / amqp's wrapping of it, or the relay's own confirm timeout.
BROKER_ERRORS = (OSError, KombuError, AMQPError, ConfirmTimeout)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

def _outbox_rows(runtime):
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as connection:
        return connection.execute(select(outbox.c.sent_at, outbox.c.attempts, outbox.c.last_error)).all()


def _add_demo_school(platform: Platform) -> None:
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()


# --- (a) never lose an event ---------------------------------------------------------------------


def test_changes_commit_while_the_broker_is_down_and_their_events_leave_once_it_is_back(
    make_platform, rabbitmq_url, proxy
):
    proxy.refusing = True  # the broker cannot be reached
    platform = make_platform("accounts", "portal", broker_url=proxy.reroute(rabbitmq_url))
    _add_demo_school(platform)  # the change commits regardless
    accounts = platform.runtime("accounts")
    relay = accounts.relay()
    with pytest.raises(BROKER_ERRORS):
        relay.publish_pending()
    [(sent_at, _, _)] = _outbox_rows(accounts)
    assert sent_at is None

    stop = threading.Event()
    loop = threading.Thread(target=relay.run, args=(stop,), kwargs={"poll_seconds": 0.1, "max_backoff": 0.5})
    loop.start()
    try:
        stop.wait(1.0)  # the relay keeps failing meanwhile, the row keeps waiting
        assert _outbox_rows(accounts)[0].sent_at is None
        proxy.refusing = False  # the broker is back
        wait_for(lambda: _outbox_rows(accounts)[0].sent_at is not None)
    finally:
        stop.set()
        loop.join(timeout=10)
    assert len(drain(rabbitmq_url, "ts.portal")) == 1  # exactly one delivery


@pytest.mark.parametrize("fault", ["confirm_never_comes", "connection_cut_while_waiting"])
def test_an_unconfirmed_publication_stays_unsent_is_published_again_and_applied_once(
    make_platform, rabbitmq_url, proxy, fault
):
    platform = make_platform("accounts", "portal", broker_url=proxy.reroute(rabbitmq_url))
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai="0541234X", name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()
    relay = accounts.relay()
    relay.confirm_timeout = 2
    assert relay.publish_pending() == 1  # a healthy publication first: the channel is in confirm mode
    with accounts.uow() as uow:
        add_school(uow, uai="0573321A", name="Lycée Henri Poincaré", academy_code="NCY")
        uow.commit()
    proxy.drop_downstream = True  # the message reaches the broker, its confirm never comes back
    if fault == "connection_cut_while_waiting":
        threading.Timer(0.5, proxy.cut).start()
    with pytest.raises(BROKER_ERRORS):
        relay.publish_pending()
    unsent = [row for row in _outbox_rows(accounts) if row.sent_at is None]
    assert len(unsent) == 1 and unsent[0].attempts == 1 and unsent[0].last_error

    proxy.drop_downstream = False
    proxy.cut()
    assert relay.publish_pending() == 1
    relay.close()
    assert all(row.sent_at is not None for row in _outbox_rows(accounts))
    # 3 messages for 2 events: the unconfirmed copy had reached the queue.
    assert queue_size(rabbitmq_url, platform.spec("portal").subscription) == 3
    consume_everything(platform, "portal", applied=2)
    assert count_rows(platform.runtime("portal"), SchoolPortalSettings.__table__) == 2


def test_a_relay_killed_after_publishing_but_before_marking_sent_publishes_again_and_the_consumer_dedupes(
    make_platform, rabbitmq_url
):
    platform = make_platform("accounts", "portal")
    platform.settings = platform.settings.with_overrides(relay_lease_seconds=2.0)  # the dead relay's claim expires soon
    _add_demo_school(platform)
    accounts = platform.runtime("accounts")
    crashed = start_tsctl(platform.settings, "relay", "accounts", crash_point="relay.after_publish")
    assert crashed.wait(timeout=60) == -signal.SIGKILL
    assert _outbox_rows(accounts)[0].sent_at is None
    assert queue_size(rabbitmq_url, platform.spec("portal").subscription) == 1

    relay = start_tsctl(platform.settings, "relay", "accounts")
    try:
        wait_for(lambda: _outbox_rows(accounts)[0].sent_at is not None, timeout=60)
    finally:
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0, relay.stdout.read().decode()
    assert queue_size(rabbitmq_url, platform.spec("portal").subscription) == 2
    consume_everything(platform, "portal", applied=1)
    assert count_rows(platform.runtime("portal"), SchoolPortalSettings.__table__) == 1


def test_an_unroutable_event_is_not_marked_sent(make_platform, rabbitmq_url):
    platform = make_platform("accounts")
    _add_demo_school(platform)
    accounts = platform.runtime("accounts")
    relay = accounts.relay()
    relay.subscriptions = []  # no queue is bound: the broker returns the message
    assert relay.publish_pending() == 0
    relay.close()
    [(sent_at, attempts, last_error)] = _outbox_rows(accounts)
    assert sent_at is None and attempts == 1 and last_error.startswith("unroutable")


def test_a_nack_from_a_full_queue_leaves_the_event_unsent(make_platform, rabbitmq_url):
    platform = make_platform("accounts")
    _add_demo_school(platform)
    with Connection(rabbitmq_url) as connection:
        channel = connection.default_channel
        Exchange(EVENTS_EXCHANGE.name, type="topic", durable=True)(channel).declare()
        Queue("full", Exchange(EVENTS_EXCHANGE.name, type="topic"), routing_key="school.#",
              queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"})(channel).declare()
    accounts = platform.runtime("accounts")
    relay = accounts.relay()
    with pytest.raises(MessageNacked):
        relay.publish_pending()
    [(sent_at, attempts, last_error)] = _outbox_rows(accounts)
    assert sent_at is None and attempts == 1 and last_error.startswith("MessageNacked")


def test_two_relays_on_postgresql_publish_every_row_and_none_twice(make_platform, rabbitmq_url):
    platform = make_platform("accounts")
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_to_outbox(uow.session, accounts.spec.tables.outbox, [account_created(n) for n in range(300)])
        uow.commit()
    published = run_relays_concurrently([accounts.relay(), accounts.relay()])
    assert sum(published) == 300 and min(published) > 0  # both took part
    ids = [message_id for _, _, message_id in drain(rabbitmq_url, "ts.stats")]
    assert len(ids) == 300 and len(set(ids)) == 300


# --- (b) never apply an event twice --------------------------------------------------------------


@pytest.mark.parametrize("crash_point", ["consumer.before_commit", "consumer.after_commit"])
def test_a_worker_killed_around_its_commit_still_applies_each_event_exactly_once(
    make_platform, rabbitmq_url, crash_point
):
    platform = make_platform("stats")
    events = [account_created(n) for n in range(20)]
    for event in events:
        publish_raw(rabbitmq_url, event.to_message(), event.type, event.id)
    crashed = start_tsctl(platform.settings, "worker", "stats", crash_point=crash_point)
    assert crashed.wait(timeout=60) == -signal.SIGKILL
    stats = platform.runtime("stats")
    applied_before_restart = count_rows(stats, AccountSnapshot.__table__)
    if crash_point == "consumer.before_commit":
        assert applied_before_restart == 0
    else:  # one transaction was committed: stats takes its deliveries by batches (one event or several)
        assert 1 <= applied_before_restart <= 20

    consume_everything(platform, "stats", applied=20)
    assert count_rows(stats, AccountSnapshot.__table__) == 20
    assert count_rows(stats, stats.spec.tables.processed_events) == 20


def test_duplicates_handled_by_two_consumers_at_once_are_applied_once(make_platform, rabbitmq_url):
    platform = make_platform("stats")
    events = [account_created(n) for n in range(50)]
    for event in events * 2:  # every event delivered twice
        publish_raw(rabbitmq_url, event.to_message(), event.type, event.id)
    stats = platform.runtime("stats")
    workers = [build_worker(platform, "stats"), build_worker(platform, "stats")]
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: queue_size(rabbitmq_url, stats.spec.subscription) == 0
                 and count_rows(stats, stats.spec.tables.processed_events) == 50, timeout=60)
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=10)
    assert count_rows(stats, AccountSnapshot.__table__) == 50


def test_a_handler_that_keeps_failing_is_dead_lettered_after_bounded_deliveries(
    make_platform, rabbitmq_url, monkeypatch
):
    platform = make_platform("stats")
    stats = platform.runtime("stats")
    worker = build_worker(platform, "stats")
    consumer = worker.consumers[0]
    consumer.retry_delay = 0.01
    poison, healthy = account_created(1), account_created(2)
    consumer.batch_size = 1  # the one-by-one path, whose handler is replaced here (batches: test_batches.py)
    original = consumer.subscription.handlers["account.created"]
    attempts = []

    def fails_for_poison(uow, event):
        if event.id == poison.id:
            attempts.append(1)
            raise ValueError("cannot apply this one")
        original(uow, event)

    monkeypatch.setitem(consumer.subscription.handlers, "account.created", fails_for_poison)
    publish_raw(rabbitmq_url, poison.to_message(), poison.type, poison.id)
    publish_raw(rabbitmq_url, healthy.to_message(), healthy.type, healthy.id)
    run_worker_until(worker, lambda: queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 1
                     and count_rows(stats, AccountSnapshot.__table__) == 1)
    # The broker counted the deliveries (x-delivery-count): exactly the bound, no more.
    assert len(attempts) == stats.spec.subscription.max_deliveries
    [(_, headers, message_id)] = drain(rabbitmq_url, "ts.stats.dlq")
    assert message_id == poison.id and headers["x-ts-error"] == "ValueError: cannot apply this one"


def test_a_message_that_kills_its_consumer_every_time_ends_in_the_dead_letter_queue(make_platform, rabbitmq_url):
    platform = make_platform("stats")
    stats = platform.runtime("stats")
    poison = account_created(1)
    publish_raw(rabbitmq_url, poison.to_message(), poison.type, poison.id)
    subscription = stats.spec.subscription
    for _ in range(subscription.max_deliveries + 2):
        if queue_size(rabbitmq_url, subscription, dead_letters=True) == 1:
            break
        worker = start_tsctl(platform.settings, "worker", "stats", crash_point="consumer.before_commit")
        try:
            # Each run dies on the message, or idles once the broker has dead-lettered it.
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    wait_for(lambda: queue_size(rabbitmq_url, subscription, dead_letters=True) == 1, timeout=10)
    [(_, headers, message_id)] = drain(rabbitmq_url, "ts.stats.dlq")
    assert message_id == poison.id
    assert headers["x-death"][0]["reason"] == "delivery_limit"
    assert count_rows(stats, AccountSnapshot.__table__) == 0


def test_a_database_session_killed_mid_transaction_commits_nothing_and_the_message_comes_back(
    make_platform, rabbitmq_url, monkeypatch
):
    platform = make_platform("stats")
    stats = platform.runtime("stats")
    worker = build_worker(platform, "stats")
    consumer = worker.consumers[0]
    consumer.retry_delay = 0.01
    consumer.batch_size = 1  # the one-by-one path, whose handler is replaced here (batches: test_batches.py)
    original = consumer.subscription.handlers["account.created"]
    backend_pid, killed, calls = [], threading.Event(), []

    def handler_killed_the_first_time(uow, event):
        calls.append(1)
        original(uow, event)
        if len(calls) == 1:
            backend_pid.append(uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            assert killed.wait(timeout=30)

    monkeypatch.setitem(consumer.subscription.handlers, "account.created", handler_killed_the_first_time)
    event = account_created(1)
    publish_raw(rabbitmq_url, event.to_message(), event.type, event.id)

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def terminate_when_ready():
        wait_for(lambda: bool(backend_pid), timeout=30)
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid[0]})
        killed.set()

    killer = threading.Thread(target=terminate_when_ready)
    killer.start()
    run_worker_until(worker, lambda: count_rows(stats, stats.spec.tables.processed_events) == 1)
    killer.join()
    admin.dispose()
    assert len(calls) == 2  # the first transaction died, the redelivery applied it
    assert count_rows(stats, AccountSnapshot.__table__) == 1


def test_ops_can_list_and_replay_dead_lettered_messages(make_platform, rabbitmq_url, monkeypatch):
    platform = make_platform("stats")
    stats = platform.runtime("stats")
    event = account_created(7)
    with Connection(rabbitmq_url, transport_options={"confirm_publish": True}) as connection:
        declare_topology(connection, all_subscriptions())
        Producer(connection.default_channel).publish(
            event.to_message(), exchange=DEAD_LETTER_EXCHANGE, routing_key="ts.stats", serializer="json",
            message_id=event.id, headers={"x-ts-error": "OperationalError: database was down", "x-ts-deliveries": 5})
    for name, value in environment_for(platform.settings).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    shown = runner.invoke(cli, ["dlq", "show", "stats"])
    assert shown.exit_code == 0, shown.output
    assert "OperationalError: database was down" in shown.output and event.id in shown.output
    assert "1 message(s) in ts.stats.dlq" in shown.output
    assert queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 1  # showing keeps them

    replayed = runner.invoke(cli, ["dlq", "replay", "stats"])
    assert replayed.exit_code == 0 and "1 message(s) replayed to ts.stats" in replayed.output
    assert queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 0
    consume_everything(platform, "stats", applied=1)
    assert count_rows(stats, AccountSnapshot.__table__) == 1
