"""Events the stats service consumes: its handlers table."""
from __future__ import annotations

from ts_shared.messaging.envelope import Event
from ts_shared.unit_of_work import UnitOfWork
from ts_stats.service_layer.counters import (
    record_account, record_accounts, record_school, record_service_access, record_service_accesses,
)


def account_changed(uow: UnitOfWork, event: Event) -> None:
    """Every account event carries the whole account after the change (deleted ones: closed)."""
    record_account(uow.session, event.payload["account"])


def _school(event: Event) -> str:
    """The school the event is about (the envelope's): these events always name one."""
    if not event.school_uai:
        raise ValueError(f"{event.type} {event.id} names no school")
    return event.school_uai


def school_settings_changed(uow: UnitOfWork, event: Event) -> None:
    record_school(uow.session, _school(event), event.payload)


def service_accessed(uow: UnitOfWork, event: Event) -> None:
    payload = event.payload
    record_service_access(uow.session, _school(event), payload["service_code"], payload["mefstat"],
                          payload["accessed_at"])


HANDLERS = {
    "account.created": account_changed,
    "account.updated": account_changed,
    "account.notified": account_changed,
    "account.activation_started": account_changed,
    "account.activated": account_changed,
    "account.merged": account_changed,
    "account.deleted": account_changed,
    "school.settings_changed": school_settings_changed,
    "portal.service_accessed": service_accessed,
}


def apply_batch(uow: UnitOfWork, events: list[Event]) -> None:
    """A batch of new events in one transaction (the worker takes deliveries by batches): the
    account copies in three statements, the access counters in one; the same effect as the
    handlers above one by one."""
    accounts, accesses = [], []
    for event in events:
        if event.type.startswith("account."):
            accounts.append(event.payload["account"])
        elif event.type == "portal.service_accessed":
            payload = event.payload
            accesses.append((_school(event), payload["service_code"], payload["mefstat"], payload["accessed_at"]))
        else:
            HANDLERS[event.type](uow, event)
    record_accounts(uow.session, accounts)
    record_service_accesses(uow.session, accesses)
