"""What the statistics pages show, counted from the stats database alone: G1, G2 (seed 003
§6.1–6.2), G3 (§6.3) and the academy's campaign. Read-only use cases.

A student of the school is one that an open account serves there now (their own or a guardian's);
a guardian account counts once per (guardian, student) couple, like the seeds' « comptes
responsables »; closed accounts count nowhere."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, distinct, func, select, update
from sqlalchemy.orm import Session

from ts_shared.unit_of_work import UnitOfWork
from ts_stats.adapters.orm import AccountChild, AccountSnapshot, School, SchoolSummary, ServiceAccessCount
from ts_stats.domain.summaries import (
    NO_DIVISION, NO_MEF, GuardianCounts, SchoolCampaign, StudentCounts, Summary, assemble, school_year_bounds,
    weekly_curve,
)

_OPEN = AccountSnapshot.closed.is_(False)
_JOIN = AccountChild.account_id == AccountSnapshot.account_id


def _line_key(mef_code, division) -> tuple[str, str]:
    return (mef_code or "", division or NO_DIVISION)


def _mef_labels(session: Session, uai: str) -> dict[str, str]:
    """MEF code -> the name its table has (« 3EME »)."""
    rows = session.execute(select(AccountChild.mef_code, func.max(AccountChild.mef_label))
                           .where(AccountChild.school_uai == uai).group_by(AccountChild.mef_code)).all()
    return {code or "": label or code or NO_MEF for code, label in rows}


def _students_per_line(session: Session, uai: str, *, with_used_guardian: bool = False) -> dict:
    """Distinct students per (MEF, division): all of them, or those with a guardian's account used."""
    conditions = [AccountChild.school_uai == uai, _OPEN]
    if with_used_guardian:
        conditions += [AccountSnapshot.kind == "guardian", AccountSnapshot.state == "used"]
    rows = session.execute(
        select(AccountChild.mef_code, AccountChild.division, func.count(distinct(AccountChild.student_id)))
        .join(AccountSnapshot, _JOIN).where(*conditions)
        .group_by(AccountChild.mef_code, AccountChild.division)).all()
    return {_line_key(mef, division): count for mef, division, count in rows}


def _accounts_per_line(session: Session, uai: str, kind: str, today: date):
    start, end = school_year_bounds(today)
    this_year = case((and_(AccountSnapshot.notified_at >= start, AccountSnapshot.notified_at < end), 1), else_=0)
    return session.execute(
        select(AccountChild.mef_code, AccountChild.division, AccountSnapshot.state,
               func.count(), func.sum(case((AccountSnapshot.access_refused.is_(True), 1), else_=0)),
               func.sum(this_year))
        .join(AccountSnapshot, _JOIN)
        .where(AccountChild.school_uai == uai, _OPEN, AccountSnapshot.kind == kind)
        .group_by(AccountChild.mef_code, AccountChild.division, AccountSnapshot.state)).all()


def student_summary(session: Session, uai: str) -> Summary:
    """G1: « Synthèse comptes élèves »."""
    lines: dict[tuple[str, str], StudentCounts] = defaultdict(StudentCounts)
    for key, count in _students_per_line(session, uai).items():
        lines[key].students = count
    for mef, division, state, count, refused, _ in _accounts_per_line(session, uai, "student", date.today()):
        line = lines[_line_key(mef, division)]
        if state == "not_notified":
            line.not_notified += count
        elif state == "used":
            line.used += count
        else:  # notified (a student has no « en cours d'activation », B5: counted as notified if ever)
            line.notified += count
        line.refused += refused or 0
    return assemble(dict(lines), StudentCounts, _mef_labels(session, uai))


