"""A2: the duplicate-guardians report of a school."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ts_accounts.adapters.orm import Account, AccountLink, Guardian, GuardianLink, Student
from ts_accounts.domain.duplicates import DuplicateGroup, GuardianFacts, find_duplicate_guardians
from ts_accounts.domain.lifecycle import AccountState

ACTIVE_STATES = (AccountState.ACTIVATING.value, AccountState.USED.value)


def guardian_duplicates(session: Session, uai: str) -> list[DuplicateGroup]:
    guardians = session.scalars(
        select(Guardian).where(Guardian.school_uai == uai, Guardian.departed_at.is_(None))
    ).all()
    children = defaultdict(list)
    for guardian_id, first_name, last_name, usage_name in session.execute(
            select(GuardianLink.guardian_id, Student.first_name, Student.last_name, Student.usage_name)
            .join(Student, Student.id == GuardianLink.student_id)
            .where(Student.school_uai == uai, Student.departed_at.is_(None))):
        children[guardian_id].append(f"{first_name} {usage_name or last_name}")
    active = set(session.scalars(
        select(AccountLink.guardian_id).join(Account, Account.id == AccountLink.account_id)
        .where(AccountLink.school_uai == uai, AccountLink.ended_at.is_(None), Account.closed_at.is_(None),
               Account.state.in_(ACTIVE_STATES))))
    facts = [
        GuardianFacts(
            guardian_id=g.siecle_id,
            last_name=g.last_name,
            first_name=g.first_name,
            email=g.email,
            address=", ".join([*g.address_lines, " ".join(p for p in (g.postal_code, g.city) if p)]).strip(", ")
            or None,
            children=tuple(sorted(children[g.id])),
            account_active=g.id in active,
        )
        for g in guardians
    ]
    return find_duplicate_guardians(facts)
