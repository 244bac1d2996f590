"""The bus through slow links, skewed clocks, outages and bad messages, on the real RabbitMQ and
PostgreSQL (issue 10): no event published twice by two relays, no good event dead-lettered by a
database outage, no message left unacknowledged, no event refused for a field it does not need,
ops commands that go past what they cannot read, a quick recovery and a quick stop, and outbox
and processed-event tables that stay bounded.

Faults are made without root: a userspace TCP proxy in front of RabbitMQ or PostgreSQL (slowed,
refusing, cut or silent), a table lock held by another session, a clock patched in one thread,
signals sent to `tsctl` subprocesses. Outages last seconds, not minutes: each is long enough for
the mechanism at stake (a delivery limit used up, a back-off that doubles) to show.
"""
from __future__ import annotations

import logging
import re
import signal
import subprocess
import threading
import uuid
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, insert, text

import ts_shared.db
from support.bus import (
    consume_everything, count_rows, drain, publish_many, publish_raw, queue_size, repeated, wait_for,
)
from support.events import account_created
from support.infra import rabbitmqctl
from support.settings import environment_for, start_tsctl
from ts_shared.db import utcnow
from ts_shared.messaging.bus import DEAD_LETTER_EXCHANGE
from ts_shared.messaging.outbox import PROCESSED_IDS_KEPT, SENT_ROWS_KEPT, add_to_outbox
from ts_shared.runtime.cli import cli
from ts_shared.runtime.process import build_worker
from ts_stats.adapters.orm import AccountSnapshot

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def _write_events(runtime, numbers) -> list[str]:
    events = [account_created(n) for n in numbers]
    with runtime.uow() as uow:
        add_to_outbox(uow.session, runtime.spec.tables.outbox, events)
        uow.commit()
    return [event.id for event in events]


def _unsent(runtime) -> int:
    outbox = runtime.spec.tables.outbox
    return count_rows(runtime, outbox, outbox.c.sent_at.is_(None))


def _run_until_sent(relays, runtime, *, setup=lambda index: None, within: float = 60) -> None:
    """Run every relay's passes, each in its thread, until the outbox has nothing unsent (or
    `within` seconds have passed: what was published twice by then is counted). Each relay starts
    half a second after the previous one: relays never run in step."""
    failures, stop = [], threading.Event()

    def run(index: int) -> None:
        setup(index)
        stop.wait(0.5 * index)
        try:
            while _unsent(runtime) and not stop.is_set():
                if not relays[index].publish_pending():
                    stop.wait(0.05)  # the other relay holds what is left
        except Exception as error:  # reported below: a relay must not fail here
            failures.append(error)
        finally:
            relays[index].close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(relays))]
    for thread in threads:
        thread.start()
    threads[0].join(timeout=within)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures


def _copies(broker_url: str, queue: str) -> tuple[int, int]:
    """(distinct events, extra copies) on a queue, which is emptied."""
    ids = [message_id for _, _, message_id in drain(broker_url, queue)]
    return len(set(ids)), len(ids) - len(set(ids))


def _invalid(n: int) -> dict:
    message = account_created(n).to_message()
    message["payload"]["account"]["state"] = "exploded"
    return message


def _unacknowledged(broker_url: str, queue: str) -> int:
    vhost = broker_url.rsplit("/", 1)[1]
    lines = rabbitmqctl("list_queues", "-p", vhost, "name", "messages_unacknowledged", "--quiet",
                        "--no-table-headers").splitlines()
    counts = dict(line.split("\t") for line in lines if "\t" in line)
    return int(counts[queue])


