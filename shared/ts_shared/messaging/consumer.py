"""The idempotent consumer and the worker loop around it.

For each message: validate the envelope, then in ONE transaction of the consumer's database
insert the event id into `processed_events` (skipped if already there) and apply the handler's
effect; commit; only then ack. A crash before the commit changes nothing and the broker
redelivers; a crash after the commit but before the ack gets a redelivery that finds the id and
is acked without effect. A handler that keeps failing is retried a bounded number of times, then
the message goes to the queue's dead-letter queue with the error, for ops to see and replay.

A consumer may take its deliveries by batches (`batch_size` > 1, with an optional `batch_handler`
that applies a list of events at once): the batch's new event ids and effects are written in ONE
transaction, and each message is acknowledged after its commit, so exactly-once holds as for one
message. A batch is applied when full or when no delivery came during the last wait. If the batch
fails, nothing of it was committed and its messages go through the one-by-one path (retries, dead
letters, pause on an unavailable database), so one bad event never holds the others back.

A database that is down, silent or locked is not the message's fault: the message is kept
(unacknowledged, so the broker counts no new delivery) and tried again every few seconds, and the
messages behind it wait with it (at most the prefetch count), however long the outage lasts.
Dead letters are published on a connection of their own: waiting for a confirm on the consuming
connection would let the transport run further deliveries inside that wait.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from contextlib import contextmanager
from collections.abc import Callable, Iterable
from typing import Any

from kombu import Connection, Producer
from kombu.mixins import ConsumerMixin
from sqlalchemy import Table, select

from ts_shared.db import database_unavailable, insert_for, utcnow
from ts_shared.faults import crash_point
from ts_shared.messaging.bus import (
    BROKER_RETRY_MAX_SECONDS, DEAD_LETTER_EXCHANGE, Subscription, connect, declare_topology, queue_for,
)
from ts_shared.messaging.envelope import Event, InvalidEvent, parse_event
from ts_shared.messaging.outbox import PROCESSED_IDS_KEPT, PURGE_EVERY, purge_older_than
from ts_shared.metrics import EVENT_LAG, EVENTS_CONSUMED
from ts_shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Event], None]
# Applies new (never processed) events, in delivery order, in the caller's transaction.
BatchHandler = Callable[[UnitOfWork, list[Event]], None]

# Pauses while the database is unavailable: from the first to the longest, doubling.
DATABASE_RETRY_FIRST_SECONDS = 0.5
DATABASE_RETRY_MAX_SECONDS = 5.0


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"


class DeadLetterPublisher:
    """Publishes dead letters, with confirms, on a connection of its own (never the consuming one)."""

    def __init__(self, broker_url: str, timeout: float = 5.0):
        self.broker_url = broker_url
        self.timeout = timeout
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def _ensure(self) -> Producer:
        if self._producer is None:
            # No heartbeats: this connection idles between dead letters and must not be reset for it.
            connection = connect(self.broker_url, confirm_publish=True, heartbeat=0)
            try:
                connection.ensure_connection(max_retries=0, timeout=self.timeout)
                self._producer = Producer(connection.channel())
            except Exception:
                connection.collect()
                raise
            self._connection = connection
        return self._producer

    def publish(self, message, queue: str, headers: dict) -> None:
        """Publish a copy of `message` to `queue`'s dead-letter queue; raise if not confirmed."""
        for attempt in (1, 2):  # a connection idle for long may have been dropped: one fresh try
            try:
                self._ensure().publish(
                    message.body, exchange=DEAD_LETTER_EXCHANGE, routing_key=queue,
                    content_type=message.content_type, content_encoding=message.content_encoding,
                    headers=headers, message_id=message.properties.get("message_id"), delivery_mode=2,
                    retry=False, timeout=self.timeout, confirm_timeout=self.timeout,
                )
                return
            except Exception:
                self.close()
                if attempt == 2:
                    raise

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.collect()
            except Exception:  # a broken connection: nothing to keep
                pass
        self._connection = self._producer = None


