"""Tables of the accounts database (SQLAlchemy 2.0 typed declarative models)."""
from __future__ import annotations

from datetime import datetime

from datetime import date

from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ts_accounts.domain.names import NAME_KEY_LENGTH, name_key
from ts_shared.db import UTCDateTime, new_metadata, timestamp, utcnow
from ts_shared.messaging.outbox import messaging_tables
from ts_shared.web.server_session import web_sessions_table


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


MESSAGING = messaging_tables(Base.metadata)
WEB_SESSIONS = web_sessions_table(Base.metadata)


class Academy(Base):
    """An academy: its schools share one login directory (A3)."""

    __tablename__ = "academies"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    login_format: Mapped[str] = mapped_column(String(20), default="first.last")


class School(Base):
    __tablename__ = "schools"

    uai: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    academy_code: Mapped[str] = mapped_column(String(10), index=True)
    city: Mapped[str | None] = mapped_column(String(100))
    # C1: None until the head of school activates online services.
    services_activated_at: Mapped[timestamp | None]
    # I2: the school year the school is in (« 2027 » for 2027/2028) and when it began for it; the
    # school-year change moves every school on 1 September (Paris), by itself.
    school_year: Mapped[int | None] = mapped_column(Integer)
    school_year_started_at: Mapped[timestamp | None]
    welcome_message_html: Mapped[str] = mapped_column(Text, default="")
    # Grows with every change of what the portal shows (school.settings_changed).
    settings_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    # The school's identity block (letters, portal contact page); set by the academy.
    address_lines: Mapped[list[str]] = mapped_column(JSON, default=list)
    postal_code: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(40))
    # D2: « teleservices » | « mixed » (ENT tile on the portal) | « ent_only » (ENT URL in letters).
    letter_type: Mapped[str] = mapped_column(String(20), default="teleservices")
    ent_url: Mapped[str | None] = mapped_column(String(500))
    # D4: the contact link of the portal, and the school address it sends to.
    contact_active: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # SIECLE modules the school uses (e.g. "notes"): some services need one (C2).
    siecle_modules: Mapped[list[str]] = mapped_column(JSON, default=list)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    academy_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # The academy an administrator manages; None: every academy (a national administrator).
    academy_code: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    last_login_at: Mapped[timestamp | None]

    assignments: Mapped[list[StaffAssignment]] = relationship(back_populates="staff", cascade="all, delete-orphan")


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


# --- reference data imported from SIECLE (A1) ----------------------------------------------------

class Mef(Base):
    __tablename__ = "mefs"

    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    short_label: Mapped[str | None] = mapped_column(String(100))
    long_label: Mapped[str | None] = mapped_column(String(200))
    edition_label: Mapped[str | None] = mapped_column(String(200))
    attached_mef: Mapped[str | None] = mapped_column(String(20))
    mefstat: Mapped[str | None] = mapped_column(String(20))


class Structure(Base):
    """A division (class) or a group of a school."""

    __tablename__ = "structures"

    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # division | group
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str | None] = mapped_column(String(200))


# Byte order on PostgreSQL, whatever the database's collation: a prefix is a range of the index.
NameKey = String(NAME_KEY_LENGTH).with_variant(String(NAME_KEY_LENGTH, collation="C"), "postgresql")


def _name_key_of(*columns: str):
    """The stored search key of a row's name (`name_key`), for inserts that do not give it."""

    def default(context) -> str:
        values = context.get_current_parameters()
        return name_key(next((values[column] for column in columns if values.get(column)), ""))

    return default


class Student(Base):
    __tablename__ = "students"
    __table_args__ = (
        UniqueConstraint("school_uai", "siecle_id"),
        Index("ix_students_school_division", "school_uai", "division"),
        Index("ix_students_school_name_key", "school_uai", "name_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"))
    siecle_id: Mapped[str] = mapped_column(String(40))
    elenoet: Mapped[str | None] = mapped_column(String(40))
    national_id: Mapped[str | None] = mapped_column(String(20), index=True)  # INE
    last_name: Mapped[str] = mapped_column(String(100))
    usage_name: Mapped[str | None] = mapped_column(String(100))
    # The name searched and sorted by: the usage name (or the last name) folded (E2, `name_key`).
    name_key: Mapped[str] = mapped_column(NameKey, default=_name_key_of("usage_name", "last_name"))
    first_name: Mapped[str] = mapped_column(String(100))
    first_name_2: Mapped[str | None] = mapped_column(String(100))
    first_name_3: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))
    mef_code: Mapped[str | None] = mapped_column(String(20))
    division: Mapped[str | None] = mapped_column(String(40))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    entry_date: Mapped[date | None] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)  # DATE_SORTIE
    # I3: set when a re-import no longer lists the student (or lists a DATE_SORTIE).
    departed_at: Mapped[timestamp | None]
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[timestamp] = mapped_column(default=utcnow)

    @property
    def display_last_name(self) -> str:
        return self.usage_name or self.last_name