def _run_in_thread(target, *args, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


# --- 3. relays: a lease that covers the batch, on the database's clock ---------------------------


def test_two_relays_on_a_slow_broker_publish_each_event_once(make_platform, rabbitmq_url, proxy):
    # A 20 ms link each way and a 1.5 s lease stand for a slow broker and the 30 s lease: what
    # matters is whether a batch can outlast the lease (it did when each row waited for its confirm).
    platform = make_platform("accounts", broker_url=proxy.reroute(rabbitmq_url), relay_lease_seconds=1.5)
    accounts = platform.runtime("accounts")
    _write_events(accounts, range(600))
    proxy.delay = 0.02
    _run_until_sent([accounts.relay(), accounts.relay()], accounts)
    assert _copies(rabbitmq_url, "ts.stats") == (600, 0)


def test_a_relay_whose_clock_is_45_seconds_ahead_takes_no_row_from_another(make_platform, rabbitmq_url, monkeypatch):
    platform = make_platform("accounts")
    accounts = platform.runtime("accounts")
    _write_events(accounts, range(1000))
    host = threading.local()  # the skewed relay's thread is on a host whose clock is ahead

    class HostClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + getattr(host, "ahead", timedelta())

    monkeypatch.setattr(ts_shared.db, "datetime", HostClock)  # what utcnow() reads

    def skew(index: int) -> None:
        if index == 1:
            host.ahead = timedelta(seconds=45)

    _run_until_sent([accounts.relay(), accounts.relay()], accounts, setup=skew)
    assert _copies(rabbitmq_url, "ts.stats") == (1000, 0)


# --- 4. a database outage is not a handler failure ----------------------------------------------


def test_a_consumer_database_outage_dead_letters_nothing_and_everything_is_applied_after(
        make_platform, rabbitmq_url, database_proxy, caplog):
    # 3 s silent then 6 s closed stand for the 60 s outage: counted as failures, the deliveries
    # of most messages were used up within that time.
    caplog.set_level(logging.WARNING, logger="ts_shared")
    platform = make_platform("stats", database_proxies={"stats": database_proxy}, database_connect_timeout=2)
    stats = platform.runtime("stats")
    direct = create_engine(platform.settings.database_url("stats").replace(
        f"127.0.0.1:{database_proxy.port}", "{}:{}".format(*database_proxy.target)))

    def applied() -> int:
        with direct.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM processed_events")).scalar_one()

    events = [account_created(n) for n in range(30)]
    worker = build_worker(platform, "stats")
    worker.consumers[0].retry_delay = 0.01  # a handler's own failures are retried at once
    thread = _run_in_thread(worker.run)
    try:
        publish_many(rabbitmq_url, [(e.to_message(), e.type, e.id) for e in events[:10]])
        wait_for(lambda: applied() == 10)
        database_proxy.stalled = True  # the database vanishes: new connections go unanswered...
        database_proxy.cut()
        publish_many(rabbitmq_url, [(e.to_message(), e.type, e.id) for e in events[10:]])
        threading.Event().wait(3)  # longer than the connect timeout
        database_proxy.stalled = False  # ...then it refuses them...
        database_proxy.refusing = True
        database_proxy.cut()
        threading.Event().wait(6)
        database_proxy.refusing = False  # ...then it is back
        wait_for(lambda: applied() == 30 or queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True),
                 timeout=60)
    finally:
        worker.stop()
        thread.join(timeout=15)
        direct.dispose()
    assert queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 0
    assert count_rows(stats, AccountSnapshot.__table__) == 30
    assert "stats database unavailable" in caplog.text and "timeout" in caplog.text
    assert "stats database back" in caplog.text


def test_a_consumer_whose_database_does_not_answer_times_out_logs_it_and_recovers(make_platform, rabbitmq_url, caplog):
    caplog.set_level(logging.WARNING, logger="ts_shared")
    platform = make_platform("stats", database_statement_timeout=1.0)
    stats = platform.runtime("stats")
    locker = create_engine(platform.settings.database_url("stats"))
    held = locker.connect()
    held.execute(text("LOCK TABLE account_snapshots IN ACCESS EXCLUSIVE MODE"))  # e.g. a migration
    worker = build_worker(platform, "stats")
    thread = _run_in_thread(worker.run)
    try:
        events = [account_created(n) for n in range(5)]
        publish_many(rabbitmq_url, [(e.to_message(), e.type, e.id) for e in events])
        wait_for(lambda: "stats database unavailable" in caplog.text, timeout=30)
        assert "statement timeout" in caplog.text
        held.rollback()
        wait_for(lambda: count_rows(stats, AccountSnapshot.__table__) == 5, timeout=30)
    finally:
        held.close()
        locker.dispose()
        worker.stop()
        thread.join(timeout=15)
    assert queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 0


# --- 5. dead letters without nesting -------------------------------------------------------------


def test_invalid_messages_all_reach_the_dead_letter_queue_and_none_stays_unacknowledged(make_platform, rabbitmq_url):
    platform = make_platform("stats")
    stats = platform.runtime("stats")
    messages = []
    for n in range(100):
        valid = account_created(1000 + n)
        messages += [(_invalid(n), "account.created", str(uuid.uuid4())), (valid.to_message(), valid.type, valid.id)]
    publish_many(rabbitmq_url, messages)
    worker = build_worker(platform, "stats")
    thread = _run_in_thread(worker.run)
    try:
        wait_for(lambda: queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 100
                 and count_rows(stats, stats.spec.tables.processed_events) == 100, timeout=60)
        wait_for(lambda: _unacknowledged(rabbitmq_url, "ts.stats") == 0, timeout=10)  # the worker still runs
    finally:
        worker.stop()
        thread.join(timeout=15)
    assert count_rows(stats, AccountSnapshot.__table__) == 100
    dead = drain(rabbitmq_url, "ts.stats.dlq")
    assert len(dead) == 100 and all("invalid account.created payload" in h["x-ts-error"] for _, h, _ in dead)


