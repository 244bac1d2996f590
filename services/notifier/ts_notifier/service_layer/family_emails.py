"""Family emails (H2–H5, B8): confirmation link, login reminder, new-password link, an account
now serving the student's new school (continuity of access). Each email is
a folder of templates (subject, text, HTML); the link's token arrives encrypted in the event and
is decrypted only to be written into the message.

Sending is at-least-once: if the process dies after the SMTP server accepted a message but
before the commit, the redelivered event sends it again (an email cannot be un-sent).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ts_notifier.adapters.mailer import RecipientRefused, build_message, send
from ts_notifier.adapters.orm import OutgoingEmail
from ts_shared.calendar import french_datetime
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.messaging.envelope import Event
from ts_shared.unit_of_work import UnitOfWork

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "emails"
# Where the portal receives the links (the token in the query string, never in the path).
LINK_PATHS = {"confirm_email": "/compte/confirmation", "forgot_password": "/mot-de-passe/nouveau"}

_environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                           autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                           keep_trailing_newline=False)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render(template: str, context: dict) -> RenderedEmail:
    subject = _environment.get_template(f"{template}/subject.txt").render(context).strip()
    return RenderedEmail(subject=" ".join(subject.split()),
                         text=_environment.get_template(f"{template}/body.txt").render(context),
                         html=_environment.get_template(f"{template}/body.html").render(context))


def family_email_context(payload: dict, *, public_url: str, box: SecretBox) -> dict:
    link = None
    if payload["link_token_encrypted"]:
        token = box.open(payload["link_token_encrypted"])
        link = f"{public_url}{LINK_PATHS[payload['template']]}?{urlencode({'jeton': token})}"
    return {"recipient_name": payload["recipient_name"], "to": payload["to"], "logins": payload["logins"],
            "reference": payload["reference"], "link": link, "expires_on": french_datetime(payload["expires_at"]),
            "portal_url": f"{public_url}/", "subject": payload["subject"] or "", "body": payload["body"] or "",
            "school_name": payload["school_name"] or "", "previous_school_name": payload["previous_school_name"] or "",
            "student_name": payload["student_name"] or ""}


def send_family_email(uow: UnitOfWork, event: Event) -> None:
    settings = uow.settings
    payload = event.payload
    email = render(payload["template"], family_email_context(payload, public_url=settings.public_url,
                                                             box=SecretBox(settings.event_key)))
    message = build_message(sender=settings.smtp.sender, to=payload["to"], subject=email.subject, text=email.text,
                            html=email.html)
    status, error = "sent", None
    try:
        send(settings.smtp, message)
    except RecipientRefused as refused:
        status, error = "refused", str(refused)[:2000]
    uow.session.add(OutgoingEmail(event_id=event.id, school_uai=event.school_uai, template=payload["template"],
                                  to_address=payload["to"], subject=email.subject, status=status, error=error,
                                  sent_at=utcnow()))
