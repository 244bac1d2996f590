"""Periodic jobs of the accounts service (run by `tsctl jobs accounts`, and by the embedded run)."""
from __future__ import annotations

from ts_accounts.service_layer.accounts import expire_accounts
from ts_accounts.service_layer.school_year import start_school_year
from ts_shared.db import utcnow
from ts_shared.service import Job


def expire_job(runtime) -> str:
    """B7/I1: accounts not activated 3 months after their latest notification, or unused for a
    year, are deleted; used or expired links are purged."""
    with runtime.uow() as uow:
        report = expire_accounts(uow, now=utcnow())
        uow.commit()
    return (f"{len(report.deleted)} compte(s) supprimé(s), {report.recreated} compte(s) recréé(s), "
            f"{report.tokens_purged} lien(s) purgé(s)")


def school_year_job(runtime) -> str:
    """I2: on 1 September (Paris time), every school moves to the new school year by itself."""
    with runtime.uow() as uow:
        moved = start_school_year(uow, now=utcnow())
    return f"année scolaire commencée dans {len(moved)} établissement(s)"


JOBS = (Job("expire_accounts", every_seconds=3600, run=expire_job),
        Job("school_year", every_seconds=600, run=school_year_job))
