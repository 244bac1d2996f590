"""Events the portal consumes: its handlers table."""
from __future__ import annotations

from ts_portal.service_layer.school_settings import record_school_settings
from ts_shared.messaging.envelope import Event
from ts_shared.unit_of_work import UnitOfWork


def school_settings_changed(uow: UnitOfWork, event: Event) -> None:
    record_school_settings(uow.session, event.uai, event.payload)


HANDLERS = {
    "school.settings_changed": school_settings_changed,
}
