"""H10, D4: a family writes to its school from the contact page. The message goes to the
notifier (contact_message.requested), which sends it to the address the school chose, with the
family's confirmed address as Reply-To, and a copy to the family. An account sends at most
MESSAGES_PER_HOUR messages an hour (counted in the portal's database)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from ts_portal.adapters.identity_client import Child, Profile
from ts_portal.adapters.orm import ContactMessage, SchoolPortalSettings
from ts_shared.unit_of_work import UnitOfWork

MESSAGES_PER_HOUR = 5
WINDOW = timedelta(hours=1)


class ContactUnavailable(Exception):
    """The school has not turned its contact link on (D4)."""


class TooManyMessages(Exception):
    """The account sent MESSAGES_PER_HOUR messages in the last hour."""


def send_contact_message(uow: UnitOfWork, profile: Profile, child: Child, settings: SchoolPortalSettings | None, *,
                         subject: str, body: str, now: datetime) -> str:
    """Returns the school's address the message goes to."""
    if settings is None or not settings.contact_email:
        raise ContactUnavailable(child.school_uai)
    # Only this account's rows older than the window are of no more use.
    uow.session.execute(delete(ContactMessage).where(ContactMessage.account_id == profile.account_id,
                                                     ContactMessage.sent_at < now - WINDOW))
    sent = uow.session.scalar(select(func.count()).select_from(ContactMessage).where(
        ContactMessage.account_id == profile.account_id, ContactMessage.sent_at >= now - WINDOW)) or 0
    if sent >= MESSAGES_PER_HOUR:
        uow.commit()
        raise TooManyMessages(profile.account_id)
    uow.session.add(ContactMessage(account_id=profile.account_id, school_uai=child.school_uai, sent_at=now))
    children = [f"{c.full_name}{f' ({c.division})' if c.division else ''}"
                for c in profile.children if c.school_uai == child.school_uai]
    uow.emit("contact_message.requested", {
        "to": settings.contact_email, "school_name": settings.name, "account_names": profile.display_name,
        "login": profile.login, "children": children,
        "reply_to": profile.email if profile.email and profile.email_confirmed else None,
        "subject": subject.strip(), "body": body.strip(), "sent_at": now,
    }, school_uai=child.school_uai)
    uow.commit()
    return settings.contact_email
