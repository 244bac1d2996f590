"""Use cases of the stats service: record what events report (each handler is idempotent with the
consumer's processed ids, and order-tolerant: a copy is replaced only by a newer version)."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ts_shared.calendar import PARIS
from ts_shared.db import insert_for, utcnow
from ts_shared.read_models import upsert_if_newer
from ts_stats.adapters.orm import AccountChild, AccountSnapshot, School, SchoolSummary, ServiceAccessCount


def record_account(session: Session, account: dict) -> bool:
    """Keep the newest version of an account and of whom it serves; an older version arriving
    late is ignored. Returns True when this version was recorded."""
    if not upsert_if_newer(session, AccountSnapshot.__table__, _snapshot_values(account), key="account_id"):
        return False
    touch_schools(session, _replace_children(session, account))
    return True


def record_accounts(session: Session, accounts: list[dict]) -> set[str]:
    """`record_account` for many at once (a consumer's batch): the newest version of each account
    in the list, written where it is newer than the stored one, in three statements. Returns the
    ids written."""
    newest: dict[str, dict] = {}
    for account in accounts:
        known = newest.get(account["account_id"])
        if known is None or account["version"] > known["version"]:
            newest[account["account_id"]] = account
    if not newest:
        return set()
    table = AccountSnapshot.__table__
    # In key order: two workers writing the same accounts lock them in the same order.
    rows = [_snapshot_values(newest[account_id]) for account_id in sorted(newest)]
    # One statement compiled once, its rows sent by SQLAlchemy's "insertmanyvalues" (multi-row).
    statement = insert_for(session)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["account_id"],
        set_={column: statement.excluded[column] for column in rows[0] if column != "account_id"},
        where=table.c.version < statement.excluded.version,
    ).returning(table.c.account_id)
    written = set(session.scalars(statement, rows))
    if written:
        schools = set(session.scalars(select(AccountChild.school_uai).distinct()
                                      .where(AccountChild.account_id.in_(written))))
        session.execute(delete(AccountChild).where(AccountChild.account_id.in_(written)))
        children = [row for account_id in written for row in _children_rows(newest[account_id])]
        if children:
            session.execute(insert(AccountChild), children)
        touch_schools(session, schools | {row["school_uai"] for row in children})
    return written


def write_account(session: Session, account: dict) -> None:
    """Write the account's copy whatever the stored version (a rebuild, which checked it)."""
    values = _snapshot_values(account)
    statement = insert_for(session)(AccountSnapshot.__table__).values(**values)
    session.execute(statement.on_conflict_do_update(
        index_elements=["account_id"], set_={column: statement.excluded[column] for column in values}))
    touch_schools(session, _replace_children(session, account))


def _snapshot_values(account: dict) -> dict:
    return {
        "account_id": account["account_id"],
        "version": account["version"],
        "kind": account["kind"],
        "state": account["state"],
        "notified_at": account["notified_at"],
        "activated_at": account["activated_at"],
        "access_refused": account.get("access_refused", False),
        "closed": account["closed"],
        "updated_at": utcnow(),
    }


def _replace_children(session: Session, account: dict) -> set[str]:
    """Whom the account serves now; returns the schools it served before or serves now."""
    schools = set(session.scalars(select(AccountChild.school_uai).distinct()
                                  .where(AccountChild.account_id == account["account_id"])))
    session.execute(delete(AccountChild).where(AccountChild.account_id == account["account_id"]))
    children = _children_rows(account)
    if children:
        session.execute(insert(AccountChild), children)
    return schools | {row["school_uai"] for row in children}


def touch_schools(session: Session, uais: set[str]) -> None:
    """The schools' accounts changed: their line of the academy view is to be computed again."""
    if not uais:
        return
    table = SchoolSummary.__table__
    statement = insert_for(session)(table)
    session.execute(statement.on_conflict_do_update(index_elements=["uai"], set_={"revision": table.c.revision + 1}),
                    [{"uai": uai, "revision": 1, "computed_revision": 0, "students": 0, "student_accounts_used": 0,
                      "guardian_accounts": 0, "guardian_accounts_used": 0, "used_by_day": {}} for uai in sorted(uais)])


def _children_rows(account: dict) -> list[dict]:
    return [
        {"account_id": account["account_id"], **{key: child[key] for key in (
            "school_uai", "student_id", "guardian_id", "legal_rank", "division", "mef_code", "mefstat",
            "kept_from_previous_school")}, "mef_label": child.get("mef_label")}
        for child in account["children"]
    ]


def record_school(session: Session, uai: str, settings: dict) -> bool:
    """A school's name and academy (school.settings_changed), kept if newer. The labels of the
    services it ever opened are kept: an access counted before a service closed still has a name."""
    known = session.get(School, uai)
    labels = {**(known.service_labels if known else {}), **settings.get("service_labels", {})}
    return upsert_if_newer(session, School.__table__, {
        "uai": uai, "name": settings["name"], "academy_code": settings["academy_code"], "service_labels": labels,
        "settings_version": settings["settings_version"]}, key="uai", version_column="settings_version")


def record_service_access(session: Session, school_uai: str, service_code: str, mefstat: str | None,
                          accessed_at: datetime) -> None:
    """G3: one more access in its month (Paris time), service and MEFSTAT."""
    record_service_accesses(session, [(school_uai, service_code, mefstat, accessed_at)])


def record_service_accesses(session: Session, accesses: list[tuple[str, str, str | None, datetime]]) -> None:
    """Many accesses (school, service, MEFSTAT, when) at once: one upsert per counter touched."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for school_uai, service_code, mefstat, accessed_at in accesses:
        counts[(school_uai, accessed_at.astimezone(PARIS).strftime("%Y-%m"), service_code, mefstat or "")] += 1
    if not counts:
        return
    table = ServiceAccessCount.__table__
    statement = insert_for(session)(table)
    session.execute(statement.on_conflict_do_update(
        index_elements=["school_uai", "month", "service_code", "mefstat"],
        set_={"count": table.c["count"] + statement.excluded["count"]},
    ), [{"school_uai": uai, "month": month, "service_code": service, "mefstat": mefstat, "count": count}
        for (uai, month, service, mefstat), count in counts.items()])
