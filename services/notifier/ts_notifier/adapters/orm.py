"""Tables of the notifier database."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ts_shared.db import UTCDateTime, new_metadata, timestamp
from ts_shared.messaging.outbox import messaging_tables
from ts_shared.web.server_session import web_sessions_table


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


MESSAGING = messaging_tables(Base.metadata)
WEB_SESSIONS = web_sessions_table(Base.metadata)


class SchoolLetterSettings(Base):
    """What letters need to know of a school: its identity block, the services they list and the
    URL they print (D2). Read model of school.settings_changed."""

    __tablename__ = "school_letter_settings"

    uai: Mapped[str] = mapped_column(String(8), primary_key=True)
    settings_version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    academy_code: Mapped[str] = mapped_column(String(10))
    letter_type: Mapped[str] = mapped_column(String(20))
    ent_url: Mapped[str | None] = mapped_column(String(500))
    open_services: Mapped[list[str]] = mapped_column(JSON)
    address_lines: Mapped[list[str]] = mapped_column(JSON)
    phone: Mapped[str | None] = mapped_column(String(40))
    # What letters print when school.settings_changed carries it (older events do not): the
    # academy's name (« Académie de … »), the city (« <ville>, le <date> »), the head's name under
    # the signature, and the labels of academy services (code → label).
    academy_name: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    head_name: Mapped[str | None] = mapped_column(String(200))
    service_labels: Mapped[dict[str, str] | None] = mapped_column(JSON)
    updated_at: Mapped[timestamp]


class LetterPart(Base):
    """A part of the notification letters (D3) that a school customised: the header, or the body
    of one letter case. No row: the default text of that part."""

    __tablename__ = "letter_parts"

    school_uai: Mapped[str] = mapped_column(String(8), primary_key=True)
    part: Mapped[str] = mapped_column(String(40), primary_key=True)  # "header" or a letter case
    source: Mapped[str] = mapped_column(Text)  # sanitised HTML with {{ fields }}, checked on save
    updated_at: Mapped[timestamp]
    updated_by: Mapped[str] = mapped_column(String(100))  # the staff login


class OutgoingEmail(Base):
    """Every email the notifier sent or tried to send: who, what, when, the outcome. The body is
    not kept (it may hold a one-time link)."""

    __tablename__ = "outgoing_emails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    school_uai: Mapped[str | None] = mapped_column(String(8), index=True)
    template: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10))  # sent | refused
    error: Mapped[str | None] = mapped_column(String(2000))
    sent_at: Mapped[timestamp]


# The batches' tables live in their own module; importing it here puts them in the metadata
# (Alembic, the drift check) whatever is imported first.
from ts_notifier.adapters import batches as _batches  # noqa: E402,F401