# --- 6. unknown fields ---------------------------------------------------------------------------


def test_an_event_with_fields_its_consumer_does_not_know_is_applied(make_platform, rabbitmq_url):
    platform = make_platform("stats")
    stats = platform.runtime("stats")
    event = account_created(1)
    message = event.to_message()
    message["trace_id"] = "4bf92f3577b34da6"  # a newer producer's envelope field
    message["payload"]["batch_label"] = "Rentrée 2026"  # ... payload fields, at the top
    message["payload"]["account"]["display_name"] = "Léa Martin"  # ... and nested
    message["payload"]["account"]["children"][0]["classroom"] = "B12"
    publish_raw(rabbitmq_url, message, event.type, event.id)
    consume_everything(platform, "stats", applied=1)
    assert count_rows(stats, AccountSnapshot.__table__) == 1
    assert queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 0


# --- 7. tsctl dlq --------------------------------------------------------------------------------


@pytest.fixture
def tsctl(make_platform, monkeypatch):
    """Run `tsctl` in this process on a stats service on PostgreSQL: (platform, invoke)."""
    platform = make_platform("stats")
    for name, value in environment_for(platform.settings).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    return platform, lambda *args: runner.invoke(cli, list(args))


def test_dlq_show_and_replay_go_past_a_message_that_does_not_decode(tsctl, rabbitmq_url):
    platform, invoke = tsctl
    stats = platform.runtime("stats")
    publish_many(rabbitmq_url, [(b"\xff\xfe{not json", "ts.stats", "broken-1")], exchange=DEAD_LETTER_EXCHANGE,
                 content_type="application/json", headers={"x-ts-error": "undecodable message"})
    events = [account_created(n) for n in range(2)]
    publish_many(rabbitmq_url, [(e.to_message(), "ts.stats", e.id) for e in events], exchange=DEAD_LETTER_EXCHANGE,
                 headers={"x-ts-error": "OperationalError: database was down", "x-ts-deliveries": 5})

    shown = invoke("dlq", "show", "stats")
    assert shown.exit_code == 0, shown.output
    assert "broken-1" in shown.output and "{not json" in shown.output and "does_not_decode" in shown.output
    assert all(event.id in shown.output for event in events)
    assert "3 message(s) in ts.stats.dlq" in shown.output
    assert queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 3  # showing keeps them

    replayed = invoke("dlq", "replay", "stats")
    assert replayed.exit_code == 0, replayed.output
    assert "2 message(s) replayed to ts.stats" in replayed.output
    assert "1 message(s) skipped, left in ts.stats.dlq" in replayed.output and "broken-1" in replayed.output
    # The skipped message is back among the ready ones once the command's channel has closed.
    wait_for(lambda: queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 1, timeout=10)
    consume_everything(platform, "stats", applied=2)
    assert count_rows(stats, AccountSnapshot.__table__) == 2


def test_dlq_replay_replays_each_message_once_while_a_worker_dead_letters_them_again(tsctl, rabbitmq_url):
    platform, invoke = tsctl
    stats = platform.runtime("stats")
    publish_many(rabbitmq_url, [(_invalid(n), "ts.stats", f"invalid-{n}") for n in range(30)],
                 exchange=DEAD_LETTER_EXCHANGE)
    worker = build_worker(platform, "stats")
    thread = _run_in_thread(worker.run)
    try:
        replayed = invoke("dlq", "replay", "stats")
        assert replayed.exit_code == 0, replayed.output
        assert "30 message(s) replayed to ts.stats" in replayed.output
        # Still invalid: the worker dead-letters them again at once, and they stay there.
        wait_for(lambda: queue_size(rabbitmq_url, stats.spec.subscription, dead_letters=True) == 30)
    finally:
        worker.stop()
        thread.join(timeout=15)


# --- 8, 9. recovering from a broker outage, stopping during one ----------------------------------

RETRY = re.compile(r"retrying in ([0-9.]+) s")