def guardian_summary(session: Session, uai: str, *, today: date | None = None) -> Summary:
    """G2: « Synthèse comptes responsables »."""
    lines: dict[tuple[str, str], GuardianCounts] = defaultdict(GuardianCounts)
    for key, count in _students_per_line(session, uai).items():
        lines[key].students = count
    for key, count in _students_per_line(session, uai, with_used_guardian=True).items():
        lines[key].students_with_used_guardian = count
    for mef, division, state, count, refused, this_year in _accounts_per_line(
            session, uai, "guardian", today or date.today()):
        line = lines[_line_key(mef, division)]
        line.accounts += count
        if state == "not_notified":
            line.not_notified += count
        elif state == "used":
            line.used += count
        else:
            line.notified_or_activating += count
            line.notified_this_year += this_year or 0
        line.refused += refused or 0
    # A division with students but no guardian account still has its line (0 accounts).
    return assemble(dict(lines), GuardianCounts, _mef_labels(session, uai))


# --- G3 ------------------------------------------------------------------------------------------

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")


@dataclass(frozen=True)
class AccessSeries:
    """A chart of G3 and its data table: (label, count) in display order, and the detail of each bar
    (what the tooltip says: the count per service of that bar, or per month)."""

    key: str
    title: str
    heading: str  # the table's first column
    points: list[tuple[str, int]]
    details: dict[str, list[tuple[str, int]]]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.points)


