"""Recovery of a school's counters (`tsctl stats rebuild`) and their audit (`tsctl stats check`),
from the snapshot accounts exports: the same account copies the events would have brought."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select

from ts_shared.db import utcnow
from ts_shared.unit_of_work import UnitOfWork
from ts_stats.adapters.orm import AccountChild, AccountSnapshot
from ts_stats.service_layer.counters import record_school, write_account

Fetch = Callable[[str], dict]
_COMPARED = ("version", "kind", "state", "notified_at", "activated_at", "access_refused", "closed")


@dataclass
class RebuildReport:
    accounts_written: int = 0
    accounts_newer_here: int = 0  # an event newer than the snapshot was applied meanwhile: kept
    stale_links_removed: int = 0


def rebuild_school(uow: UnitOfWork, fetch: Fetch, uai: str) -> RebuildReport:
    """Replace the school's account copies by the snapshot, in one transaction. What events write
    while it runs is kept: a copy newer than the snapshot's, or written after the rebuild began."""
    started = utcnow()
    snapshot = fetch(uai)
    session, report = uow.session, RebuildReport()
    record_school(session, uai, snapshot["school"])
    accounts = {account["account_id"]: account for account in snapshot["accounts"]}
    stored = dict(session.execute(select(AccountSnapshot.account_id, AccountSnapshot.version)
                                  .where(AccountSnapshot.account_id.in_(accounts))).all()) if accounts else {}
    for account_id, account in accounts.items():
        if stored.get(account_id, 0) > account["version"]:
            report.accounts_newer_here += 1
            continue
        write_account(session, account)
        report.accounts_written += 1
    stale = session.scalars(
        select(AccountChild.id).join(AccountSnapshot, AccountSnapshot.account_id == AccountChild.account_id)
        .where(AccountChild.school_uai == uai, AccountChild.account_id.not_in(accounts),
               AccountSnapshot.updated_at < started)).all()
    if stale:
        session.execute(delete(AccountChild).where(AccountChild.id.in_(stale)))
    report.stale_links_removed = len(stale)
    uow.commit()
    return report


@dataclass
class CheckReport:
    accounts_compared: int = 0
    differences: list[str] = field(default_factory=list)


def _shown(value) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)


def _children_here(children, uai: str) -> set[tuple]:
    return {(c["student_id"], c["guardian_id"], c["division"], c["mef_code"], c["mefstat"])
            for c in children if c["school_uai"] == uai}


def check_school(uow: UnitOfWork, fetch: Fetch, uai: str) -> CheckReport:
    """Compare the school's account copies with the snapshot; every difference, in words."""
    snapshot = fetch(uai)
    session, report = uow.session, CheckReport()
    accounts = {account["account_id"]: account for account in snapshot["accounts"]}
    here_ids = set(session.scalars(select(AccountChild.account_id).where(AccountChild.school_uai == uai)))
    copies = {row.account_id: row for row in session.scalars(
        select(AccountSnapshot).where(AccountSnapshot.account_id.in_(here_ids | set(accounts))))}
    children: dict[str, set[tuple]] = {}
    for row in session.scalars(select(AccountChild).where(AccountChild.account_id.in_(here_ids | set(accounts)))):
        if row.school_uai == uai:
            children.setdefault(row.account_id, set()).add(
                (row.student_id, row.guardian_id, row.division, row.mef_code, row.mefstat))
    for account_id, account in sorted(accounts.items()):
        report.accounts_compared += 1
        copy = copies.get(account_id)
        if copy is None:
            report.differences.append(f"compte {account['login']} ({account_id}) : absent des statistiques")
            continue
        for name in _COMPARED:
            if getattr(copy, name) != account[name]:
                report.differences.append(f"compte {account['login']} ({account_id}) : {name} "
                                          f"{_shown(getattr(copy, name))} ici, {_shown(account[name])} dans accounts")
        if children.get(account_id, set()) != _children_here(account["children"], uai):
            report.differences.append(f"compte {account['login']} ({account_id}) : élèves ou divisions différents")
    for account_id in sorted(here_ids - set(accounts)):
        copy = copies.get(account_id)
        if copy is not None and not copy.closed:
            report.differences.append(f"compte {account_id} : compté ici, ne sert plus personne dans "
                                      "l'établissement selon accounts")
    return report
