"""Events the accounts service consumes: its handlers table."""
from __future__ import annotations

from ts_accounts.service_layer.audit import record_reported_action
from ts_accounts.service_layer.notifications import record_delivery, record_failure
from ts_shared.messaging.envelope import Event
from ts_shared.unit_of_work import UnitOfWork


def notification_delivered(uow: UnitOfWork, event: Event) -> None:
    payload = event.payload
    record_delivery(uow, account_id=payload["account_id"], channel=payload["channel"],
                    delivered_at=payload["delivered_at"], batch_id=payload["batch_id"])


def notification_failed(uow: UnitOfWork, event: Event) -> None:
    payload = event.payload
    record_failure(uow, account_id=payload["account_id"], channel=payload["channel"], error=payload["error"],
                   at=event.occurred_at, batch_id=payload["batch_id"])


def staff_action_recorded(uow: UnitOfWork, event: Event) -> None:
    record_reported_action(uow.session, event.school_uai, event.payload)


HANDLERS = {
    "notification.delivered": notification_delivered,
    "notification.failed": notification_failed,
    "staff_action.recorded": staff_action_recorded,
}
