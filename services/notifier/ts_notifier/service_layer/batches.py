"""The notifier's side of E1, F1 and F3: receive each recipient of a batch, send emails at once,
put the paper letters of the batch in one PDF when the last recipient has arrived, report every
delivery to accounts, and keep the files holding clear passwords only as long as needed (J3).

Exactly-once towards families: every `notification.requested` is applied once (idempotent
consumer). An email is marked « sending » in its own committed transaction before it is handed to
the SMTP server; if the worker dies between the hand-over and the commit of the result, the
redelivered request finds « sending » and does NOT send again: it is reported as failed
(« interrompu », to notify again from the recap) rather than risking a second email.
"""
from __future__ import annotations

import io
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ts_notifier.adapters.batches import Delivery, GeneratedFile, NotificationBatch
from ts_notifier.adapters.mailer import RecipientRefused, build_message, send
from ts_notifier.service_layer.class_lists import render_class_list_pdf
from ts_notifier.service_layer.letter_batch import LetterData
from ts_notifier.service_layer.letter_emails import render_letter_email
from ts_notifier.service_layer.letter_pages import render_letters_pdf
from ts_shared.calendar import PARIS, french_date
from ts_shared.crypto import SecretBox
from ts_shared.csv_export import SpreadsheetWriter
from ts_shared.db import insert_for, utcnow
from ts_shared.faults import crash_point
from ts_shared.messaging.envelope import Event
from ts_shared.staff_actions import StaffActor, report_staff_action
from ts_shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

FILE_LIFETIME = timedelta(hours=24)
# A mail server that does not answer gets a few more tries before the delivery is reported failed
# (the batch must finish; staff notify again from the recap).
SMTP_ATTEMPTS = 3
SMTP_RETRY_SECONDS = 1.0
INTERRUPTED = "Envoi interrompu par un incident technique : le courriel est peut-être parti. Renotifiez si besoin."


def files_folder(settings) -> Path:
    folder = Path(settings.data_dir) / "files"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _insert_batch(session: Session, values: dict) -> None:
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
        id=payload["delivery_id"], batch_id=payload["batch_id"], account_id=payload["account"]["account_id"],
        channel=payload["channel"], letter_case=payload["letter_case"], recipient_name=_recipient_name(recipient),
        email=recipient.get("email"), student_id=student["student_id"], guardian_id=_guardian_id(payload),
        sort_key=f"{student['last_name']} {student['first_name']} {recipient['last_name']} {recipient['first_name']}".lower(),
        request=_storable(payload), updated_at=utcnow(),
    )


class ReceiveNotification:
    """The handler of `notification.requested`, in two phases (see the module's docstring)."""

    MARKED = "marked"  # this attempt put the email « sending »: it may send it

    def prepare(self, uow: UnitOfWork, event: Event) -> str | None:
        """Own transaction, committed before the effect: an email about to go is « sending »."""
        payload = event.payload
        if payload["channel"] != "email" or uow.session.get(Delivery, payload["delivery_id"]) is not None:
            return None  # paper, or met before (a crashed attempt): decided in the effect
        _insert_batch(uow.session, _batch_values(event))
        uow.session.add(Delivery(status="sending", **_delivery_values(payload)))
        return self.MARKED

    def __call__(self, uow: UnitOfWork, event: Event, prepared: str | None) -> None:
        payload, session = event.payload, uow.session
        if prepared == self.MARKED:
            _send_email(uow, event, session.get(Delivery, payload["delivery_id"]))
        else:
            existing = session.get(Delivery, payload["delivery_id"])
            if existing is not None and existing.status == "sending":
                # Redelivered after a crash while handing the email over: never send it twice.
                existing.status, existing.error, existing.request = "failed", INTERRUPTED, None
                _report(uow, event.school_uai, existing, delivered=False)
            elif existing is None:
                _insert_batch(session, _batch_values(event))
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
    letter = _letter(delivery.request, SecretBox(settings.event_key))
    email = render_letter_email(uow.session, event.school_uai, letter, public_url=settings.public_url,
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
    _report(uow, event.school_uai, delivery, delivered=status == "sent")


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
    """One more recipient received; the last one puts the batch's letters in one PDF."""
    session = uow.session
    received, expected = session.execute(
        update(NotificationBatch).where(NotificationBatch.id == batch_id)
        .values(received=NotificationBatch.received + 1)
        .returning(NotificationBatch.received, NotificationBatch.expected)
    ).one()
    if received >= expected:
        _complete(uow, session.get(NotificationBatch, batch_id))


def _complete(uow: UnitOfWork, batch: NotificationBatch) -> None:
    session, settings = uow.session, uow.settings
    paper = session.scalars(select(Delivery).where(Delivery.batch_id == batch.id, Delivery.channel == "paper",
                                                   Delivery.status == "pending").order_by(Delivery.sort_key)).all()
    if paper:
        box = SecretBox(settings.event_key)
        pdf = render_letters_pdf(session, batch.school_uai, [_letter(d.request, box) for d in paper],
                                 public_url=settings.public_url, on=utcnow().astimezone(PARIS).date())
        store_file(uow, batch, "pdf", f"courriers-{_slug(batch.label)}.pdf", pdf)
        for delivery in paper:
            delivery.status, delivery.request, delivery.updated_at = "printed", None, utcnow()
            _report(uow, batch.school_uai, delivery, delivered=True)
    batch.completed_at = utcnow()
    log.info("batch %s complete: %d letter(s) in the PDF", batch.id, len(paper))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:60] or "notification"


