"""I2: the school year turns by itself on 1 September (Paris time).

Nothing closes: online services and ENT access stay open (they no longer need activating each
year, seed 003 §1), accounts stay with their states. Each school moves to the new year once — by
the periodic job, or by `tsctl rollover --year` for ops; running it again changes nothing — and
its audit log says so. Until the rentrée's mass notification is done, the console reminds the
school of it (seed 003 §5: « indispensable en début de chaque année scolaire »), the accounts to
notify — new ones and those not activated the year before — selected."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ts_accounts.adapters.orm import Account, AccountLink, School
from ts_accounts.domain.lifecycle import AccountState
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.directory import SYSTEM, lock_school
from ts_accounts.service_layer.errors import InvalidInput
from ts_shared.calendar import current_school_year, school_year_begins, school_year_label
from ts_shared.unit_of_work import UnitOfWork

# The states the rentrée's mass notification is for (seed 003 §5).
TO_NOTIFY_AT_RENTREE = (AccountState.NOT_NOTIFIED.value, AccountState.NOTIFIED.value, AccountState.ACTIVATING.value)
RENTREE_REMINDER = timedelta(days=92)  # the first term: afterwards, a « Non notifié » is a newcomer's
FIRST_YEAR, LAST_YEAR = 2000, 2100


JOB = Actor(login=SYSTEM)  # who acts, in the audit log, when the job turns the year


def start_school_year(uow: UnitOfWork, *, year: int | None = None, now: datetime, actor: Actor = JOB) -> list[str]:
    """Move every school still in an earlier school year to `year` (by default the calendar's on
    `now`); the schools moved, by UAI. A school already there, or further, is left alone."""
    year = current_school_year(now) if year is None else year
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(errors={"year": f"Année scolaire invalide : {year}."})
    started_at = min(now, school_year_begins(year)) if year == current_school_year(now) else now
    moved = []
    candidates = uow.session.scalars(select(School.uai).where(
        or_(School.school_year.is_(None), School.school_year < year)).order_by(School.uai)).all()
    for uai in candidates:
        school = lock_school(uow.session, uai)  # read afresh: two runs at once move a school once
        if school is None or (school.school_year is not None and school.school_year >= year):
            continue
        school.school_year, school.school_year_started_at = year, started_at
        record(uow.session, actor, school_uai=uai, action="school.year_started", now=now,
               target=f"année {school_year_label(year)}",
               summary=f"Nouvelle année scolaire {school_year_label(year)} : les téléservices et l'accès aux ENT "
                       "restent ouverts, les comptes sont conservés. À faire : la notification en masse des "
                       "nouveaux comptes et de ceux non activés l'année précédente.",
               detail={"year": year})
        moved.append(uai)
    uow.commit()
    return moved


@dataclass(frozen=True)
class RentreeReminder:
    year: int
    guardians: int
    students: int


def rentree_reminder(session: Session, school: School, *, now: datetime) -> RentreeReminder | None:
    """What the rentrée's mass notification still has to reach in this school: accounts « Non
    notifié », « Notifié » or « En cours d'activation » not notified since the year began —
    during the first term of the school's year; None when nothing is left."""
    began = school.school_year_started_at
    if school.school_year is None or began is None or now - began > RENTREE_REMINDER:
        return None
    rows = session.execute(
        select(Account.kind, func.count(func.distinct(Account.id)))
        .join(AccountLink, AccountLink.account_id == Account.id)
        .where(AccountLink.school_uai == school.uai, AccountLink.ended_at.is_(None), Account.closed_at.is_(None),
               Account.state.in_(TO_NOTIFY_AT_RENTREE),
               or_(Account.notified_at.is_(None), Account.notified_at < began))
        .group_by(Account.kind)).all()
    counts = dict(rows)
    if not any(counts.values()):
        return None
    return RentreeReminder(school.school_year, counts.get("guardian", 0), counts.get("student", 0))
