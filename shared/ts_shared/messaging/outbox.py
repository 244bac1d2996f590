"""The transactional outbox and its relay.

A producer writes each event as a row of its own database's `outbox` table, in the same
transaction as the change it reports: both commit or neither does. The relay, a separate loop,
claims unsent rows with a lease, publishes them with publisher confirms and `mandatory`, and only
then marks them sent. If the broker is down the rows wait; when it is back they go. A row whose
publication is uncertain (confirm timeout, connection cut, crash before marking) is published
again: consumers drop the duplicate by event id.

Several relays may run on one outbox. A claim must outlive the batch it covers, or another relay
takes the rows back and both publish them: so a batch is published at once and its confirms are
awaited together (one broker round trip, not one per row), that wait ends well before the lease
does, and leases are read and written on the database's clock, which every relay shares whatever
its host's clock says. Sent rows are purged on a schedule, however busy the outbox.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from collections.abc import Iterable

import amqp
from amqp.exceptions import MessageNacked
from kombu import Connection, Producer
from sqlalchemy import (
    BigInteger, Column, ColumnElement, Engine, Index, Integer, MetaData, String, Table, Text, delete, func, insert,
    or_, select, update,
)
from sqlalchemy.orm import Session

from ts_shared.db import UTCDateTime, utcnow
from ts_shared.faults import crash_point
from ts_shared.messaging.bus import (
    BROKER_RETRY_MAX_SECONDS, EVENTS_EXCHANGE, Subscription, connect, declare_topology, is_amqp,
)
from ts_shared.messaging.envelope import Event
from ts_shared.metrics import EVENTS_PUBLISHED, RELAY_FAILURES

log = logging.getLogger(__name__)

# How long sent outbox rows and processed event ids are kept (both tables stay bounded), how
# often they are purged, and how many rows one purge statement deletes (short transactions).
SENT_ROWS_KEPT = timedelta(days=7)
PROCESSED_IDS_KEPT = timedelta(days=30)
PURGE_EVERY = timedelta(minutes=10)
PURGE_CHUNK = 5000


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


def purge_older_than(begin, table: Table, key: Column, age: Column, cutoff: datetime) -> int:
    """Delete the rows of `table` whose `age` is before `cutoff`, PURGE_CHUNK at a time, each
    chunk in its own transaction (`begin()` opens one: `engine.begin`); return how many."""
    total = 0
    while True:
        chunk = select(key).where(age < cutoff).limit(PURGE_CHUNK).scalar_subquery()
        with begin() as connection:
            deleted = connection.execute(delete(table).where(key.in_(chunk))).rowcount
        total += deleted
        if deleted < PURGE_CHUNK:
            return total


def pending_count(engine: Engine, outbox: Table) -> int:
    """Events written but not yet confirmed by the broker (a metric and a readiness hint)."""
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        ).scalar_one()


def pending_summary(engine: Engine, outbox: Table) -> tuple[int, float]:
    """How many events wait for the broker, and how old the oldest is in seconds (0 if none)."""
    with engine.connect() as connection:
        count, oldest = connection.execute(
            select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None))
        ).one()
    if not count or oldest is None:
        return 0, 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return count, max((utcnow() - oldest).total_seconds(), 0.0)


def _database_now(dialect: str, plus: timedelta = timedelta()) -> ColumnElement:
    """The database server's time (plus a delay): every relay reads the same clock."""
    if dialect == "postgresql":
        return func.now() + plus if plus else func.now()
    # SQLite: text in the layout SQLAlchemy stores (compared as text), milliseconds included.
    return func.strftime("%Y-%m-%d %H:%M:%f", "now", f"{plus.total_seconds():+.3f} seconds")


@dataclass
class _Claimed:
    row_id: int
    event_id: str
    event_type: str
    envelope: str  # the JSON text, published as it is


class ConfirmTimeout(Exception):
    """The broker did not confirm some publications in time: they may have reached the queues."""


# What became of one publication.
SENT, UNROUTABLE, NACKED = "sent", "unroutable", "nacked"


