"""The unit of work: one database transaction, and the events that leave with it.

    with uow:
        school = ...change things through uow.session...
        uow.emit("school.settings_changed", payload, school_uai=school.uai)
        uow.commit()

Events emitted are validated at once (a bad payload fails the use case, not the consumer) and
written to the outbox by `commit()`, in the same transaction as the change.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from ts_shared.messaging.envelope import Event, new_event
from ts_shared.messaging.outbox import add_to_outbox

if TYPE_CHECKING:
    from ts_shared.config import Settings


class UnitOfWork:
    session: Session

    def __init__(self, session_factory: sessionmaker[Session], outbox: Table, producer: str,
                 settings: "Settings | None" = None):
        self._session_factory = session_factory
        self._outbox = outbox
        self.producer = producer
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
        event = new_event(event_type, payload, producer=self.producer, school_uai=school_uai, version=version)
        self._events.append(event)
        return event

    @property
    def pending_events(self) -> list[Event]:
        return list(self._events)

    def commit(self) -> None:
        add_to_outbox(self.session, self._outbox, self._events)
        self.session.commit()
        self._events = []

    def rollback(self) -> None:
        self.session.rollback()
        self._events = []
