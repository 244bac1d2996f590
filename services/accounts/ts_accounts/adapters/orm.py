"""Tables of the accounts database (SQLAlchemy 2.0 typed declarative models)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ts_shared.db import UTCDateTime, new_metadata, timestamp, utcnow
from ts_shared.messaging.outbox import messaging_tables


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


MESSAGING = messaging_tables(Base.metadata)


class School(Base):
    __tablename__ = "schools"

    uai: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    academy_code: Mapped[str] = mapped_column(String(10), index=True)
    city: Mapped[str | None] = mapped_column(String(100))
    # C1: None until the head of school activates online services.
    services_activated_at: Mapped[timestamp | None]
    welcome_message_html: Mapped[str] = mapped_column(Text, default="")
    # Grows with every change of what the portal shows (school.settings_changed).
    settings_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    academy_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    last_login_at: Mapped[timestamp | None]

    assignments: Mapped[list["StaffAssignment"]] = relationship(back_populates="staff", cascade="all, delete-orphan")


class StaffAssignment(Base):
    """A staff member's role in one school: the head holds every right, a delegate those listed."""

    __tablename__ = "staff_assignments"
    __table_args__ = (UniqueConstraint("staff_id", "school_uai"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), index=True)
    is_head: Mapped[bool] = mapped_column(Boolean, default=False)
    rights: Mapped[list[str]] = mapped_column(JSON, default=list)

    staff: Mapped[StaffUser] = relationship(back_populates="assignments")
    school: Mapped[School] = relationship()