class EventConsumer:
    """Applies a subscription's events to one service's database, each at most once."""

    def __init__(self, *, service: str, subscription: Subscription, uow_factory: Callable[[], UnitOfWork],
                 processed_events: Table, batch_size: int = 1, batch_handler: BatchHandler | None = None):
        self.service = service
        self.batch_size = max(1, batch_size)
        self.batch_handler = batch_handler
        self._batch: list[tuple[Event, tuple[Any, Any]]] = []  # (event, (body, message))
        self._arrived = False  # a delivery came since the worker's last iteration
        self.subscription = subscription
        self.uow_factory = uow_factory
        self.processed_events = processed_events
        self._local_failures: dict[str, int] = defaultdict(int)
        # Pause before a failed message goes back (doubling each time, at most 3 s), so that a
        # failing dependency is not hammered; tests shorten it.
        self.retry_delay = 0.1
        # Set by the worker; without it a dead letter goes to the queue's dead-letter exchange
        # by a reject (the error is then only in the log).
        self.dead_letters: DeadLetterPublisher | None = None
        # Deliveries waiting for the database, in order, and when to try the first again.
        self._held: deque = deque()
        self._retry_at = 0.0
        self._pause = 0.0
        self._unavailable_since: float | None = None

    def _record_once(self, uow: UnitOfWork, event: Event) -> bool:
        """Insert the event id; False if it was already there (a duplicate)."""
        insert = insert_for(uow.session)
        statement = (
            insert(self.processed_events)
            .values(event_id=event.id, event_type=event.type, processed_at=utcnow())
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.processed_events.c.event_id)
        )
        return uow.session.execute(statement).first() is not None

    def _already_processed(self, uow: UnitOfWork, event: Event) -> bool:
        table = self.processed_events
        return uow.session.execute(select(table.c.event_id).where(table.c.event_id == event.id)).first() is not None

    def apply(self, event: Event) -> bool:
        """Apply the event's effect once; return False for a duplicate. Raises what the handler
        raises (nothing is then committed).

        A handler with a `prepare(uow, event)` method first gets a transaction of its own,
        committed before the effect's, for what must be on record before an outside action (an
        email handed to a mail server); what it returns is passed to the handler."""
        handler = self.subscription.handlers[event.type]
        prepare = getattr(handler, "prepare", None)
        prepared = None
        if prepare is not None:
            with self.uow_factory() as uow:
                if self._already_processed(uow, event):
                    return False
                prepared = prepare(uow, event)
                uow.commit()
        with self.uow_factory() as uow:
            if not self._record_once(uow, event):
                return False
            if prepare is not None:
                handler(uow, event, prepared)
            else:
                handler(uow, event)
            crash_point("consumer.before_commit")
            uow.commit()
        return True

    def apply_batch(self, events: list[Event]) -> list[bool]:
        """Apply the events' effects in one transaction, each once; return, for each, whether it
        was applied (False: a duplicate, already processed or earlier in the batch). Raises what a
        handler raises (nothing is then committed)."""
        with self.uow_factory() as uow:
            first: dict[str, int] = {}
            for index, event in enumerate(events):
                first.setdefault(event.id, index)
            new_ids = self._record_all(uow, [events[index] for index in first.values()])
            applied = [first[event.id] == index and event.id in new_ids for index, event in enumerate(events)]
            fresh = [event for event, is_new in zip(events, applied, strict=True) if is_new]
            if self.batch_handler is not None:
                self.batch_handler(uow, fresh)
            else:
                for event in fresh:
                    self.subscription.handlers[event.type](uow, event)
            crash_point("consumer.before_commit")
            uow.commit()
        return applied

    def _record_all(self, uow: UnitOfWork, events: list[Event]) -> set[str]:
        """Insert the (distinct) event ids in one statement; the ids that were not there yet."""
        if not events:
            return set()
        now = utcnow()
        statement = (
            insert_for(uow.session)(self.processed_events)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.processed_events.c.event_id)
        )  # compiled once; the rows go by SQLAlchemy's "insertmanyvalues" (multi-row VALUES)
        rows = [{"event_id": e.id, "event_type": e.type, "processed_at": now} for e in events]
        return set(uow.session.scalars(statement, rows))

    def purge_processed_ids(self) -> int:
        """Forget event ids processed more than PROCESSED_IDS_KEPT ago; return how many."""
        table = self.processed_events

        @contextmanager
        def begin():
            with self.uow_factory() as uow:
                yield uow.session
                uow.commit()

        return purge_older_than(begin, table, table.c.event_id, table.c.processed_at, utcnow() - PROCESSED_IDS_KEPT)

    # --- message handling ------------------------------------------------------------------------

    def _deliveries(self, message, event_id: str | None) -> int:
        """How many times this message has now been delivered. Quorum queues tell us (crashes
        included); other transports do not, so count this process's failures instead."""
        count = (message.headers or {}).get("x-delivery-count")
        if count is not None:
            return int(count) + 1
        return self._local_failures[event_id or message.delivery_tag] + 1

    def on_message(self, body, message) -> None:
        self._arrived = True
        if self._held:  # waiting for the database: this one waits behind the others
            self._held.append((body, message))
        elif self.batch_size > 1:
            self._add_to_batch(body, message)
        elif not self._handle(body, message):
            self._held.append((body, message))

    # --- by batches ----------------------------------------------------------------------------

    def _add_to_batch(self, body, message) -> None:
        try:
            event = parse_event(body)
        except InvalidEvent:
            self._handle(body, message)  # dead-lettered at once, as one by one
            return
        handler = self.subscription.handlers.get(event.type)
        if handler is None or getattr(handler, "prepare", None) is not None:  # not for a batch
            self.flush_batch()  # in order: what came before goes first
            if self._held or not self._handle(body, message):
                self._held.append((body, message))
            return
        self._batch.append((event, (body, message)))
        if len(self._batch) >= self.batch_size:
            self.flush_batch()

    def flush_if_idle(self) -> None:
        """The worker calls this between deliveries: a batch that is not full is applied once a
        wait brought nothing new (the burst is over)."""
        if self._batch and not self._arrived:
            self.flush_batch()
        self._arrived = False

    def flush_batch(self) -> None:
        """Apply the waiting batch in one transaction, then acknowledge its messages."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        try:
            applied = self.apply_batch([event for event, _ in batch])
        except Exception as error:
            # Nothing of the batch was committed: one by one, with the usual pause, retries and
            # dead letters (after the pause when the database is unavailable).
            if database_unavailable(error):
                self._database_unavailable(error)
                self._held.extend(delivery for _, delivery in batch)
                return
            log.warning("a batch of %d %s event(s) failed (%s): applying them one by one", len(batch), self.service,
                        _first_line(error))
            for _, delivery in batch:
                if self._held or not self._handle(*delivery):
                    self._held.append(delivery)
            return
        self._database_available()
        for (event, _), was_applied in zip(batch, applied, strict=True):
            self._local_failures.pop(event.id, None)
            EVENTS_CONSUMED.labels(self.service, event.type, "applied" if was_applied else "duplicate").inc()
        crash_point("consumer.after_commit")
        for _, (_, message) in batch:
            message.ack()

    def retry_held(self) -> None:
        """Try the deliveries waiting for the database again, once their pause is over (the
        worker calls this between deliveries)."""
        while self._held and time.monotonic() >= self._retry_at:
            body, message = self._held[0]
            if not self._handle(body, message):
                return
            self._held.popleft()

    def forget_held(self) -> None:
        """The connection they came on is gone: the broker delivers them again."""
        self._held.clear()
        self._batch.clear()

    @property
    def waiting(self) -> int:
        return len(self._held)

    def _handle(self, body, message) -> bool:
        """Handle one delivery; False if the database is unavailable: the message is then kept,
        unacknowledged, for `retry_held`."""
        try:
            event = parse_event(body)
        except InvalidEvent as error:
            EVENTS_CONSUMED.labels(self.service, "invalid", "dead_lettered").inc()
            log.error("dead-lettering an invalid message %s: %s", message.properties.get("message_id"), error)
            self.dead_letter(message, f"invalid event: {error}", deliveries=1)
            return True
        if event.type not in self.subscription.handlers:
            # Bound by an older version of this service: nothing to do with it now.
            EVENTS_CONSUMED.labels(self.service, event.type, "ignored").inc()
            message.ack()
            return True
        try:
            applied = self.apply(event)
        except Exception as error:
            if database_unavailable(error):
                self._database_unavailable(error)
                return False
            self._database_available()
            self._handler_failed(event, message, error)
            return True
        self._database_available()
        self._local_failures.pop(event.id, None)
        EVENTS_CONSUMED.labels(self.service, event.type, "applied" if applied else "duplicate").inc()
        if applied:
            EVENT_LAG.labels(self.service).observe(max((utcnow() - event.occurred_at).total_seconds(), 0.0))
        crash_point("consumer.after_commit")
        message.ack()
        return True

    def _handler_failed(self, event: Event, message, error: Exception) -> None:
        deliveries = self._deliveries(message, event.id)
        if deliveries >= self.subscription.max_deliveries:
            EVENTS_CONSUMED.labels(self.service, event.type, "dead_lettered").inc()
            log.exception("event %s (%s) failed %d times: dead-lettered", event.id, event.type, deliveries)
            self.dead_letter(message, f"{type(error).__name__}: {error}", deliveries=deliveries)
            self._local_failures.pop(event.id, None)
        else:
            EVENTS_CONSUMED.labels(self.service, event.type, "failed").inc()
            log.warning("event %s (%s) failed (delivery %d of %d): %s", event.id, event.type, deliveries,
                        self.subscription.max_deliveries, error)
            self._local_failures[event.id] = deliveries
            time.sleep(min(self.retry_delay * 2 ** deliveries, 3.0))
            message.requeue()

    def _database_unavailable(self, error: Exception) -> None:
        now = time.monotonic()
        self._pause = min(max(self._pause * 2, DATABASE_RETRY_FIRST_SECONDS), DATABASE_RETRY_MAX_SECONDS)
        self._retry_at = now + self._pause
        if self._unavailable_since is None:
            self._unavailable_since = now
            state = "unavailable"
        else:
            state = f"still unavailable after {now - self._unavailable_since:.0f} s"
        log.warning("%s database %s (%s): %s paused, %d message(s) waiting, retrying in %.1f s", self.service,
                    state, _first_line(error), self.subscription.queue, max(len(self._held), 1), self._pause)

    def _database_available(self) -> None:
        if self._unavailable_since is not None:
            log.warning("%s database back after %.0f s: %s resumed", self.service,
                        time.monotonic() - self._unavailable_since, self.subscription.queue)
            self._unavailable_since, self._pause = None, 0.0

    def dead_letter(self, message, error: str, *, deliveries: int) -> None:
        headers = dict(message.headers or {})
        headers.update({"x-ts-error": error[:2000], "x-ts-deliveries": deliveries,
                        "x-ts-dead-lettered-at": utcnow().isoformat(), "x-ts-queue": self.subscription.queue})
        if self.dead_letters is not None:
            try:
                self.dead_letters.publish(message, self.subscription.queue, headers)
            except Exception as failure:
                log.error("cannot publish the dead letter (%s): rejected to the queue's dead-letter exchange, "
                          "without its error", _first_line(failure))
            else:
                message.ack()  # the copy is confirmed: the original can go
                return
        message.reject(requeue=False)

    def on_decode_error(self, message, error) -> None:
        EVENTS_CONSUMED.labels(self.service, "undecodable", "dead_lettered").inc()
        log.error("dead-lettering an undecodable message: %s", error)
        self.dead_letter(message, f"undecodable message: {error}", deliveries=1)


class _Stopping(Exception):
    """Raised out of kombu's reconnection loop once the worker is asked to stop."""