def store_file(uow: UnitOfWork, batch: NotificationBatch, kind: str, filename: str, content: bytes) -> GeneratedFile:
    """Write a file holding clear passwords where the web service serves it, for 24 hours."""
    file = GeneratedFile(id=str(uuid.uuid4()), school_uai=batch.school_uai, batch_id=batch.id, kind=kind,
                         filename=filename, size=len(content), created_at=utcnow(), expires_at=utcnow() + FILE_LIFETIME)
    path = files_folder(uow.settings) / file.id
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(content)
    tmp.chmod(0o600)
    tmp.replace(path)
    uow.session.add(file)
    return file


# --- class_list.requested (F3) ---------------------------------------------------------------------

CLASS_LIST_COLUMNS = ("Élève", "Division", "Date de naissance", "Identifiant", "Mot de passe provisoire",
                      "Date de notification", "État", "Dernier accès")
STATE_LABELS = {"not_notified": "Non notifié", "notified": "Notifié", "activating": "En cours d'activation",
                "used": "Utilisé"}


def class_list_rows(rows: list[dict], box: SecretBox) -> list[list[str]]:
    result = []
    for row in sorted(rows, key=lambda r: (r["last_name"].lower(), r["first_name"].lower(), r["student_id"])):
        sealed = row["temporary_password_encrypted"]
        result.append([f"{row['last_name']} {row['first_name']}", row["division"] or "", french_date(row["birth_date"]),
                       row["login"] or "", box.open(sealed) if sealed else (row["password_note"] or ""),
                       french_date(row["notified_at"]), STATE_LABELS.get(row["state"] or "", ""),
                       french_date(row["last_login_at"])])
    return result


def class_list_csv(rows: list[list[str]]) -> bytes:
    """UTF-8 with a BOM and `;` separators: what Excel opens as is."""
    buffer = io.StringIO()
    writer = SpreadsheetWriter(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CLASS_LIST_COLUMNS)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def receive_class_list(uow: UnitOfWork, event: Event) -> None:
    payload, session = event.payload, uow.session
    batch_values = {"id": payload["batch_id"], "school_uai": event.school_uai, "kind": "class_list",
                    "population": "students", "label": f"Liste des comptes élèves – {payload['title']}",
                    "requested_by": payload["requested_by"], "expected": len(payload["rows"]),
                    "received": len(payload["rows"]), "created_at": utcnow()}
    _insert_batch(session, batch_values)
    batch = session.get(NotificationBatch, payload["batch_id"])
    rows = class_list_rows(payload["rows"], SecretBox(uow.settings.event_key))
    slug = _slug(payload["title"])
    store_file(uow, batch, "pdf", f"liste-{slug}.pdf",
               render_class_list_pdf(session, event.school_uai, payload["title"], CLASS_LIST_COLUMNS, rows,
                                     on=utcnow().astimezone(PARIS).date()))
    store_file(uow, batch, "csv", f"liste-{slug}.csv", class_list_csv(rows))
    batch.completed_at = utcnow()


