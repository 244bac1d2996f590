"""H10: a family's message to its school, written on the portal's contact page
(contact_message.requested). Two emails: the message to the address the school chose, with the
account's names first and the family's confirmed address as Reply-To; a copy to the family, from
the no-reply sender. Both are recorded in `outgoing_emails` (without their text).

Sending is at-least-once, like every email of the notifier: a redelivered event sends again."""
from __future__ import annotations

from ts_notifier.adapters.mailer import RecipientRefused, build_message, send
from ts_notifier.adapters.orm import OutgoingEmail
from ts_notifier.service_layer.family_emails import render
from ts_shared.calendar import french_datetime
from ts_shared.db import utcnow
from ts_shared.messaging.envelope import Event
from ts_shared.unit_of_work import UnitOfWork


def send_contact_message(uow: UnitOfWork, event: Event) -> None:
    settings = uow.settings
    payload = event.payload
    context = {**payload, "sent_on": french_datetime(payload["sent_at"]), "portal_url": f"{settings.public_url}/"}
    copies = [("contact_message", payload["to"], payload["reply_to"])]
    if payload["reply_to"]:
        copies.append(("contact_copy", payload["reply_to"], None))
    for template, to, reply_to in copies:
        email = render(template, context)
        message = build_message(sender=settings.smtp.sender, to=to, subject=email.subject, text=email.text,
                                html=email.html, reply_to=reply_to)
        status, error = "sent", None
        try:
            send(settings.smtp, message)
        except RecipientRefused as refused:
            status, error = "refused", str(refused)[:2000]
        uow.session.add(OutgoingEmail(event_id=event.id, school_uai=event.school_uai, template=template,
                                      to_address=to, subject=email.subject[:300], status=status, error=error,
                                      sent_at=utcnow()))