def test_after_a_broker_outage_the_relay_and_the_worker_retry_every_few_seconds_and_catch_up(
        make_platform, rabbitmq_url, proxy, caplog):
    # 10 s away: an uncapped back-off doubling from 0.5 s (or kombu's 2, 4, 6 s) exceeds the cap by then.
    caplog.set_level(logging.INFO, logger="ts_shared")
    platform = make_platform("accounts", "stats", broker_url=proxy.reroute(rabbitmq_url))
    accounts, stats = platform.runtime("accounts"), platform.runtime("stats")
    stop = threading.Event()
    relay, worker = accounts.relay(), build_worker(platform, "stats")
    threads = [_run_in_thread(relay.run, stop, poll_seconds=0.1), _run_in_thread(worker.run)]
    try:
        _write_events(accounts, [0])
        wait_for(lambda: count_rows(stats, stats.spec.tables.processed_events) == 1)
        proxy.refusing = True
        proxy.cut()
        _write_events(accounts, range(1, 21))
        threading.Event().wait(10)
        proxy.refusing = False
        wait_for(lambda: count_rows(stats, stats.spec.tables.processed_events) == 21, timeout=30)
    finally:
        stop.set()
        worker.stop()
        for thread in threads:
            thread.join(timeout=15)
    waits = {logger: [float(RETRY.search(r.getMessage()).group(1)) for r in caplog.records
                      if r.name == logger and RETRY.search(r.getMessage())]
             for logger in ("ts_shared.messaging.outbox", "ts_shared.messaging.consumer")}
    assert all(len(found) >= 3 for found in waits.values()), waits
    assert max(max(found) for found in waits.values()) <= 3.0, waits


@pytest.mark.parametrize("command", [("worker", "stats"), ("relay", "accounts")])
def test_a_process_stops_within_ten_seconds_on_sigterm_while_the_broker_is_down(
    make_platform, rabbitmq_url, proxy, command
):
    proxy.refusing = True
    platform = make_platform("accounts", "stats", broker_url=proxy.reroute(rabbitmq_url))
    process = start_tsctl(platform.settings, *command)
    output: list[str] = []
    reader = _run_in_thread(lambda: output.extend(line.decode(errors="replace") for line in process.stdout))
    try:
        wait_for(lambda: sum("retrying in" in line for line in output) >= 2, timeout=60)
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"tsctl {' '.join(command)} still running 10 s after SIGTERM:\n{''.join(output)}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=5)
    assert code == 0, "".join(output)


# --- 10. bounded tables ---------------------------------------------------------------------------


def test_sent_outbox_rows_are_purged_on_schedule_while_events_keep_coming(make_platform, rabbitmq_url):
    platform = make_platform("accounts")
    accounts = platform.runtime("accounts")
    outbox = accounts.spec.tables.outbox
    numbers = iter(range(10**6))
    stop = threading.Event()
    relay = accounts.relay()
    relay.purge_every = timedelta(seconds=0.5)
    with repeated(lambda: _write_events(accounts, [next(numbers)]), every=0.02):
        thread = _run_in_thread(relay.run, stop, poll_seconds=0.2)
        try:
            wait_for(lambda: count_rows(accounts, outbox, outbox.c.sent_at.is_not(None)) >= 20)
            long_ago = utcnow() - SENT_ROWS_KEPT - timedelta(days=1)
            with accounts.engine.begin() as connection:
                connection.execute(insert(outbox), [
                    {"event_id": str(uuid.uuid4()), "event_type": "account.created", "envelope": "{}",
                     "created_at": long_ago, "sent_at": long_ago, "attempts": 0} for _ in range(50)])
            wait_for(lambda: count_rows(accounts, outbox, outbox.c.sent_at < utcnow() - SENT_ROWS_KEPT) == 0)
        finally:
            stop.set()
            thread.join(timeout=15)
    assert count_rows(accounts, outbox, outbox.c.sent_at.is_not(None)) >= 20  # the recent ones are kept


def test_processed_event_ids_are_purged_on_schedule_while_events_keep_coming(make_platform, rabbitmq_url):
    platform = make_platform("stats")
    stats = platform.runtime("stats")
    processed = stats.spec.tables.processed_events
    numbers = iter(range(10**6))

    def one_more_event() -> None:
        event = account_created(next(numbers))
        publish_raw(rabbitmq_url, event.to_message(), event.type, event.id)

    worker = build_worker(platform, "stats")
    worker.purge_every = timedelta(seconds=0.5)
    with repeated(one_more_event, every=0.05):
        thread = _run_in_thread(worker.run)
        try:
            wait_for(lambda: count_rows(stats, processed) >= 10)
            long_ago = utcnow() - PROCESSED_IDS_KEPT - timedelta(days=1)
            with stats.engine.begin() as connection:
                connection.execute(insert(processed), [
                    {"event_id": str(uuid.uuid4()), "event_type": "account.created", "processed_at": long_ago}
                    for _ in range(50)])
            wait_for(
                lambda: count_rows(stats, processed, processed.c.processed_at < utcnow() - PROCESSED_IDS_KEPT) == 0
            )
        finally:
            worker.stop()
            thread.join(timeout=15)
    assert count_rows(stats, processed) >= 10  # the recent ones are kept
