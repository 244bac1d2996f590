"""Use cases of the stats service: record what events report (each handler is idempotent with the
consumer's processed ids, and order-tolerant: a copy is replaced only by a newer version)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from ts_shared.calendar import PARIS
from ts_shared.db import insert_for, utcnow
from ts_shared.read_models import upsert_if_newer
from ts_stats.adapters.orm import AccountChild, AccountSnapshot, School, ServiceAccessCount


def record_account(session: Session, account: dict) -> bool:
    """Keep the newest version of an account and of whom it serves; an older version arriving
    late is ignored. Returns True when this version was recorded."""
    if not upsert_if_newer(session, AccountSnapshot.__table__, _snapshot_values(account), key="account_id"):
        return False
    _replace_children(session, account)
    return True


def write_account(session: Session, account: dict) -> None:
    """Write the account's copy whatever the stored version (a rebuild, which checked it)."""
    values = _snapshot_values(account)
    statement = insert_for(session)(AccountSnapshot.__table__).values(**values)
    session.execute(statement.on_conflict_do_update(
        index_elements=["account_id"], set_={column: statement.excluded[column] for column in values}))
    _replace_children(session, account)


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


def _replace_children(session: Session, account: dict) -> None:
    session.execute(delete(AccountChild).where(AccountChild.account_id == account["account_id"]))
    children = [
        {"account_id": account["account_id"], **{key: child[key] for key in (
            "school_uai", "student_id", "guardian_id", "legal_rank", "division", "mef_code", "mefstat",
            "kept_from_previous_school")}, "mef_label": child.get("mef_label")}
        for child in account["children"]
    ]
    if children:
        session.execute(insert(AccountChild), children)


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
    table = ServiceAccessCount.__table__
    month = accessed_at.astimezone(PARIS).strftime("%Y-%m")
    statement = insert_for(session)(table).values(school_uai=school_uai, month=month,
                                     service_code=service_code, mefstat=mefstat or "", count=1)
    statement = statement.on_conflict_do_update(
        index_elements=["school_uai", "month", "service_code", "mefstat"],
        set_={"count": table.c["count"] + 1},
    )
    session.execute(statement)