class Guardian(Base):
    __tablename__ = "guardians"
    __table_args__ = (
        UniqueConstraint("school_uai", "siecle_id"),
        Index("ix_guardians_school_name_key", "school_uai", "name_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), index=True)
    siecle_id: Mapped[str] = mapped_column(String(40))
    civility: Mapped[str | None] = mapped_column(String(10))
    last_name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(NameKey, default=_name_key_of("last_name"))
    first_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone_home: Mapped[str | None] = mapped_column(String(40))
    phone_mobile: Mapped[str | None] = mapped_column(String(40))
    phone_work: Mapped[str | None] = mapped_column(String(40))
    address_lines: Mapped[list[str]] = mapped_column(JSON, default=list)
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(100))
    departed_at: Mapped[timestamp | None]
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[timestamp] = mapped_column(default=utcnow)


class GuardianLink(Base):
    """A guardian of a student, as SIECLE says (RESPONSABLE_ELEVE)."""

    __tablename__ = "guardian_links"

    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id", ondelete="CASCADE"), primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), primary_key=True, index=True)
    legal_rank: Mapped[int] = mapped_column(Integer)  # 0 (contact only), 1 or 2
    relationship_code: Mapped[str | None] = mapped_column(String(10))
    is_contact: Mapped[bool] = mapped_column(Boolean, default=False)


# --- the academy directory: accounts (B1–B10) ---------------------------------------------------

class Account(Base):
    """A login of the directory. A student account serves one student; a guardian account serves
    (guardian, student) couples: one at creation, several after a merge (H8). Logins are unique
    across all academies (so unique in each, A3): a login alone names one account."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("login"), Index("ix_accounts_login_base", "login_base"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    academy_code: Mapped[str] = mapped_column(String(10))
    login: Mapped[str] = mapped_column(String(100))
    login_base: Mapped[str] = mapped_column(String(100))
    login_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # B3: the temporary password is derived from TS_CREDENTIAL_KEY and this serial (a counter: a
    # new password is the next serial), never stored; it is valid while `issued_at` is set.
    # `temporary_password_hash`: an argon2 hash from before derived passwords, still accepted.
    credential_serial: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    temporary_password_hash: Mapped[str | None] = mapped_column(String(200))
    temporary_password_issued_at: Mapped[timestamp | None]
    email: Mapped[str | None] = mapped_column(String(254))
    email_confirmed_at: Mapped[timestamp | None]
    notified_at: Mapped[timestamp | None]
    notification_mode: Mapped[str | None] = mapped_column(String(10))
    activation_started_at: Mapped[timestamp | None]
    activated_at: Mapped[timestamp | None]
    last_login_at: Mapped[timestamp | None]
    access_refused_at: Mapped[timestamp | None]  # B9
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    closed_at: Mapped[timestamp | None]
    closed_reason: Mapped[str | None] = mapped_column(String(40))

    links: Mapped[list[AccountLink]] = relationship(back_populates="account", order_by="AccountLink.id")


class AccountLink(Base):
    """Whom an account serves: a student (student account) or a (guardian, student) couple.
    A link ends when the student leaves, the guardian loses legal rank, or staff move the couple
    to a new account; the account itself may live on (continuity, B8)."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("guardians.id", ondelete="CASCADE"), index=True)
    legal_rank: Mapped[int | None] = mapped_column(Integer)
    kept_from_previous_school: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[timestamp] = mapped_column(default=utcnow)
    ended_at: Mapped[timestamp | None]
    ended_reason: Mapped[str | None] = mapped_column(String(40))

    account: Mapped[Account] = relationship(back_populates="links")
    student: Mapped[Student] = relationship()
    guardian: Mapped[Guardian | None] = relationship()


class AccessContinuity(Base):
    """B8: an arriving student's continuity of access — the accounts of the same student (same
    INE) in another school of the academy. Pending while that school still has the student
    enrolled (nothing is handed over); completed when it records the departure or the academy
    confirms the move; refused by the academy (the arriving school gets new accounts); cancelled
    when the arriving school no longer lists the student."""

    __tablename__ = "access_continuities"
    __table_args__ = (Index("ix_access_continuities_academy_status", "academy_code", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    academy_code: Mapped[str] = mapped_column(String(10))
    national_id: Mapped[str] = mapped_column(String(20))  # the INE both schools hold
    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    previous_school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"))
    previous_student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # pending | completed | refused | cancelled
    requested_at: Mapped[timestamp]
    requested_by: Mapped[str] = mapped_column(String(100))
    resolved_at: Mapped[timestamp | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(String(40))

    student: Mapped[Student] = relationship(foreign_keys=[student_id])
    previous_student: Mapped[Student] = relationship(foreign_keys=[previous_student_id])


class AccountEvent(Base):
    """B10: the history of an account — notifications, temporary credentials issued (never the
    password), activation, logins, merges, closing — with who did it."""

    __tablename__ = "account_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    at: Mapped[timestamp]
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))  # a staff login, "famille" or "système"
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class OneTimeToken(Base):
    """Email-confirmation and password-reset links: only a hash of the token is stored."""

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reference: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[timestamp]
    expires_at: Mapped[timestamp]
    used_at: Mapped[timestamp | None]


class ThrottleCounter(Base):
    """Failed sign-ins per login and per client address (identity API, staff console)."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[timestamp]
    locked_until: Mapped[timestamp | None]


# --- staff console: settings, services, audit (C, D, J) ------------------------------------------

class SchoolEmail(Base):
    """An email address of the school (SIECLE « module Commun »): the choices of D4."""

    __tablename__ = "school_emails"
    __table_args__ = (UniqueConstraint("school_uai", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(254))
    label: Mapped[str | None] = mapped_column(String(100))


class UsefulLink(Base):
    """D5: shown on the portal's « Liens utiles » page, in creation order."""

    __tablename__ = "useful_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)


class AcademyService(Base):
    """C2: a national or academy online service the academy offers its schools."""

    __tablename__ = "academy_services"

    academy_code: Mapped[str] = mapped_column(ForeignKey("academies.code", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(10))  # national | academic
    mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    required_module: Mapped[str | None] = mapped_column(String(50))  # a SIECLE module, e.g. "notes"
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str | None] = mapped_column(String(500))  # academy services: where the portal tile leads


class SchoolService(Base):
    """C2: a service a school opened (closing keeps the row and its settings)."""

    __tablename__ = "school_services"

    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), primary_key=True)
    service_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    open: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[timestamp] = mapped_column(default=utcnow)


