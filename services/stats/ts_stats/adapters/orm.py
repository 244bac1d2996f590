"""Tables of the stats database: read models built from events only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ts_shared.db import UTCDateTime, new_metadata, timestamp
from ts_shared.messaging.outbox import messaging_tables
from ts_shared.web.server_session import web_sessions_table


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


MESSAGING = messaging_tables(Base.metadata)
WEB_SESSIONS = web_sessions_table(Base.metadata)


class AccountSnapshot(Base):
    """The last known version of every account of the academy directory."""

    __tablename__ = "account_snapshots"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20))
    notified_at: Mapped[timestamp | None]
    activated_at: Mapped[timestamp | None]
    access_refused: Mapped[bool] = mapped_column(Boolean, default=False)  # B9: the « refus » column
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    # When this copy was last written here (stats' clock): a rebuild keeps what events wrote after it began.
    updated_at: Mapped[timestamp]


class AccountChild(Base):
    """Whom an account serves now, per school: G1 and G2 count these rows (a guardian account is
    a (guardian, student) couple: a merged account counts once per child)."""

    __tablename__ = "account_children"
    __table_args__ = (Index("ix_account_children_school", "school_uai", "division"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account_snapshots.account_id", ondelete="CASCADE"), index=True)
    school_uai: Mapped[str] = mapped_column(String(8))
    student_id: Mapped[str] = mapped_column(String(40))
    guardian_id: Mapped[str | None] = mapped_column(String(40))
    legal_rank: Mapped[int | None] = mapped_column(Integer)
    division: Mapped[str | None] = mapped_column(String(40))
    mef_code: Mapped[str | None] = mapped_column(String(20))
    mef_label: Mapped[str | None] = mapped_column(String(100))
    mefstat: Mapped[str | None] = mapped_column(String(20))
    kept_from_previous_school: Mapped[bool] = mapped_column(Boolean, default=False)


class School(Base):
    """What the pages need of a school (its name, its academy), from school.settings_changed."""

    __tablename__ = "schools"

    uai: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    academy_code: Mapped[str] = mapped_column(String(10), index=True)
    # National services are known by every service; the academy's own come with their labels.
    service_labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    settings_version: Mapped[int] = mapped_column(Integer)


class SchoolSummary(Base):
    """The academy view's line of a school, kept as a cache: `revision` grows with every change to
    the school's accounts (the consumer), `computed_revision` is the revision the line was computed
    at; a line behind is computed again when the view is asked."""

    __tablename__ = "school_summaries"

    uai: Mapped[str] = mapped_column(String(8), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    computed_revision: Mapped[int] = mapped_column(Integer, default=0)
    students: Mapped[int] = mapped_column(Integer, default=0)
    student_accounts_used: Mapped[int] = mapped_column(Integer, default=0)
    guardian_accounts: Mapped[int] = mapped_column(Integer, default=0)
    guardian_accounts_used: Mapped[int] = mapped_column(Integer, default=0)
    last_notified_at: Mapped[timestamp | None]
    # Accounts used now, by the day they were activated ("YYYY-MM-DD" -> count; "" when unknown).
    used_by_day: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class ServiceAccessCount(Base):
    """G3: portal accesses per school × month × service × MEFSTAT."""

    __tablename__ = "service_access_counts"
    __table_args__ = (UniqueConstraint("school_uai", "month", "service_code", "mefstat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_uai: Mapped[str] = mapped_column(String(8), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    service_code: Mapped[str] = mapped_column(String(50))
    mefstat: Mapped[str] = mapped_column(String(20))  # "" when unknown
    count: Mapped[int] = mapped_column(Integer, default=0)