def month_label(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def access_series(session: Session, uai: str, *, today: date | None = None,
                  national_labels: dict[str, str] | None = None) -> list[AccessSeries]:
    """G3: this school year's accesses per month, per service and per MEFSTAT."""
    today = today or date.today()
    start, _ = school_year_bounds(today)
    months = [f"{start.year + (m < 9)}-{m:02d}" for m in (*range(9, 13), *range(1, 9))]
    rows = session.execute(
        select(ServiceAccessCount.month, ServiceAccessCount.service_code, ServiceAccessCount.mefstat,
               ServiceAccessCount.count)
        .where(ServiceAccessCount.school_uai == uai, ServiceAccessCount.month.in_(months))).all()
    school = session.get(School, uai)
    labels = {**(national_labels or {}), **(school.service_labels if school else {})}
    mef_names = dict(session.execute(
        select(AccountChild.mefstat, func.max(AccountChild.mef_label))
        .where(AccountChild.school_uai == uai, AccountChild.mefstat.is_not(None)).group_by(AccountChild.mefstat)).all())

    def service_name(code: str) -> str:
        return labels.get(code, code)

    def mefstat_name(code: str) -> str:
        if not code:
            return "MEFSTAT non renseigné"
        return f"{mef_names[code]} (MEFSTAT {code})" if mef_names.get(code) else f"MEFSTAT {code}"

    by_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_service: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_mefstat: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for month, service, mefstat, count in rows:
        by_month[month][service_name(service)] += count
        by_service[service_name(service)][month_label(month)] += count
        by_mefstat[mefstat_name(mefstat)][service_name(service)] += count
    current = f"{today:%Y-%m}"
    shown_months = [m for m in months if m <= current] or months[:1]

    def series(key, title, heading, order, table):
        return AccessSeries(key, title, heading, [(label, sum(table[label].values())) for label in order],
                            {label: sorted(table[label].items()) for label in order})

    month_series = AccessSeries("mois", "Accès par mois", "Mois",
                                [(month_label(m), sum(by_month[m].values())) for m in shown_months],
                                {month_label(m): sorted(by_month[m].items()) for m in shown_months})
    return [
        month_series,
        series("services", "Accès par service", "Service", sorted(by_service), by_service),
        series("mefstat", "Accès par MEFSTAT", "MEFSTAT", sorted(by_mefstat), by_mefstat),
    ]


# --- the academy's campaign -----------------------------------------------------------------------

def academy_schools(session: Session, academy_code: str | None) -> list[School]:
    query = select(School).order_by(School.name, School.uai)
    if academy_code is not None:
        query = query.where(School.academy_code == academy_code)
    return list(session.scalars(query))


def refresh_school_summaries(session: Session, uais: list[str]) -> None:
    """Compute again the academy view's line of those schools whose accounts changed since."""
    stale = dict(session.execute(select(SchoolSummary.uai, SchoolSummary.revision).where(
        SchoolSummary.uai.in_(uais), SchoolSummary.computed_revision < SchoolSummary.revision)).all())
    if not stale:
        return
    lines: dict[str, dict[str, Any]] = {
        uai: {"students": 0, "student_accounts_used": 0, "guardian_accounts": 0, "guardian_accounts_used": 0,
              "last_notified_at": None, "used_by_day": {}} for uai in stale}
    in_schools = AccountChild.school_uai.in_(stale)
    for uai, students in session.execute(
            select(AccountChild.school_uai, func.count(distinct(AccountChild.student_id)))
            .join(AccountSnapshot, _JOIN).where(in_schools, _OPEN).group_by(AccountChild.school_uai)):
        lines[uai]["students"] = students
    for uai, kind, accounts, used, last in session.execute(
            select(AccountChild.school_uai, AccountSnapshot.kind, func.count(),
                   func.sum(case((AccountSnapshot.state == "used", 1), else_=0)), func.max(AccountSnapshot.notified_at))
            .join(AccountSnapshot, _JOIN).where(in_schools, _OPEN)
            .group_by(AccountChild.school_uai, AccountSnapshot.kind)):
        line = lines[uai]
        if kind == "student":
            line["student_accounts_used"] = used or 0
        else:
            line["guardian_accounts"], line["guardian_accounts_used"] = accounts, used or 0
        if last is not None and (line["last_notified_at"] is None or last > line["last_notified_at"]):
            line["last_notified_at"] = last
    day = func.date(AccountSnapshot.activated_at)
    for uai, activated, count in session.execute(
            select(AccountChild.school_uai, day, func.count()).join(AccountSnapshot, _JOIN)
            .where(in_schools, _OPEN, AccountSnapshot.state == "used").group_by(AccountChild.school_uai, day)):
        activated = _as_date(activated)
        lines[uai]["used_by_day"][activated.isoformat() if activated else ""] = count
    for uai, revision in stale.items():
        session.execute(update(SchoolSummary).where(SchoolSummary.uai == uai)
                        .values(computed_revision=revision, **lines[uai]))


def academy_campaign(uow: UnitOfWork, academy_code: str | None) -> tuple[list[SchoolCampaign], dict]:
    """Every school of the academy (every academy for None), with its counts — never a person —
    and the accounts used by day of activation (for the weekly curve), per school. The lines of
    schools whose accounts changed are computed again first (and kept)."""
    session = uow.session
    schools = academy_schools(session, academy_code)
    refresh_school_summaries(session, [school.uai for school in schools])
    uow.commit()
    summaries = {row.uai: row for row in session.scalars(
        select(SchoolSummary).where(SchoolSummary.uai.in_([school.uai for school in schools])))}
    campaign: list[SchoolCampaign] = []
    used_by_day: dict[str, dict[str, int]] = {}
    for school in schools:
        line = summaries.get(school.uai)
        if line is None:  # no account yet
            campaign.append(SchoolCampaign(school.uai, school.name))
            used_by_day[school.uai] = {}
            continue
        campaign.append(SchoolCampaign(
            school.uai, school.name, students=line.students, student_accounts_used=line.student_accounts_used,
            guardian_accounts=line.guardian_accounts, guardian_accounts_used=line.guardian_accounts_used,
            last_notified_at=line.last_notified_at))
        used_by_day[school.uai] = dict(line.used_by_day)
    return campaign, used_by_day


def used_accounts_per_week(used_by_day: dict[str, dict[str, int]], uais, *, today: date | None = None
                           ) -> list[tuple[date, int]]:
    """Accounts used (students' and guardians') at the end of each week since the school year
    began, for these schools together; those activated earlier (or on an unknown day) count from
    the start."""
    today = today or date.today()
    start = school_year_bounds(today)[0].date()
    daily: dict[date, int] = defaultdict(int)
    for uai in uais:
        for day, count in used_by_day.get(uai, {}).items():
            daily[max(date.fromisoformat(day), start) if day else start] += count
    return weekly_curve(daily, start, today)


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()
