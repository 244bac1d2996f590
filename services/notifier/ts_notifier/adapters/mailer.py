"""Sending email over SMTP (the production relay, or the embedded sink)."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ts_shared.config import SmtpSettings


class RecipientRefused(Exception):
    """The server refused this recipient for good (no point in retrying)."""


def build_message(*, sender: str, to: str, subject: str, text: str, html: str | None = None,
                  reply_to: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">") or None)
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send(smtp: SmtpSettings, message: EmailMessage, *, timeout: float = 15.0) -> None:
    """Send one message. RecipientRefused for a permanent refusal of the recipient; other
    failures (server down, temporary errors) raise as they are, to be retried."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password)
        try:
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            if all(500 <= code < 600 for code in codes):
                raise RecipientRefused("; ".join(f"{rcpt}: {code} {reason.decode(errors='replace')}"
                                                 for rcpt, (code, reason) in error.recipients.items())) from None
            raise