class Worker(ConsumerMixin):
    """Consumes a service's subscriptions until stopped; reconnects after broker failures."""

    # Event ids processed more than PROCESSED_IDS_KEPT ago are forgotten this often (tests shorten it).
    purge_every = PURGE_EVERY

    def __init__(self, *, broker_url: str, consumers: Iterable[EventConsumer],
                 topology: Iterable[Subscription], prefetch_count: int = 10):
        self.broker_url = broker_url
        self.connection = connect(broker_url)
        self.consumers = list(consumers)
        self.topology = list(topology)
        # A consumer taking batches gets a batch's worth of deliveries at once.
        self.prefetch_count = max(prefetch_count, *(consumer.batch_size for consumer in self.consumers))
        self.dead_letters = DeadLetterPublisher(broker_url)
        for consumer in self.consumers:
            consumer.dead_letters = self.dead_letters
        self._next_purge = time.monotonic()

    def run(self, *args, **kwargs) -> None:
        if any(consumer.batch_size > 1 for consumer in self.consumers):
            # A batch not yet full waits at most this long after the last delivery.
            kwargs.setdefault("safety_interval", 0.05)
        try:
            super().run(*args, **kwargs)
        except _Stopping:
            log.info("worker stopped while the broker was unreachable")
        finally:
            self.dead_letters.close()

    @contextmanager
    def establish_connection(self):
        # kombu's defaults wait up to 30 s between attempts and never look at should_stop.
        with self.create_connection() as connection:
            connection.ensure_connection(self.on_connection_error, self.connect_max_retries, interval_start=0.5,
                                         interval_step=0.5, interval_max=BROKER_RETRY_MAX_SECONDS,
                                         callback=self._raise_if_stopping)
            yield connection

    def _raise_if_stopping(self) -> None:
        if self.should_stop:
            raise _Stopping()

    def get_consumers(self, consumer_class, channel):
        declare_topology(channel.connection.client, self.topology)
        return [
            consumer_class(
                queues=[queue_for(c.subscription, self.broker_url)],
                callbacks=[c.on_message],
                on_decode_error=c.on_decode_error,
                accept=["json"],
                prefetch_count=self.prefetch_count,
            )
            for c in self.consumers
        ]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        for consumer in self.consumers:
            consumer.forget_held()

    def on_iteration(self):
        for consumer in self.consumers:
            consumer.flush_if_idle()
            consumer.retry_held()
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + self.purge_every.total_seconds()
            for consumer in self.consumers:
                if consumer.waiting:
                    continue  # its database is away: next time
                try:
                    purged = consumer.purge_processed_ids()
                except Exception as error:  # the database may have just gone: next time
                    log.warning("%s: purging processed event ids failed (%s)", consumer.service, _first_line(error))
                else:
                    if purged:
                        log.info("%s: %d processed event id(s) older than %d days purged", consumer.service,
                                 purged, PROCESSED_IDS_KEPT.days)

    def on_connection_error(self, exc, interval):
        self._raise_if_stopping()
        log.warning("broker unreachable (%s); retrying in %.1f s", exc, interval)

    def stop(self) -> None:
        self.should_stop = True
