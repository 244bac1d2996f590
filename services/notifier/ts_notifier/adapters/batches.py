"""Tables of notification batches, their deliveries and the files they produce (E1, F1, F3, J3)."""
from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ts_notifier.adapters.orm import Base
from ts_shared.db import timestamp, utcnow


class NotificationBatch(Base):
    """What staff launched at once (a division, one account, a class list): its progress."""

    __tablename__ = "notification_batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_uai: Mapped[str] = mapped_column(String(8), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # notification | class_list
    population: Mapped[str] = mapped_column(String(10))  # guardians | students: who may follow it
    label: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str | None] = mapped_column(String(100))
    expected: Mapped[int] = mapped_column(Integer)  # deliveries announced by accounts
    received: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    completed_at: Mapped[timestamp | None]


class Delivery(Base):
    """One recipient of a batch. The request (with its sealed temporary password) is kept only
    until the letter or email is produced, then cleared (J3)."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the delivery_id of the event
    batch_id: Mapped[str] = mapped_column(ForeignKey("notification_batches.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))  # paper | email
    letter_case: Mapped[str] = mapped_column(String(40))
    recipient_name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(254))
    student_id: Mapped[str] = mapped_column(String(40))  # SIECLE ids: to notify again from the recap
    guardian_id: Mapped[str | None] = mapped_column(String(40))
    sort_key: Mapped[str] = mapped_column(String(300))  # letters go in alphabetical order
    # pending → sending (email handed to the server) → sent | printed | failed
    status: Mapped[str] = mapped_column(String(10), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[timestamp] = mapped_column(default=utcnow)
    # A printed letter: where its pages are in the part of the batch's PDF rendered with it (the
    # letters are rendered step by step as they arrive, then put in order in one PDF).
    part_file_id: Mapped[str | None] = mapped_column(String(36))
    part_first_page: Mapped[int | None] = mapped_column(Integer)
    part_pages: Mapped[int | None] = mapped_column(Integer)


class SkippedRecipient(Base):
    """Someone of a batch's selection who could not be notified, and why (no account, no valid
    address, access removed…): the batch's recap keeps them for good, to notify them again."""

    __tablename__ = "skipped_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("notification_batches.id", ondelete="CASCADE"), index=True)
    recipient_name: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(500))
    student_id: Mapped[str] = mapped_column(String(40))
    guardian_id: Mapped[str | None] = mapped_column(String(40))


class GeneratedFile(Base):
    """A PDF or CSV holding clear temporary passwords: downloadable for 24 hours, then deleted."""

    __tablename__ = "generated_files"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_uai: Mapped[str] = mapped_column(String(8), index=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("notification_batches.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(5))  # pdf | csv | part (of a batch's PDF being made)
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[timestamp]
    downloaded_at: Mapped[timestamp | None]  # the latest download (each one is in the audit log)
    deleted_at: Mapped[timestamp | None]