class _PipelinedPublisher:
    """RabbitMQ: publishes a whole batch on a channel in confirm mode, then waits for the acks
    together. kombu's confirm_publish waits for each message in turn: one round trip per row."""

    def __init__(self, connection: Connection, service: str):
        self.connection = connection
        self.service = service
        self.channel = connection.channel()
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(lambda tag, multiple: self._settle(tag, multiple, SENT))
        self.channel.events["basic_nack"].add(lambda tag, multiple: self._settle(tag, multiple, NACKED))
        self.channel.events["basic_return"].add(self._on_return)
        self._next_tag = 1  # the broker numbers a channel's publications from 1
        self._waiting: dict[int, _Claimed] = {}
        self._returned: set[str] = set()
        self._outcomes: dict[int, str] = {}

    def _settle(self, tag: int, multiple: bool, outcome: str) -> None:
        for settled in [t for t in self._waiting if t <= tag] if multiple else [tag]:
            row = self._waiting.pop(settled, None)
            if row is not None:
                # A returned message is acked too (after its basic.return): it reached no queue.
                self._outcomes[row.row_id] = (
                    UNROUTABLE if outcome == SENT and row.event_id in self._returned else outcome
                )

    def _on_return(self, exception, exchange, routing_key, message) -> None:
        self._returned.add(message.properties.get("message_id"))

    def publish(self, rows: list[_Claimed], deadline: float) -> dict[int, str]:
        """Outcome per row id; rows missing were not confirmed by `deadline` (monotonic)."""
        self._waiting, self._returned, self._outcomes = {}, set(), {}
        for row in rows:
            message = amqp.Message(row.envelope.encode("utf-8"), content_type="application/json",
                                   content_encoding="utf-8", delivery_mode=2, message_id=row.event_id,
                                   headers={"producer": self.service})
            self.channel.basic_publish(message, exchange=EVENTS_EXCHANGE.name, routing_key=row.event_type,
                                       mandatory=True, timeout=max(deadline - time.monotonic(), 0.1))
            self._waiting[self._next_tag] = row
            self._next_tag += 1
        while self._waiting and (remaining := deadline - time.monotonic()) > 0:
            try:
                self.connection.drain_events(timeout=remaining)
            except TimeoutError:
                break
        return self._outcomes


class _PlainPublisher:
    """kombu's in-memory transport (embedded run): a publication is delivered when it returns."""

    def __init__(self, connection: Connection, service: str):
        self.producer = Producer(connection.channel(), exchange=EVENTS_EXCHANGE)
        self.service = service

    def publish(self, rows: list[_Claimed], deadline: float) -> dict[int, str]:
        for row in rows:
            self.producer.publish(row.envelope, routing_key=row.event_type, content_type="application/json",
                                  content_encoding="utf-8", delivery_mode=2, message_id=row.event_id,
                                  headers={"producer": self.service}, retry=False)
        return {row.row_id: SENT for row in rows}


