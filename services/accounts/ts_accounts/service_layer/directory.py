"""The academy directory: creating accounts with their logins, recording their history, and
telling the other services about every change (account.* events through the outbox)."""
from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ts_accounts.adapters.orm import Academy, Account, AccountEvent, AccountLink, Guardian, Mef, School, Student
from ts_accounts.domain.lifecycle import AccountKind, AccountState
from ts_accounts.domain.logins import LoginAllocator, LoginFormat, login_base
from ts_shared.unit_of_work import UnitOfWork

SYSTEM = "système"
FAMILY = "famille"
_CHUNK = 500


def chunks(items: Sequence, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- changing an aggregate ------------------------------------------------------------------------
# A school or an account is loaded for a change with its row locked until the transaction ends
# (`SELECT … FOR UPDATE`; SQLite serialises writers anyway) and read afresh: the change is decided
# on the latest state, and two changes of one aggregate never interleave. Its version is then
# given by the database (`version = version + 1 … RETURNING`), never computed in Python, and the
# event is built from the row after that: two changes can never carry the same version, even
# where a row was loaded without its lock (read models keep only a strictly newer version).

def lock_school(session: Session, uai: str) -> School | None:
    """The school, to change it (one import, one settings change at a time per school)."""
    return session.get(School, uai, with_for_update=True, populate_existing=True)


def lock_account(session: Session, account_id: str) -> Account | None:
    """The account, to change it: decided on its latest state (a delivery report, a first login
    and a staff action on one account wait for each other)."""
    return session.get(Account, account_id, with_for_update=True, populate_existing=True)


def bump_versions(session: Session, account_ids: Iterable[str]) -> dict[str, int]:
    """The next version of each account, given by the database (sorted, so that two transactions
    lock rows in one order); accounts loaded in the session see theirs. Returns id -> version."""
    versions: dict[str, int] = {}
    for chunk in chunks(sorted(set(account_ids))):
        versions.update(session.execute(
            update(Account).where(Account.id.in_(chunk)).values(version=Account.version + 1)
            .returning(Account.id, Account.version).execution_options(synchronize_session=False)).all())
    for account_id, version in versions.items():
        loaded = session.identity_map.get(session.identity_key(Account, account_id))
        if loaded is not None:
            set_committed_value(loaded, "version", version)
    return versions


def refresh_planner_statistics(session: Session, *tables: str) -> None:
    """After bulk writes in a transaction, let PostgreSQL's planner know the tables' new size
    (stale statistics on a table that just grew make it scan instead of using the indexes)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {', '.join(tables)}"))


def _lock_login_bases(session: Session, bases: list[str]) -> None:
    """Two transactions creating logins on the same base wait for each other (PostgreSQL
    advisory locks, taken in one global order so they cannot deadlock); imports of unrelated
    names run in parallel."""
    if session.get_bind().dialect.name != "postgresql" or not bases:
        return
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('login:' || b)) "
                         "FROM (SELECT unnest(CAST(:bases AS text[])) AS b ORDER BY 1) AS ordered"), {"bases": bases})


def login_format_of(session: Session, academy_code: str) -> LoginFormat:
    academy = session.get(Academy, academy_code)
    return LoginFormat(academy.login_format) if academy else LoginFormat.FIRST_DOT_LAST


# --- creating accounts ---------------------------------------------------------------------------

@dataclass(frozen=True)
class NewCouple:
    """An account to create, for a student (guardian_id None) or a (guardian, student) couple."""

    kind: AccountKind
    school_uai: str
    student_id: int
    guardian_id: int | None
    legal_rank: int | None
    first_name: str  # whose name makes the login: the student's or the guardian's
    last_name: str


def allocator_for(session: Session, academy_code: str, bases: Iterable[str]) -> LoginAllocator:
    """A login allocator that knows every login of the directory on these bases (closed ones
    too: a login is never given twice)."""
    allocator = LoginAllocator(login_format_of(session, academy_code))
    wanted = sorted(set(bases))
    _lock_login_bases(session, wanted)
    for chunk in chunks(wanted):
        rows = session.execute(
            select(Account.login_base, func.max(Account.login_index))
            .where(Account.login_base.in_(chunk))
            .group_by(Account.login_base)
        ).all()
        for base, index in rows:
            allocator.record_taken(base, index)
    return allocator


def create_accounts(session: Session, academy_code: str, couples: Sequence[NewCouple], *, now: datetime,
                    actor: str) -> list[str]:
    """Pre-create Non notifié accounts (B1) with new logins (B2); return their ids in order.
    No temporary password yet: one is issued when the account is notified (B3)."""
    if not couples:
        return []
    login_format = login_format_of(session, academy_code)
    allocator = allocator_for(session, academy_code, (login_base(c.first_name, c.last_name, login_format)
                                                      for c in couples))
    accounts, links, history = [], [], []
    ids = []
    for couple in couples:
        login, base, index = allocator.allocate(couple.first_name, couple.last_name)
        account_id = str(uuid.uuid4())
        ids.append(account_id)
        accounts.append({"id": account_id, "academy_code": academy_code, "login": login, "login_base": base,
                         "login_index": index, "kind": couple.kind.value, "state": AccountState.NOT_NOTIFIED.value,
                         "version": 1, "created_at": now})
        links.append({"account_id": account_id, "school_uai": couple.school_uai, "student_id": couple.student_id,
                      "guardian_id": couple.guardian_id, "legal_rank": couple.legal_rank,
                      "kept_from_previous_school": False, "started_at": now})
        history.append({"account_id": account_id, "at": now, "action": "created", "actor": actor,
                        "detail": {"login": login}})
    for chunk in chunks(accounts):
        session.execute(insert(Account), chunk)
    for chunk in chunks(links):
        session.execute(insert(AccountLink), chunk)
    for chunk in chunks(history):
        session.execute(insert(AccountEvent), chunk)
    if len(couples) >= 1000:
        refresh_planner_statistics(session, "accounts", "account_links")
    return ids


def record_history(session: Session, account_ids: Iterable[str], action: str, *, now: datetime, actor: str,
                   detail: dict | None = None) -> None:
    rows = [{"account_id": account_id, "at": now, "action": action, "actor": actor, "detail": detail or {}}
            for account_id in account_ids]
    for chunk in chunks(rows):
        session.execute(insert(AccountEvent), chunk)


# --- telling the other services ------------------------------------------------------------------

def snapshots(session: Session, account_ids: Iterable[str]) -> Iterator[dict]:
    """The account.* payload of each account, as it is in this transaction (read by chunks)."""
    for chunk in chunks(sorted(set(account_ids))):
        children: dict[str, list[dict]] = defaultdict(list)
        rows = session.execute(
            select(AccountLink.account_id, AccountLink.school_uai, Student.siecle_id, Guardian.siecle_id,
                   AccountLink.legal_rank, Student.division, Student.mef_code, Mef.short_label, Mef.mefstat,
                   AccountLink.kept_from_previous_school)
            .join(Student, Student.id == AccountLink.student_id)
            .outerjoin(Guardian, Guardian.id == AccountLink.guardian_id)
            .outerjoin(Mef, (Mef.school_uai == Student.school_uai) & (Mef.code == Student.mef_code))
            .where(AccountLink.account_id.in_(chunk), AccountLink.ended_at.is_(None))
            .order_by(AccountLink.id)
        ).all()
        for account_id, school_uai, student_id, guardian_id, rank, division, mef_code, mef_label, mefstat, kept in rows:
            children[account_id].append({
                "school_uai": school_uai, "student_id": student_id, "guardian_id": guardian_id, "legal_rank": rank,
                "division": division, "mef_code": mef_code, "mef_label": mef_label, "mefstat": mefstat,
                "kept_from_previous_school": kept,
            })
        for account in session.execute(select(Account.__table__).where(Account.id.in_(chunk))):
            yield {
                "account_id": account.id, "version": account.version, "kind": account.kind, "login": account.login,
                "state": account.state, "notified_at": account.notified_at,
                "notification_mode": account.notification_mode, "activated_at": account.activated_at,
                "last_login_at": account.last_login_at, "access_refused": account.access_refused_at is not None,
                "closed": account.closed_at is not None, "children": children[account.id],
            }


def emit_account_events(uow: UnitOfWork, event_type: str, account_ids: Iterable[str], *,
                        school_uai: str | None = None, extra: dict | None = None) -> None:
    """One `event_type` per account, carrying the account as it now is."""
    for snapshot in snapshots(uow.session, account_ids):
        uai = school_uai or next((child["school_uai"] for child in snapshot["children"]), None)
        uow.emit(event_type, {"account": snapshot, **(extra or {})}, school_uai=uai)
