"""Staff following their batches (E1, F1, F3): progress, the recap of failures, and the downloads
of each file for its 24 hours (J3)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ts_notifier.adapters.batches import Delivery, GeneratedFile, NotificationBatch, SkippedRecipient
from ts_notifier.service_layer.files import files_folder
from ts_shared.calendar import french_datetime
from ts_shared.staff_actions import StaffActor, report_staff_action
from ts_shared.unit_of_work import UnitOfWork


DOWNLOADABLE = ("pdf", "csv")  # a part of a PDF being made is not handed out


@dataclass(frozen=True)
class Progress:
    batch: NotificationBatch
    counts: dict[str, int]
    files: list[GeneratedFile]
    failures: list[Delivery]
    skipped: list[SkippedRecipient]  # never requested: no account, no valid address… (the recap)

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
                                                        GeneratedFile.kind.in_(DOWNLOADABLE),
                                                        GeneratedFile.deleted_at.is_(None))
                            .order_by(GeneratedFile.kind)).all()
    failures = session.scalars(select(Delivery).where(Delivery.batch_id == batch.id, Delivery.status == "failed")
                               .order_by(Delivery.sort_key)).all()
    skipped = session.scalars(select(SkippedRecipient).where(SkippedRecipient.batch_id == batch.id)
                              .order_by(SkippedRecipient.id)).all()
    return Progress(batch, counts, list(files), list(failures), list(skipped))


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


def recent_batches(
    session: Session, *, school_uai: str | None, populations: list[str], limit: int = 50
) -> list[Progress]:
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
    """J3: a file holding clear passwords goes to the staff of its school who may follow its batch,
    as often as needed for 24 hours (a failed download, a jammed printer), then it is deleted
    (`purge_files`). Every download is in the audit log (J2)."""
    file = uow.session.get(GeneratedFile, file_id)
    if file is None or file.kind not in DOWNLOADABLE or file.deleted_at is not None or file.expires_at <= now:
        raise FileUnavailable(file_id)
    batch = followed_batch(uow.session, file.batch_id, school_uai=school_uai, populations=populations)
    path = files_folder(uow.settings) / file.id
    if batch is None or not path.exists():
        raise FileUnavailable(file_id)
    content = path.read_bytes()
    again = file.downloaded_at is not None
    file.downloaded_at = now
    what = "des courriers" if batch.kind == "notification" else "de la liste de classe"
    report_staff_action(uow, by, school_uai=batch.school_uai, action="files.downloaded", target=file.filename,
                        summary=f"Téléchargement{' (de nouveau)' if again else ''} {what} « {file.filename} » "
                                f"(mots de passe provisoires en clair ; fichier supprimé du serveur le "
                                f"{french_datetime(file.expires_at)})",
                        detail={"batch_id": file.batch_id, "kind": file.kind, "again": again})
    uow.commit()
    return HandedOverFile(filename=file.filename, kind=file.kind, content=content)
