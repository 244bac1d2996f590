"""The unit of work: one database transaction, and the events that leave with it.

    with uow:
        school = ...change things through uow.session...
        uow.emit("school.settings_changed", payload, school_uai=school.uai)
        uow.commit()

Events emitted are validated at once (a bad payload fails the use case, not the consumer) and
written to the outbox by `commit()`, in the same transaction as the change.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from collections.abc import Mapping

from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from ts_shared.messaging.envelope import Event, new_event
from ts_shared.messaging.outbox import add_to_outbox

if TYPE_CHECKING:
    from ts_shared.config import Settings


class UnitOfWork:
    session: Session
    # Events wait in memory up to this many, then go to the outbox (same transaction): a large
    # import emitting one event per account keeps a flat memory.
    OUTBOX_FLUSH_EVERY = 1000

    def __init__(self, session_factory: sessionmaker[Session], outbox: Table, producer: str,
                 settings: Settings, *, publishes: frozenset[str] | None = None):
        self._session_factory = session_factory
        self._outbox = outbox
        self.producer = producer
        # The event types this service declares it publishes (its ServiceSpec): it emits no other.
        self.publishes = publishes
        # The process's settings, for use cases and handlers that talk to the outside (SMTP...).
        self.settings = settings
        self._events: list[Event] = []

    def __enter__(self):
        self.session = self._session_factory()
        self._events = []
        return self

    def __exit__(self, exc_type, exc, tb):
        # Whatever was not committed explicitly is rolled back, events included. close() ends the
        # transaction without expiring what was loaded, so read use cases can return entities.
        self.session.close()
        self._events = []

    def emit(self, event_type: str, payload: Mapping[str, Any], *, school_uai: str | None, version: int = 1) -> Event:
        if self.publishes is not None and event_type not in self.publishes:
            raise ValueError(f"{self.producer} does not publish {event_type}: each event type has one owner, "
                             "declared in its ServiceSpec (publishes=…)")
        event = new_event(event_type, payload, producer=self.producer, school_uai=school_uai, version=version)
        self._events.append(event)
        if len(self._events) >= self.OUTBOX_FLUSH_EVERY:
            self.flush_events()
        return event

    def flush_events(self) -> None:
        """Write the events emitted so far to the outbox, in the current transaction."""
        add_to_outbox(self.session, self._outbox, self._events)
        self._events = []

    @property
    def pending_events(self) -> list[Event]:
        """Events emitted and not yet written to the outbox."""
        return list(self._events)

    def commit(self) -> None:
        self.flush_events()
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
        self._events = []
