"""The transactional outbox and its relay.

A producer writes each event as a row of its own database's `outbox` table, in the same
transaction as the change it reports: both commit or neither does. The relay, a separate loop,
claims unsent rows with a lease, publishes them with publisher confirms and `mandatory`, and only
then marks them sent. If the broker is down the rows wait; when it is back they go. A row whose
publication is uncertain (confirm timeout, connection cut, crash before marking) is published
again: consumers drop the duplicate by event id.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, NamedTuple

from kombu import Connection, Producer
from sqlalchemy import (
    BigInteger, Column, Engine, Index, Integer, MetaData, String, Table, Text, delete, func, insert, or_,
    select, update,
)
from sqlalchemy.orm import Session

from ts_shared.db import UTCDateTime, utcnow
from ts_shared.faults import crash_point
from ts_shared.messaging.bus import EVENTS_EXCHANGE, Subscription, connect, declare_topology
from ts_shared.messaging.envelope import Event
from ts_shared.metrics import EVENTS_PUBLISHED, RELAY_FAILURES

log = logging.getLogger(__name__)

SENT_ROWS_KEPT = timedelta(days=7)
PROCESSED_IDS_KEPT = timedelta(days=30)


class MessagingTables(NamedTuple):
    outbox: Table
    processed_events: Table


def messaging_tables(metadata: MetaData) -> MessagingTables:
    """Define the outbox and processed-events tables on a service's metadata (each service has
    its own copy, in its own database, created by its own migrations)."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("school_uai", String(8), nullable=True),
        Column("envelope", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("sent_at", UTCDateTime(), nullable=True),
        Column("claimed_by", String(64), nullable=True),
        Column("lease_until", UTCDateTime(), nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
    )
    # Only unsent rows are ever looked up by the relay: keep that index small.
    Index("ix_outbox_unsent", outbox.c.id, postgresql_where=outbox.c.sent_at.is_(None),
          sqlite_where=outbox.c.sent_at.is_(None))
    processed_events = Table(
        "processed_events",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", UTCDateTime(), nullable=False, index=True),
    )
    return MessagingTables(outbox, processed_events)


def add_to_outbox(session: Session, outbox: Table, events: Iterable[Event]) -> None:
    """Stage events in the caller's transaction (they leave only if it commits)."""
    rows = [
        {
            "event_id": event.id,
            "event_type": event.type,
            "school_uai": event.school_uai,
            "envelope": json.dumps(event.to_message(), ensure_ascii=False),
            "created_at": utcnow(),
            "attempts": 0,
        }
        for event in events
    ]
    if rows:
        session.execute(insert(outbox), rows)


def pending_count(engine: Engine, outbox: Table) -> int:
    """Events written but not yet confirmed by the broker (a metric and a readiness hint)."""
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar_one()


@dataclass
class _Claimed:
    row_id: int
    event_id: str
    event_type: str
    envelope: dict


class OutboxRelay:
    """Publishes a service's outbox. Several relays may run on one outbox: claims do not overlap."""

    def __init__(self, *, service: str, engine: Engine, outbox: Table, broker_url: str,
                 subscriptions: Iterable[Subscription] = (), batch_size: int = 100,
                 lease_seconds: float = 60.0, confirm_timeout: float = 10.0, relay_id: str | None = None):
        self.service = service
        self.engine = engine
        self.outbox = outbox
        self.broker_url = broker_url
        self.subscriptions = list(subscriptions)
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.confirm_timeout = confirm_timeout
        self.relay_id = relay_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._returned: set[str] = set()
        self._last_purge = None

    # --- broker side ---------------------------------------------------------------------------

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            connection = connect(self.broker_url, confirm_publish=True)
            try:
                connection.ensure_connection(max_retries=1, timeout=self.confirm_timeout)
                declare_topology(connection, self.subscriptions)
                self._producer = Producer(connection.channel(), exchange=EVENTS_EXCHANGE, on_return=self._on_return)
            except Exception:
                connection.release()
                raise
            self._connection = connection
        return self._producer

    def _on_return(self, exception, exchange, routing_key, message):
        # Runs before publish() returns (the basic.return frame precedes the confirm).
        self._returned.add(message.properties.get("message_id"))

    def close(self, *, broken: bool = False) -> None:
        """Close the connection; after a failure just drop it (a close handshake on a dead or
        silent connection could hang)."""
        if self._connection is not None:
            try:
                self._connection.collect() if broken else self._connection.release()
            except Exception:  # closing a broken connection may fail too; nothing to keep
                pass
        self._connection = None
        self._producer = None

    # --- database side -------------------------------------------------------------------------

    def _claim(self) -> list[_Claimed]:
        outbox, now = self.outbox, utcnow()
        claimable = (outbox.c.sent_at.is_(None), or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now))
        candidates = select(outbox.c.id).where(*claimable).order_by(outbox.c.id).limit(self.batch_size)
        if self.engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        # The conditions are repeated on the outer statement so that PostgreSQL re-checks them on
        # a row another relay claimed meanwhile; SQLite serialises writers (BEGIN IMMEDIATE).
        statement = (
            update(outbox)
            .where(outbox.c.id.in_(candidates.scalar_subquery()), *claimable)
            .values(claimed_by=self.relay_id, lease_until=now + self.lease)
            .returning(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.envelope)
        )
        with self.engine.begin() as connection:
            rows = connection.execute(statement).all()
        return sorted((_Claimed(r.id, r.event_id, r.event_type, json.loads(r.envelope)) for r in rows),
                      key=lambda c: c.row_id)

    def _mark_sent(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        with self.engine.begin() as connection:
            connection.execute(
                update(self.outbox)
                .where(self.outbox.c.id.in_(row_ids), self.outbox.c.claimed_by == self.relay_id)
                .values(sent_at=utcnow(), claimed_by=None, lease_until=None)
            )

    def _release(self, row_ids: list[int], *, error: str | None = None, retry_after: timedelta | None = None) -> None:
        if not row_ids:
            return
        values = {"claimed_by": None, "lease_until": utcnow() + retry_after if retry_after else None}
        if error is not None:
            values["last_error"] = error[:2000]
            values["attempts"] = self.outbox.c.attempts + 1
        with self.engine.begin() as connection:
            connection.execute(
                update(self.outbox)
                .where(self.outbox.c.id.in_(row_ids), self.outbox.c.claimed_by == self.relay_id)
                .values(**values)
            )

    def _purge_old_rows(self) -> None:
        now = utcnow()
        if self._last_purge is not None and now - self._last_purge < timedelta(hours=1):
            return
        self._last_purge = now
        with self.engine.begin() as connection:
            connection.execute(delete(self.outbox).where(self.outbox.c.sent_at < now - SENT_ROWS_KEPT))

    # --- the loop ------------------------------------------------------------------------------

    def publish_pending(self) -> int:
        """Publish every claimable row; return how many were confirmed. Raises on a broker
        failure after releasing what it could not publish (the caller backs off)."""
        total = 0
        while True:
            producer = self._ensure_producer()
            claimed = self._claim()
            if not claimed:
                self._purge_old_rows()
                return total
            sent, unroutable = [], []
            for index, row in enumerate(claimed):
                try:
                    self._returned.discard(row.event_id)
                    producer.publish(
                        row.envelope,
                        routing_key=row.event_type,
                        exchange=EVENTS_EXCHANGE,
                        serializer="json",
                        delivery_mode=2,
                        mandatory=True,
                        message_id=row.event_id,
                        headers={"producer": self.service},
                        retry=False,
                        timeout=self.confirm_timeout,
                        confirm_timeout=self.confirm_timeout,
                    )
                except Exception as error:
                    RELAY_FAILURES.labels(self.service).inc()
                    self._mark_sent(sent)
                    self._release([row.row_id], error=f"{type(error).__name__}: {error}")
                    self._release([r.row_id for r in claimed[index + 1:]])
                    self.close(broken=True)
                    raise
                if row.event_id in self._returned:
                    unroutable.append(row.row_id)
                else:
                    sent.append(row.row_id)
            crash_point("relay.after_publish")
            self._mark_sent(sent)
            EVENTS_PUBLISHED.labels(self.service).inc(len(sent))
            total += len(sent)
            if unroutable:
                log.error("outbox: %d event(s) unroutable (no queue bound), retried in 60 s", len(unroutable))
                self._release(unroutable, error="unroutable: no queue is bound to this event type",
                              retry_after=timedelta(seconds=60))
            if len(claimed) < self.batch_size:
                return total

    def run(self, stop: threading.Event, poll_seconds: float = 0.5, max_backoff: float = 30.0) -> None:
        backoff = 0.0
        log.info("outbox relay %s started for %s", self.relay_id, self.service)
        try:
            while not stop.is_set():
                try:
                    published = self.publish_pending()
                    if published:
                        log.debug("outbox relay published %d event(s)", published)
                    backoff = 0.0
                    if self._connection is not None:
                        self._connection.heartbeat_check()
                    stop.wait(poll_seconds)
                except Exception as error:
                    self.close(broken=True)
                    backoff = min(max(backoff * 2, 0.5), max_backoff)
                    log.warning("outbox relay cannot publish (%s: %s); retrying in %.1f s",
                                type(error).__name__, error, backoff)
                    stop.wait(backoff)
        finally:
            self.close()
            log.info("outbox relay %s stopped", self.relay_id)
