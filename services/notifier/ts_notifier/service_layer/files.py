"""J3: the generated files that hold clear passwords (the letters' PDF, the class lists): written
where the web service serves them, downloadable for 24 hours (as often as needed, each download
audited), then deleted. They can be produced again afterwards: the same passwords for accounts
still « Notifié » (docs/credentials.md)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from ts_notifier.adapters.batches import GeneratedFile, NotificationBatch
from ts_shared.db import utcnow
from ts_shared.unit_of_work import UnitOfWork

FILE_LIFETIME = timedelta(hours=24)


def files_folder(settings) -> Path:
    folder = Path(settings.data_dir) / "files"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_slug(text: str) -> str:
    """`text` as a part of a file name."""
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


def delete_file(uow: UnitOfWork, file: GeneratedFile, *, now: datetime) -> None:
    path = files_folder(uow.settings) / file.id
    path.unlink(missing_ok=True)
    file.deleted_at = now


def purge_files(uow: UnitOfWork, *, now: datetime) -> int:
    """J3: files past their 24 hours are deleted, downloaded or not."""
    expired = uow.session.scalars(select(GeneratedFile).where(GeneratedFile.deleted_at.is_(None),
                                                              GeneratedFile.expires_at <= now)).all()
    for file in expired:
        delete_file(uow, file, now=now)
    uow.commit()
    return len(expired)
