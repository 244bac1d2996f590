"""Use cases of the stats service: record what events report, count it back."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ts_shared.db import utcnow
from ts_shared.read_models import upsert_if_newer
from ts_stats.adapters.orm import AccountSnapshot, ServiceAccessCount

CLOSING_REASONS = {"replaced", "departed"}
STATES = ("not_notified", "notified", "activating", "used")


def record_account(session: Session, school_uai: str, account: dict, *, open_: bool = True) -> bool:
    """Keep the newest snapshot of an account; an older one arriving late is ignored."""
    values = {
        "account_id": account["account_id"],
        "version": account["version"],
        "school_uai": school_uai,
        "kind": account["kind"],
        "state": account["state"],
        "student_id": account["student_id"],
        "guardian_id": account.get("guardian_id"),
        "legal_rank": account.get("legal_rank"),
        "division": account.get("division"),
        "mef_code": account.get("mef_code"),
        "mefstat": account.get("mefstat"),
        "notified_at": account.get("notified_at"),
        "kept_from_previous_school": account.get("kept_from_previous_school", False),
        "open": open_,
        "updated_at": utcnow(),
    }
    return upsert_if_newer(session, AccountSnapshot.__table__, values, key="account_id")


def record_service_access(session: Session, school_uai: str, service_code: str, mefstat: str | None,
                          accessed_at: datetime) -> None:
    table = ServiceAccessCount.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(school_uai=school_uai, month=accessed_at.strftime("%Y-%m"),
                                     service_code=service_code, mefstat=mefstat or "", count=1)
    statement = statement.on_conflict_do_update(
        index_elements=["school_uai", "month", "service_code", "mefstat"],
        set_={"count": table.c["count"] + 1},
    )
    session.execute(statement)


@dataclass(frozen=True)
class StateCounts:
    kind: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def account_counts(session: Session, school_uai: str) -> list[StateCounts]:
    """Open accounts of a school by kind and state."""
    rows = session.execute(
        select(AccountSnapshot.kind, AccountSnapshot.state, func.count())
        .where(AccountSnapshot.school_uai == school_uai, AccountSnapshot.open.is_(True))
        .group_by(AccountSnapshot.kind, AccountSnapshot.state)
    ).all()
    result = {kind: dict.fromkeys(STATES, 0) for kind in ("student", "guardian")}
    for kind, state, count in rows:
        result[kind][state] = count
    return [StateCounts(kind, counts) for kind, counts in result.items()]
