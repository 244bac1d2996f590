"""J2: the audit log of staff actions, and its search for the head of school."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ts_accounts.adapters.orm import AuditEntry, StaffUser
from ts_shared.calendar import start_of_day
from ts_shared.db import utcnow


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where (the staff session of a request, or an ops command)."""

    login: str
    staff_id: int | None = None
    client_address: str | None = None


def record(session: Session, actor: Actor, *, school_uai: str | None, action: str, summary: str,
           target: str | None = None, detail: dict | None = None, now: datetime | None = None) -> AuditEntry:
    entry = AuditEntry(at=now or utcnow(), staff_id=actor.staff_id, staff_login=actor.login, school_uai=school_uai,
                       action=action, summary=summary[:500], target=target, client_address=actor.client_address,
                       detail=detail or {})
    session.add(entry)
    return entry


def record_reported_action(session: Session, school_uai: str | None, action: dict) -> AuditEntry:
    """J2: a staff action another service reported (staff_action.recorded), e.g. a letter edited."""
    staff_id = action["staff_id"]
    if staff_id is not None and session.get(StaffUser, staff_id) is None:
        staff_id = None  # the staff user has gone since; the login still says who
    entry = AuditEntry(at=action["at"], staff_id=staff_id, staff_login=action["staff_login"], school_uai=school_uai,
                       action=action["action"], summary=action["summary"], target=action["target"],
                       client_address=action["client_address"], detail=action["detail"])
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditQuery:
    staff_login: str | None = None
    action: str | None = None
    text: str | None = None  # in the summary or the target (e.g. a login)
    since: date | None = None
    until: date | None = None
    page: int = 1
    per_page: int = 50


def search(session: Session, school_uai: str, query: AuditQuery) -> tuple[list[AuditEntry], int]:
    """The school's entries, newest first, and how many match in all."""
    conditions = [AuditEntry.school_uai == school_uai]
    if query.staff_login:
        conditions.append(AuditEntry.staff_login == query.staff_login)
    if query.action:
        conditions.append(AuditEntry.action == query.action)
    if query.text:
        pattern = f"%{query.text.strip().lower()}%"
        conditions.append(
            or_(func.lower(AuditEntry.summary).like(pattern), func.lower(AuditEntry.target).like(pattern))
        )
    if query.since:
        conditions.append(AuditEntry.at >= start_of_day(query.since))
    if query.until:
        conditions.append(AuditEntry.at < start_of_day(query.until + timedelta(days=1)))
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    entries = session.scalars(select(AuditEntry).where(*conditions).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                              .limit(query.per_page).offset((max(query.page, 1) - 1) * query.per_page)).all()
    return list(entries), total or 0


def staff_logins(session: Session, school_uai: str) -> list[str]:
    return list(session.scalars(select(AuditEntry.staff_login).where(AuditEntry.school_uai == school_uai)
                                .distinct().order_by(AuditEntry.staff_login)))


def actions(session: Session, school_uai: str) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).where(AuditEntry.school_uai == school_uai)
                                .distinct().order_by(AuditEntry.action)))
