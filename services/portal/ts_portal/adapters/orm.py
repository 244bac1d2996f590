"""Tables of the portal database."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ts_shared.db import UTCDateTime, new_metadata, timestamp
from ts_shared.messaging.outbox import messaging_tables
from ts_shared.web.server_session import web_sessions_table


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


MESSAGING = messaging_tables(Base.metadata)
WEB_SESSIONS = web_sessions_table(Base.metadata)


class SchoolPortalSettings(Base):
    """What the portal shows of a school (read model of school.settings_changed)."""

    __tablename__ = "school_portal_settings"

    uai: Mapped[str] = mapped_column(String(8), primary_key=True)
    settings_version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    academy_code: Mapped[str] = mapped_column(String(10))
    services_activated: Mapped[bool] = mapped_column(Boolean)
    welcome_message_html: Mapped[str] = mapped_column(Text)
    open_services: Mapped[list[str]] = mapped_column(JSON)
    letter_type: Mapped[str] = mapped_column(String(20))
    ent_url: Mapped[str | None] = mapped_column(String(500))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    address_lines: Mapped[list[str]] = mapped_column(JSON)
    phone: Mapped[str | None] = mapped_column(String(40))
    useful_links: Mapped[list[dict]] = mapped_column(JSON)
    service_labels: Mapped[dict | None] = mapped_column(JSON)  # academy services: code -> label
    service_urls: Mapped[dict | None] = mapped_column(JSON)  # academy services: code -> address
    updated_at: Mapped[timestamp]


class ContactMessage(Base):
    """H10: a message a family sent its school from the contact page — when and by which account,
    to limit how many an account sends (the text itself goes to the notifier in the event)."""

    __tablename__ = "contact_messages"
    __table_args__ = (Index("ix_contact_messages_account_sent", "account_id", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    school_uai: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[datetime]
