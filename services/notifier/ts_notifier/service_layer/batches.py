"""The notifier's side of E1, F1 and F3: receive each recipient of a batch, send emails at once,
render the paper letters step by step as they arrive and put them in one PDF when the last
recipient has arrived, report every delivery to accounts (the PDF is kept as the batch's file,
see files); keep who could not be notified, and why, in the batch's recap.

Exactly-once towards families: every `notification.requested` is applied once (idempotent
consumer). An email is marked « sending » in its own committed transaction before it is handed to
the SMTP server; if the worker dies between the hand-over and the commit of the result, the
redelivered request finds « sending » and does NOT send again: it is reported as failed
(« interrompu », to notify again from the recap) rather than risking a second email.
"""
from __future__ import annotations

import logging
import time
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ts_notifier.adapters.batches import Delivery, GeneratedFile, NotificationBatch, SkippedRecipient
from ts_notifier.adapters.mailer import RecipientRefused, build_message, send
from ts_notifier.adapters.pdf import assemble_pages, page_count
from ts_notifier.service_layer.files import delete_file, file_slug, files_folder, store_file
from ts_notifier.service_layer.letter_batch import LetterData
from ts_notifier.service_layer.letter_emails import render_letter_email
from ts_notifier.service_layer.letter_pages import render_letters_pdf
from ts_shared.calendar import PARIS
from ts_shared.crypto import SecretBox
from ts_shared.db import insert_for, utcnow
from ts_shared.faults import crash_point
from ts_shared.messaging.envelope import Event
from ts_shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# A mail server that does not answer gets a few more tries before the delivery is reported failed
# (the batch must finish; staff notify again from the recap).
SMTP_ATTEMPTS = 3
SMTP_RETRY_SECONDS = 1.0
# Paper letters are rendered by steps of this many as they arrive (see _count_and_maybe_complete).
LETTERS_PER_STEP = 20
INTERRUPTED = "Envoi interrompu par un incident technique : le courriel est peut-être parti. Renotifiez si besoin."


def insert_batch(session: Session, values: dict) -> None:
    session.execute(insert_for(session)(NotificationBatch).values(**values).on_conflict_do_nothing(index_elements=["id"]))


def _recipient_name(recipient: dict) -> str:
    civility = {"MME": "Mme", "M.": "M.", "M": "M."}.get((recipient.get("civility") or "").upper(), "")
    return " ".join(part for part in (civility, recipient["first_name"], recipient["last_name"]) if part)


def _guardian_id(payload: dict) -> str | None:
    student_id = payload["student"]["student_id"]
    for child in payload["account"]["children"]:
        if child["student_id"] == student_id:
            return child["guardian_id"]
    return None


# --- notification.batch_requested -------------------------------------------------------------------

def receive_batch_request(uow: UnitOfWork, event: Event) -> None:
    """The batch as staff launched it: its recipients follow (or have already come: the batch row
    is made by whichever arrives first), and who could not be notified goes in its recap for
    good. A batch with nobody to notify is complete at once."""
    payload, session = event.payload, uow.session
    insert_batch(session, {"id": payload["batch_id"], "school_uai": event.school_uai, "kind": "notification",
                           "population": payload["population"], "label": payload["batch_label"],
                           "requested_by": payload["requested_by"], "expected": payload["batch_size"],
                           "received": 0, "created_at": utcnow()})
    session.add_all(SkippedRecipient(batch_id=payload["batch_id"], recipient_name=skipped["name"],
                                     reason=skipped["reason"], student_id=skipped["student_id"],
                                     guardian_id=skipped["guardian_id"]) for skipped in payload["skipped"])
    if payload["batch_size"] == 0:
        session.get_one(NotificationBatch, payload["batch_id"]).completed_at = utcnow()


# --- notification.requested ------------------------------------------------------------------------

def _batch_values(event: Event) -> dict:
    payload = event.payload
    return {"id": payload["batch_id"], "school_uai": event.school_uai, "kind": "notification",
            "population": payload["population"], "label": payload["batch_label"],
            "requested_by": payload["requested_by"], "expected": payload["batch_size"], "received": 0,
            "created_at": utcnow()}


def _delivery_values(payload: dict) -> dict:
    student, recipient = payload["student"], payload["recipient"]
    return dict(
        id=payload["delivery_id"],
        batch_id=payload["batch_id"],
        account_id=payload["account"]["account_id"],
        channel=payload["channel"],
        letter_case=payload["letter_case"],
        recipient_name=_recipient_name(recipient),
        email=recipient.get("email"),
        student_id=student["student_id"],
        guardian_id=_guardian_id(payload),
        sort_key=(
            f"{student['last_name']} {student['first_name']} {recipient['last_name']} {recipient['first_name']}"
        ).lower(),
        request=_storable(payload),
        updated_at=utcnow(),
    )


