"""Events the stats service consumes: its handlers table."""
from __future__ import annotations

from ts_shared.messaging.envelope import Event
from ts_shared.unit_of_work import UnitOfWork
from ts_stats.service_layer.counters import record_account, record_school, record_service_access


def account_changed(uow: UnitOfWork, event: Event) -> None:
    """Every account event carries the whole account after the change (deleted ones: closed)."""
    record_account(uow.session, event.payload["account"])


def school_settings_changed(uow: UnitOfWork, event: Event) -> None:
    record_school(uow.session, event.school_uai, event.payload)


def service_accessed(uow: UnitOfWork, event: Event) -> None:
    payload = event.payload
    record_service_access(uow.session, event.school_uai, payload["service_code"], payload["mefstat"],
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
