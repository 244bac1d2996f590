"""A notification letter as an email (D2, D3, the email channel): the same text as on paper."""
from __future__ import annotations

from datetime import date

from markupsafe import Markup
from sqlalchemy.orm import Session

from ts_notifier.adapters.plain_text import html_to_text
from ts_notifier.service_layer import letter_templates as templates
from ts_notifier.service_layer.family_emails import RenderedEmail
from ts_notifier.service_layer.letter_batch import EMAIL, LetterData, layout, prepare_batch


def render_letter_email(session: Session, school_uai: str, letter: LetterData, *, public_url: str,
                        on: date) -> RenderedEmail:
    """The same text as an email (subject, plain text, HTML) for the email channel: the header's
    subject line and the body; the postal blocks, the QR code and the paper coupon stay on paper
    (the coupon becomes a sentence)."""
    batch = prepare_batch(session, school_uai, public_url=public_url, on=on, channel=EMAIL)
    values = batch.values(letter)
    header = Markup(batch.render(batch.header.zones[templates.REST], values))
    body = Markup(batch.render(batch.body(letter.letter_case), values))
    subject = f"{batch.school.name} – {values['objet'][:1].upper()}{values['objet'][1:]}"
    html = layout.get_template("email.html").render(subject=subject, header=header, body=body, school=batch.school)
    return RenderedEmail(subject=subject, text=html_to_text(html), html=html)
