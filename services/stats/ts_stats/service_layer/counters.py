"""Use cases of the stats service: record what events report, count it back."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ts_shared.db import utcnow
from ts_shared.read_models import upsert_if_newer
from ts_stats.adapters.orm import AccountChild, AccountSnapshot, ServiceAccessCount

STATES = ("not_notified", "notified", "activating", "used")


def record_account(session: Session, account: dict) -> bool:
    """Keep the newest version of an account and of whom it serves; an older version arriving
    late is ignored. Returns True when this version was recorded."""
    values = {
        "account_id": account["account_id"],
        "version": account["version"],
        "kind": account["kind"],
        "state": account["state"],
        "notified_at": account["notified_at"],
        "activated_at": account["activated_at"],
        "closed": account["closed"],
        "updated_at": utcnow(),
    }
    if not upsert_if_newer(session, AccountSnapshot.__table__, values, key="account_id"):
        return False
    session.execute(delete(AccountChild).where(AccountChild.account_id == account["account_id"]))
    children = [
        {"account_id": account["account_id"], **{key: child[key] for key in (
            "school_uai", "student_id", "guardian_id", "legal_rank", "division", "mef_code", "mefstat",
            "kept_from_previous_school")}}
        for child in account["children"]
    ]
    if children:
        session.execute(insert(AccountChild), children)
    return True


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
    """The school's accounts (a guardian account counted once per child) by kind and state."""
    rows = session.execute(
        select(AccountSnapshot.kind, AccountSnapshot.state, func.count())
        .join(AccountChild, AccountChild.account_id == AccountSnapshot.account_id)
        .where(AccountChild.school_uai == school_uai, AccountSnapshot.closed.is_(False))
        .group_by(AccountSnapshot.kind, AccountSnapshot.state)
    ).all()
    result = {kind: dict.fromkeys(STATES, 0) for kind in ("student", "guardian")}
    for kind, state, count in rows:
        result[kind][state] = count
    return [StateCounts(kind, counts) for kind, counts in result.items()]