class ReceiveNotification:
    """The handler of `notification.requested`, in two phases (see the module's docstring)."""

    MARKED = "marked"  # this attempt put the email « sending »: it may send it

    def prepare(self, uow: UnitOfWork, event: Event) -> str | None:
        """Own transaction, committed before the effect: an email about to go is « sending »."""
        payload = event.payload
        if payload["channel"] != "email" or uow.session.get(Delivery, payload["delivery_id"]) is not None:
            return None  # paper, or met before (a crashed attempt): decided in the effect
        insert_batch(uow.session, _batch_values(event))
        uow.session.add(Delivery(status="sending", **_delivery_values(payload)))
        return self.MARKED

    def __call__(self, uow: UnitOfWork, event: Event, prepared: str | None) -> None:
        payload, session = event.payload, uow.session
        if prepared == self.MARKED:
            _send_email(uow, event, session.get_one(Delivery, payload["delivery_id"]))
        else:
            existing = session.get(Delivery, payload["delivery_id"])
            if existing is not None and existing.status == "sending":
                # Redelivered after a crash while handing the email over: never send it twice.
                existing.status, existing.error, existing.request = "failed", INTERRUPTED, None
                _report(uow, event.uai, existing, delivered=False)
            elif existing is None:
                insert_batch(session, _batch_values(event))
                session.add(Delivery(status="pending", **_delivery_values(payload)))
                session.flush()
            else:
                return  # already final
        _count_and_maybe_complete(uow, payload["batch_id"])


receive_notification = ReceiveNotification()


def _storable(payload: dict) -> dict:
    """The request as JSON (dates as text); the temporary password stays sealed."""
    student = dict(payload["student"])
    if student.get("birth_date") is not None:
        student["birth_date"] = student["birth_date"].isoformat()
    return {"letter_case": payload["letter_case"], "recipient": payload["recipient"], "student": student,
            "login": payload["account"]["login"],
            "kept_from_previous_school": any(c["kept_from_previous_school"] for c in payload["account"]["children"]),
            "temporary_password_encrypted": payload["temporary_password_encrypted"]}


def _letter(request: dict, box: SecretBox) -> LetterData:
    student = dict(request["student"])
    if student.get("birth_date"):
        student["birth_date"] = date.fromisoformat(student["birth_date"])
    sealed = request["temporary_password_encrypted"]
    return LetterData(letter_case=request["letter_case"], recipient=request["recipient"], student=student,
                      login=request["login"], temporary_password=box.open(sealed) if sealed else None,
                      kept_from_previous_school=request["kept_from_previous_school"])


def _send_email(uow: UnitOfWork, event: Event, delivery: Delivery) -> None:
    settings = uow.settings
    if delivery.request is None or delivery.email is None:
        raise ValueError("an email delivery keeps its request and its address until it is sent")
    letter = _letter(delivery.request, SecretBox(settings.event_key))
    email = render_letter_email(uow.session, event.uai, letter, public_url=settings.public_url,
                                on=utcnow().astimezone(PARIS).date())
    message = build_message(sender=settings.smtp.sender, to=delivery.email, subject=email.subject, text=email.text,
                            html=email.html)
    crash_point("notifier.before_smtp")
    status, error = "sent", None
    for attempt in range(SMTP_ATTEMPTS):
        try:
            send(settings.smtp, message)
            break
        except RecipientRefused as refused:
            status, error = "failed", f"Adresse refusée par le serveur de messagerie : {refused}"
            break
        except OSError as failure:  # server down, timeout, temporary refusal: nothing was accepted
            if attempt + 1 == SMTP_ATTEMPTS:
                status, error = "failed", f"Serveur de messagerie indisponible ({type(failure).__name__}) : renotifiez."
            else:
                time.sleep(SMTP_RETRY_SECONDS * (attempt + 1))
    crash_point("notifier.after_smtp")
    delivery.status, delivery.error, delivery.request, delivery.updated_at = status, error, None, utcnow()
    _report(uow, event.uai, delivery, delivered=status == "sent")


def _report(uow: UnitOfWork, school_uai: str, delivery: Delivery, *, delivered: bool) -> None:
    if delivered:
        uow.emit("notification.delivered", {"batch_id": delivery.batch_id, "delivery_id": delivery.id,
                                            "account_id": delivery.account_id, "channel": delivery.channel,
                                            "delivered_at": utcnow()}, school_uai=school_uai)
    else:
        uow.emit("notification.failed", {"batch_id": delivery.batch_id, "delivery_id": delivery.id,
                                         "account_id": delivery.account_id, "channel": delivery.channel,
                                         "error": delivery.error or "échec"}, school_uai=school_uai)


