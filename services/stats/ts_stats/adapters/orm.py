"""Tables of the stats database: read models built from events only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ts_shared.db import UTCDateTime, new_metadata, timestamp
from ts_shared.messaging.outbox import messaging_tables


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


MESSAGING = messaging_tables(Base.metadata)


class AccountSnapshot(Base):
    """The last known state of every account (G1, G2 are counts over this table)."""

    __tablename__ = "account_snapshots"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    school_uai: Mapped[str] = mapped_column(String(8), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20))
    student_id: Mapped[str] = mapped_column(String(40))
    guardian_id: Mapped[str | None] = mapped_column(String(40))
    legal_rank: Mapped[int | None] = mapped_column(Integer)
    division: Mapped[str | None] = mapped_column(String(40))
    mef_code: Mapped[str | None] = mapped_column(String(20))
    mefstat: Mapped[str | None] = mapped_column(String(20))
    notified_at: Mapped[timestamp | None]
    kept_from_previous_school: Mapped[bool] = mapped_column(Boolean, default=False)
    # False once the account is closed (replaced by a new one, or its student left the school).
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[timestamp]


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