class OutboxRelay:
    """Publishes a service's outbox. Several relays may run on one outbox: claims do not overlap."""

    # Sent rows older than SENT_ROWS_KEPT are deleted this often (tests shorten it).
    purge_every = PURGE_EVERY

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
        self._publisher: _PipelinedPublisher | _PlainPublisher | None = None
        self._next_purge = time.monotonic()

    # --- broker side ---------------------------------------------------------------------------

    def _ensure_publisher(self) -> _PipelinedPublisher | _PlainPublisher:
        if self._publisher is None:
            connection = connect(self.broker_url)
            try:
                # One attempt: the caller's loop decides when to try again.
                connection.ensure_connection(max_retries=0, timeout=self.confirm_timeout)
                declare_topology(connection, self.subscriptions)
                publisher = _PipelinedPublisher if is_amqp(self.broker_url) else _PlainPublisher
                self._publisher = publisher(connection, self.service)
            except Exception:
                connection.collect()
                raise
            self._connection = connection
        return self._publisher

    def close(self, *, broken: bool = False) -> None:
        """Close the connection; after a failure just drop it (a close handshake on a dead or
        silent connection could hang)."""
        if self._connection is not None:
            try:
                self._connection.collect() if broken else self._connection.release()
            except Exception:  # closing a broken connection may fail too; nothing to keep
                pass
        self._connection = None
        self._publisher = None

    # --- database side -------------------------------------------------------------------------

    def _now(self, plus: timedelta = timedelta()) -> ColumnElement:
        return _database_now(self.engine.dialect.name, plus)

    def _claim(self) -> list[_Claimed]:
        outbox, now = self.outbox, self._now()
        claimable = (outbox.c.sent_at.is_(None), or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now))
        candidates = select(outbox.c.id).where(*claimable).order_by(outbox.c.id).limit(self.batch_size)
        if self.engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        # The conditions are repeated on the outer statement so that PostgreSQL re-checks them on
        # a row another relay claimed meanwhile; SQLite serialises writers (BEGIN IMMEDIATE).
        statement = (
            update(outbox)
            .where(outbox.c.id.in_(candidates.scalar_subquery()), *claimable)
            .values(claimed_by=self.relay_id, lease_until=self._now(self.lease))
            .returning(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.envelope)
        )
        with self.engine.begin() as connection:
            rows = connection.execute(statement).all()
        return sorted((_Claimed(r.id, r.event_id, r.event_type, r.envelope) for r in rows), key=lambda c: c.row_id)

    def _mark_sent(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        with self.engine.begin() as connection:
            marked = connection.execute(
                update(self.outbox)
                .where(self.outbox.c.id.in_(row_ids), self.outbox.c.claimed_by == self.relay_id)
                .values(sent_at=self._now(), claimed_by=None, lease_until=None)
            ).rowcount
        if marked < len(row_ids):
            log.warning("outbox: the lease on %d published event(s) was lost to another relay: they will be "
                        "published again (consumers drop the copies)", len(row_ids) - marked)

    def _release(self, row_ids: list[int], *, error: str | None = None, retry_after: timedelta | None = None) -> None:
        if not row_ids:
            return
        values: dict[str, Any] = {"claimed_by": None, "lease_until": self._now(retry_after) if retry_after else None}
        if error is not None:
            values["last_error"] = error[:2000]
            values["attempts"] = self.outbox.c.attempts + 1
        with self.engine.begin() as connection:
            connection.execute(
                update(self.outbox)
                .where(self.outbox.c.id.in_(row_ids), self.outbox.c.claimed_by == self.relay_id)
                .values(**values)
            )

    def purge_sent_rows(self) -> int:
        """Delete rows sent more than SENT_ROWS_KEPT ago; return how many."""
        return purge_older_than(self.engine.begin, self.outbox, self.outbox.c.id, self.outbox.c.sent_at,
                                utcnow() - SENT_ROWS_KEPT)

    def _purge_if_due(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + self.purge_every.total_seconds()
        try:
            purged = self.purge_sent_rows()
        except Exception as error:  # the database may be away: publishing will say so, retried next time
            log.warning("outbox: purging sent rows failed (%s: %s)", type(error).__name__, error)
            return
        if purged:
            log.info("outbox: %d sent row(s) older than %d days purged", purged, SENT_ROWS_KEPT.days)

    # --- the loop ------------------------------------------------------------------------------

    def publish_pending(self) -> int:
        """Publish every claimable row; return how many were confirmed. Raises on a broker
        failure after releasing what it could not publish (the caller backs off)."""
        total = 0
        while True:
            self._purge_if_due()
            publisher = self._ensure_publisher()
            claimed_at = time.monotonic()
            claimed = self._claim()
            if not claimed:
                return total
            # Stop waiting for confirms while a third of the lease is left to mark the rows sent.
            deadline = claimed_at + min(self.confirm_timeout, self.lease.total_seconds() * 2 / 3)
            try:
                outcomes = publisher.publish(claimed, deadline)
            except Exception as error:
                RELAY_FAILURES.labels(self.service).inc()
                self._release([row.row_id for row in claimed], error=f"{type(error).__name__}: {error}")
                self.close(broken=True)
                raise
            crash_point("relay.after_publish")
            sent = [row.row_id for row in claimed if outcomes.get(row.row_id) == SENT]
            self._mark_sent(sent)
            EVENTS_PUBLISHED.labels(self.service).inc(len(sent))
            total += len(sent)
            unroutable = [row.row_id for row in claimed if outcomes.get(row.row_id) == UNROUTABLE]
            if unroutable:
                log.error("outbox: %d event(s) unroutable (no queue bound), retried in 60 s", len(unroutable))
                self._release(unroutable, error="unroutable: no queue is bound to this event type",
                              retry_after=timedelta(seconds=60))
            nacked = [row.row_id for row in claimed if outcomes.get(row.row_id) == NACKED]
            unconfirmed = [row.row_id for row in claimed if row.row_id not in outcomes]
            if nacked or unconfirmed:
                RELAY_FAILURES.labels(self.service).inc()
                failure = MessageNacked(f"the broker refused {len(nacked)} event(s)") if nacked else ConfirmTimeout(
                    f"{len(unconfirmed)} event(s) not confirmed within {deadline - claimed_at:.1f} s")
                self._release(nacked + unconfirmed, error=f"{type(failure).__name__}: {failure}")
                self.close(broken=True)  # late confirms must not be taken for the next batch's
                raise failure
            if len(claimed) < self.batch_size:
                return total

    def run(self, stop: threading.Event, poll_seconds: float = 0.5,
            max_backoff: float = BROKER_RETRY_MAX_SECONDS) -> None:
        backoff = 0.0
        log.info("outbox relay %s started for %s", self.relay_id, self.service)
        try:
            while not stop.is_set():
                try:
                    published = self.publish_pending()
                    if published:
                        log.debug("outbox relay published %d event(s)", published)
                    if backoff:
                        log.warning("outbox relay publishing again")
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
