"""The idempotent consumer and the worker loop around it.

For each message: validate the envelope, then in ONE transaction of the consumer's database
insert the event id into `processed_events` (skipped if already there) and apply the handler's
effect; commit; only then ack. A crash before the commit changes nothing and the broker
redelivers; a crash after the commit but before the ack gets a redelivery that finds the id and
is acked without effect. A handler that keeps failing is retried a bounded number of times, then
the message goes to the queue's dead-letter queue with the error, for ops to see and replay.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import timedelta
from typing import Callable, Iterable

from kombu import Producer
from kombu.mixins import ConsumerMixin
from sqlalchemy import Table, delete, select

from ts_shared.db import insert_for, utcnow
from ts_shared.faults import crash_point
from ts_shared.messaging.bus import (
    DEAD_LETTER_EXCHANGE, Subscription, connect, declare_topology, queue_for,
)
from ts_shared.messaging.envelope import Event, InvalidEvent, parse_event
from ts_shared.messaging.outbox import PROCESSED_IDS_KEPT
from ts_shared.metrics import EVENTS_CONSUMED
from ts_shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Event], None]


class EventConsumer:
    """Applies a subscription's events to one service's database, each at most once."""

    def __init__(self, *, service: str, subscription: Subscription, uow_factory: Callable[[], UnitOfWork],
                 processed_events: Table):
        self.service = service
        self.subscription = subscription
        self.uow_factory = uow_factory
        self.processed_events = processed_events
        self._local_failures: dict[str, int] = defaultdict(int)
        # Pause before a failed message goes back (doubling each time, at most 3 s), so that a
        # failing dependency is not hammered; tests shorten it.
        self.retry_delay = 0.1

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

    def purge_processed_ids(self) -> None:
        with self.uow_factory() as uow:
            uow.session.execute(delete(self.processed_events).where(
                self.processed_events.c.processed_at < utcnow() - PROCESSED_IDS_KEPT))
            uow.commit()

    # --- message handling ------------------------------------------------------------------------

    def _deliveries(self, message, event_id: str | None) -> int:
        """How many times this message has now been delivered. Quorum queues tell us (crashes
        included); other transports do not, so count this process's failures instead."""
        count = (message.headers or {}).get("x-delivery-count")
        if count is not None:
            return int(count) + 1
        return self._local_failures[event_id or message.delivery_tag] + 1

    def on_message(self, body, message) -> None:
        try:
            event = parse_event(body)
        except InvalidEvent as error:
            EVENTS_CONSUMED.labels(self.service, "invalid", "dead_lettered").inc()
            log.error("dead-lettering an invalid message %s: %s", message.properties.get("message_id"), error)
            self.dead_letter(message, f"invalid event: {error}", deliveries=1)
            return
        if event.type not in self.subscription.handlers:
            # Bound by an older version of this service: nothing to do with it now.
            EVENTS_CONSUMED.labels(self.service, event.type, "ignored").inc()
            message.ack()
            return
        try:
            applied = self.apply(event)
        except Exception as error:
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
            return
        self._local_failures.pop(event.id, None)
        EVENTS_CONSUMED.labels(self.service, event.type, "applied" if applied else "duplicate").inc()
        crash_point("consumer.after_commit")
        message.ack()

    def dead_letter(self, message, error: str, *, deliveries: int) -> None:
        headers = dict(message.headers or {})
        headers.update({"x-ts-error": error[:2000], "x-ts-deliveries": deliveries,
                        "x-ts-dead-lettered-at": utcnow().isoformat(), "x-ts-queue": self.subscription.queue})
        # Same channel as the delivery: in confirm mode on RabbitMQ, so the copy is safe before the ack.
        Producer(message.channel).publish(
            message.body,
            exchange=DEAD_LETTER_EXCHANGE,
            routing_key=self.subscription.queue,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            headers=headers,
            message_id=message.properties.get("message_id"),
            delivery_mode=2,
            retry=False,
        )
        message.ack()

    def on_decode_error(self, message, error) -> None:
        EVENTS_CONSUMED.labels(self.service, "undecodable", "dead_lettered").inc()
        log.error("dead-lettering an undecodable message: %s", error)
        self.dead_letter(message, f"undecodable message: {error}", deliveries=1)


class Worker(ConsumerMixin):
    """Consumes a service's subscriptions until stopped; reconnects after broker failures."""

    def __init__(self, *, broker_url: str, consumers: Iterable[EventConsumer],
                 topology: Iterable[Subscription], prefetch_count: int = 10):
        self.broker_url = broker_url
        self.connection = connect(broker_url, confirm_publish=True)
        self.consumers = list(consumers)
        self.topology = list(topology)
        self.prefetch_count = prefetch_count
        self._last_purge = utcnow()

    def get_consumers(self, consumer_class, channel):
        declare_topology(self.connection, self.topology)
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

    def on_iteration(self):
        if utcnow() - self._last_purge > timedelta(hours=1):
            self._last_purge = utcnow()
            for c in self.consumers:
                c.purge_processed_ids()

    def on_connection_error(self, exc, interval):
        log.warning("broker unreachable (%s); retrying in %.1f s", exc, interval)

    def stop(self) -> None:
        self.should_stop = True