def _count_and_maybe_complete(uow: UnitOfWork, batch_id: str) -> None:
    """One more recipient received. Paper letters are rendered step by step as they arrive (a
    progress bar a person sees moving, and the work spread over the workers that receive them);
    the last recipient prints the rest and puts every letter, in alphabetical order, in one PDF."""
    session = uow.session
    received, expected = session.execute(
        update(NotificationBatch).where(NotificationBatch.id == batch_id)
        .values(received=NotificationBatch.received + 1)
        .returning(NotificationBatch.received, NotificationBatch.expected)
    ).one()
    batch = session.get_one(NotificationBatch, batch_id)
    pending = session.scalars(select(Delivery).where(Delivery.batch_id == batch_id, Delivery.channel == "paper",
                                                     Delivery.status == "pending").order_by(Delivery.sort_key)).all()
    if received >= expected:
        if pending:
            _print_letters(uow, batch, list(pending))
        _complete(uow, batch)
    elif len(pending) >= LETTERS_PER_STEP:
        _print_letters(uow, batch, list(pending))


def _request_of(delivery: Delivery) -> dict:
    if delivery.request is None:
        raise ValueError("a pending paper letter keeps its request until it is printed")
    return delivery.request


def _print_letters(uow: UnitOfWork, batch: NotificationBatch, deliveries: list[Delivery]) -> None:
    """Render these paper letters into one part of the batch's PDF: printed, reported delivered."""
    session, settings = uow.session, uow.settings
    box, on = SecretBox(settings.event_key), utcnow().astimezone(PARIS).date()
    letters = [_letter(_request_of(delivery), box) for delivery in deliveries]
    pdf = render_letters_pdf(session, batch.school_uai, letters, public_url=settings.public_url, on=on)
    if page_count(pdf) == len(letters):
        layout = [(index, 1) for index in range(len(letters))]
    else:  # a letter ran onto a second page: each one alone, so that its pages are known
        pieces = {str(index): render_letters_pdf(session, batch.school_uai, [letter], public_url=settings.public_url,
                                                 on=on) for index, letter in enumerate(letters)}
        counts = [page_count(pieces[str(index)]) for index in range(len(letters))]
        pdf = assemble_pages(pieces, [(str(index), page) for index in range(len(letters))
                                      for page in range(counts[index])])
        layout = [(sum(counts[:index]), counts[index]) for index in range(len(letters))]
    part = store_file(uow, batch, "part", f"partie-{file_slug(batch.label)}.pdf", pdf)
    for delivery, (first, pages) in zip(deliveries, layout, strict=True):
        delivery.status, delivery.request, delivery.updated_at = "printed", None, utcnow()
        delivery.part_file_id, delivery.part_first_page, delivery.part_pages = part.id, first, pages
        _report(uow, batch.school_uai, delivery, delivered=True)
    session.flush()


def _pages_of(delivery: Delivery) -> list[tuple[str, int]]:
    """Where a printed letter's pages are: (its part, page index in that part)."""
    if delivery.part_file_id is None or delivery.part_first_page is None or delivery.part_pages is None:
        raise ValueError("a printed letter knows where its pages are")
    first = delivery.part_first_page
    return [(delivery.part_file_id, first + page) for page in range(delivery.part_pages)]


def _complete(uow: UnitOfWork, batch: NotificationBatch) -> None:
    """Every letter of the batch in one PDF, in alphabetical order; its parts are deleted."""
    session, folder = uow.session, files_folder(uow.settings)
    printed = session.scalars(select(Delivery).where(Delivery.batch_id == batch.id, Delivery.channel == "paper",
                                                     Delivery.part_file_id.is_not(None))
                              .order_by(Delivery.sort_key)).all()
    if printed:
        parts = session.scalars(select(GeneratedFile).where(GeneratedFile.batch_id == batch.id,
                                                            GeneratedFile.kind == "part",
                                                            GeneratedFile.deleted_at.is_(None))).all()
        sources = {part.id: (folder / part.id).read_bytes() for part in parts}
        pdf = assemble_pages(sources, [page for delivery in printed for page in _pages_of(delivery)])
        store_file(uow, batch, "pdf", f"courriers-{file_slug(batch.label)}.pdf", pdf)
        for part in parts:
            delete_file(uow, part, now=utcnow())
    batch.completed_at = utcnow()
    log.info("batch %s complete: %d letter(s) in the PDF", batch.id, len(printed))
