"""What stats may ask of accounts to rebuild or check a school's counters: the school and every
account serving someone there now, as the account.* events carry them (read only)."""
from __future__ import annotations

from sqlalchemy import select

from ts_accounts.adapters.orm import AccountLink, AcademyService, School
from ts_accounts.service_layer.directory import snapshots
from ts_accounts.service_layer.errors import NotFound
from ts_shared.statistics_snapshot import dump_snapshot
from ts_shared.unit_of_work import UnitOfWork


def statistics_snapshot(uow: UnitOfWork, uai: str) -> dict:
    session = uow.session
    school = session.get(School, uai)
    if school is None:
        raise NotFound(f"Établissement {uai} inconnu.")
    labels = dict(session.execute(select(AcademyService.code, AcademyService.label)
                                  .where(AcademyService.academy_code == school.academy_code)).all())
    account_ids = session.scalars(select(AccountLink.account_id).distinct()
                                  .where(AccountLink.school_uai == uai, AccountLink.ended_at.is_(None))).all()
    return dump_snapshot(
        {"uai": school.uai, "name": school.name, "academy_code": school.academy_code,
         "settings_version": school.settings_version, "service_labels": labels},
        list(snapshots(session, account_ids)),
    )
