"""Events the notifier consumes: its handlers table."""
from __future__ import annotations

from ts_notifier.service_layer.batches import receive_batch_request, receive_notification
from ts_notifier.service_layer.class_lists import receive_class_list
from ts_notifier.service_layer.contact_messages import send_contact_message
from ts_notifier.service_layer.family_emails import send_family_email
from ts_notifier.service_layer.school_settings import record_school_settings
from ts_shared.messaging.envelope import Event
from ts_shared.unit_of_work import UnitOfWork


def school_settings_changed(uow: UnitOfWork, event: Event) -> None:
    record_school_settings(uow.session, event.uai, event.payload)


HANDLERS = {
    "school.settings_changed": school_settings_changed,
    "family_email.requested": send_family_email,
    # A two-phase handler: an email is on record as « sending » before it goes (see batches).
    "notification.requested": receive_notification,
    "notification.batch_requested": receive_batch_request,
    "class_list.requested": receive_class_list,
    "contact_message.requested": send_contact_message,
}