class NotesSettings(Base):
    """C3: when marks become visible to families."""

    __tablename__ = "notes_settings"

    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), primary_key=True)
    publication: Mapped[str] = mapped_column(String(20), default="continuous")  # continuous | deadline


class NotesPublicationDate(Base):
    """C3 « à échéance »: publication dates per MEF × division."""

    __tablename__ = "notes_publication_dates"
    __table_args__ = (UniqueConstraint("school_uai", "mef_code", "division", "publication_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), index=True)
    mef_code: Mapped[str] = mapped_column(String(20))
    division: Mapped[str] = mapped_column(String(40))
    publication_date: Mapped[date] = mapped_column(Date)


class TipiClient(Base):
    """C4: the reference list of TIPI client numbers (issued by the DDFiP to accounting offices)."""

    __tablename__ = "tipi_clients"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # e.g. « Agence comptable du lycée H. Poincaré »
    academy_code: Mapped[str | None] = mapped_column(String(10), index=True)


class PaymentSettings(Base):
    """C4: online payment of invoices."""

    __tablename__ = "payment_settings"

    school_uai: Mapped[str] = mapped_column(ForeignKey("schools.uai", ondelete="CASCADE"), primary_key=True)
    tipi_client_number: Mapped[str] = mapped_column(ForeignKey("tipi_clients.number"))
    minimum_amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    contact_email: Mapped[str] = mapped_column(String(254))
    confirmed_at: Mapped[timestamp]
    confirmed_by: Mapped[str] = mapped_column(String(100))


class AcademyEntLink(Base):
    """D2: the ENT addresses an academy proposes to its schools."""

    __tablename__ = "academy_ent_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    academy_code: Mapped[str] = mapped_column(ForeignKey("academies.code", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))


class AuditEntry(Base):
    """J2: every staff action — who, when, from where, on which school and which account or
    setting, and what (a French sentence for the head of school, plus structured detail)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_school_at", "school_uai", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[timestamp]
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    staff_login: Mapped[str] = mapped_column(String(100), index=True)
    school_uai: Mapped[str | None] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(60), index=True)
    summary: Mapped[str] = mapped_column(String(500))
    target: Mapped[str | None] = mapped_column(String(200), index=True)  # e.g. an account login, a setting
    client_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