# --- progress, downloads, clean-up -----------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    batch: NotificationBatch
    counts: dict[str, int]
    files: list[GeneratedFile]
    failures: list[Delivery]

    @property
    def done(self) -> int:
        return sum(self.counts.get(status, 0) for status in ("sent", "printed", "failed"))

    @property
    def percent(self) -> int:
        if self.batch.completed_at:
            return 100
        return int(100 * self.done / self.batch.expected) if self.batch.expected else 0


def progress(session: Session, batch: NotificationBatch) -> Progress:
    counts = dict(session.execute(select(Delivery.status, func.count()).where(Delivery.batch_id == batch.id)
                                  .group_by(Delivery.status)).all())
    files = session.scalars(select(GeneratedFile).where(GeneratedFile.batch_id == batch.id,
                                                        GeneratedFile.deleted_at.is_(None))
                            .order_by(GeneratedFile.kind)).all()
    failures = session.scalars(select(Delivery).where(Delivery.batch_id == batch.id, Delivery.status == "failed")
                               .order_by(Delivery.sort_key)).all()
    return Progress(batch, counts, list(files), list(failures))


def followed_batch(session: Session, batch_id: str, *, school_uai: str | None,
                   populations: list[str]) -> NotificationBatch | None:
    """The batch if it is one of `school_uai` about one of `populations` (those the staff member may
    follow); None for any other, and for a batch not received yet."""
    batch = session.get(NotificationBatch, batch_id)
    if batch is None or batch.school_uai != school_uai or batch.population not in populations:
        return None
    return batch


def batch_received(session: Session, batch_id: str) -> bool:
    """Whether the batch has reached the notifier (a batch just requested travels over the broker)."""
    return session.get(NotificationBatch, batch_id) is not None


def recent_batches(session: Session, *, school_uai: str | None, populations: list[str], limit: int = 50) -> list[Progress]:
    """The latest batches of the school about `populations`, newest first, with their progress."""
    batches = session.scalars(
        select(NotificationBatch).where(NotificationBatch.school_uai == school_uai,
                                        NotificationBatch.population.in_(populations))
        .order_by(NotificationBatch.created_at.desc()).limit(limit)).all()
    return [progress(session, batch) for batch in batches]


class FileUnavailable(LookupError):
    """No such file for this staff member: another school's, of a population they may not follow,
    or no longer on the server (downloaded or expired)."""


@dataclass(frozen=True)
class HandedOverFile:
    filename: str
    kind: str  # "pdf" or "csv"
    content: bytes


def download_file(uow: UnitOfWork, file_id: str, *, school_uai: str | None, populations: list[str], by: StaffActor,
                  now: datetime) -> HandedOverFile:
    """J3: a file holding clear passwords goes to the staff of its school, once: it is deleted from
    the server as it is handed over, and the download is in the audit log (J2)."""
    file = uow.session.get(GeneratedFile, file_id)
    if file is None or file.deleted_at is not None:
        raise FileUnavailable(file_id)
    batch = followed_batch(uow.session, file.batch_id, school_uai=school_uai, populations=populations)
    path = files_folder(uow.settings) / file.id
    if batch is None or not path.exists():
        raise FileUnavailable(file_id)
    content = path.read_bytes()
    delete_file(uow, file, now=now, downloaded=True)
    what = "des courriers" if batch.kind == "notification" else "de la liste de classe"
    report_staff_action(uow, by, school_uai=batch.school_uai, action="files.downloaded", target=file.filename,
                        summary=f"Téléchargement {what} « {file.filename} » (mots de passe provisoires en clair ; "
                                "fichier supprimé du serveur)",
                        detail={"batch_id": file.batch_id, "kind": file.kind})
    uow.commit()
    return HandedOverFile(filename=file.filename, kind=file.kind, content=content)


def delete_file(uow: UnitOfWork, file: GeneratedFile, *, now: datetime, downloaded: bool) -> None:
    path = files_folder(uow.settings) / file.id
    path.unlink(missing_ok=True)
    file.deleted_at = now
    if downloaded:
        file.downloaded_at = now


def purge_files(uow: UnitOfWork, *, now: datetime) -> int:
    """J3: files past their 24 hours are deleted (downloaded ones already are)."""
    expired = uow.session.scalars(select(GeneratedFile).where(GeneratedFile.deleted_at.is_(None),
                                                              GeneratedFile.expires_at <= now)).all()
    for file in expired:
        delete_file(uow, file, now=now, downloaded=False)
    uow.commit()
    return len(expired)
