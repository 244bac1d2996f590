"""Ops and staff listings of a school's accounts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ts_accounts.adapters.orm import Account, AccountLink, Guardian, Student
from ts_accounts.domain.names import french_order

# `tsctl accounts list --format csv` prints exactly this header: scripts rely on it.
CSV_HEADER = ("kind", "login", "state", "student_id", "student_name", "division", "legal_rank", "guardian_id",
              "notified_at", "notification_mode", "last_login_at")


@dataclass(frozen=True)
class AccountRow:
    kind: str
    login: str
    state: str
    student_id: str
    student_name: str
    division: str | None
    legal_rank: int | None
    guardian_id: str | None
    notified_at: datetime | None
    notification_mode: str | None
    last_login_at: datetime | None
    guardian_name: str | None = None
    kept_from_previous_school: bool = False

    def csv_values(self) -> list[str]:
        def iso(value: datetime | None) -> str:
            return value.isoformat() if value else ""

        return [self.kind, self.login, self.state, self.student_id, self.student_name, self.division or "",
                "" if self.legal_rank is None else str(self.legal_rank), self.guardian_id or "",
                iso(self.notified_at), self.notification_mode or "", iso(self.last_login_at)]


def school_accounts(session: Session, uai: str, *, division: str | None = None) -> list[AccountRow]:
    """Every account serving the school now: one row per student account and one per (guardian,
    student) couple, by division, student, then student before guardians by legal rank."""
    guardian = aliased(Guardian)
    query = (
        select(Account, AccountLink, Student, guardian)
        .join(AccountLink, AccountLink.account_id == Account.id)
        .join(Student, Student.id == AccountLink.student_id)
        .outerjoin(guardian, guardian.id == AccountLink.guardian_id)
        .where(AccountLink.school_uai == uai, AccountLink.ended_at.is_(None), Account.closed_at.is_(None))
    )
    if division:
        query = query.where(Student.division == division)
    rows = []
    for account, link, student, person in session.execute(query):
        rows.append(AccountRow(
            kind=account.kind, login=account.login, state=account.state, student_id=student.siecle_id,
            student_name=f"{student.display_last_name} {student.first_name}", division=student.division,
            legal_rank=link.legal_rank, guardian_id=person.siecle_id if person else None,
            notified_at=account.notified_at, notification_mode=account.notification_mode,
            last_login_at=account.last_login_at,
            guardian_name=f"{person.last_name} {person.first_name}".strip() if person else None,
            kept_from_previous_school=link.kept_from_previous_school,
        ))
    rows.sort(key=lambda r: (r.division or "", french_order(r.student_name), r.student_id, r.kind != "student",
                             r.legal_rank or 0, r.login))
    return rows
