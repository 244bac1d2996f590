"""The statistics tables of seed 003 §6.1–6.2 (G1, G2) and the academy's campaign view, as plain
values: what a row counts, how its percentages read, what the school year is. No database here."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta

from ts_shared.calendar import school_year_begins, school_year_start

NO_MEF = "Sans MEF"
NO_DIVISION = "Sans division"


def school_year_bounds(today: date) -> tuple[datetime, datetime]:
    """« Année courante » (002 §6: notified between the school year's start and its end): from
    1 September, midnight in Paris, to the next 1 September (excluded) — ts_shared.calendar's year."""
    year = school_year_start(today)
    return school_year_begins(year), school_year_begins(year + 1)


def percent(part: int, whole: int, *, spaced: bool = True) -> str:
    """The seeds' format: two decimals at most, a point, no trailing zero (« 1.59 % », « 100 % »,
    « 0 % »); the guardians' table of 003 §6.2 writes « 0% », without the space."""
    value = round(100 * part / whole, 2) if whole else 0
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text} %" if spaced else f"{text}%"


@dataclass
class StudentCounts:
    """G1, one line: a division, a MEF's « Somme », or the school."""

    students: int = 0
    not_notified: int = 0
    notified: int = 0
    used: int = 0
    refused: int = 0

    @property
    def used_percent(self) -> str:
        return percent(self.used, self.students)

    def add(self, other: StudentCounts) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def cells(self) -> list:
        return [self.students, self.not_notified, self.notified, self.used, self.used_percent, self.refused]


STUDENT_COLUMNS = ("Nombre d'élèves", "Nombre de comptes non notifiés", "Nombre de comptes notifiés",
                   "Nombre de comptes utilisés", "% d'élèves avec comptes utilisés", "Nombre de refus téléservices")


@dataclass
class GuardianCounts:
    """G2, one line. `students` and `students_with_used_guardian` give the last percentage."""

    accounts: int = 0
    not_notified: int = 0
    notified_or_activating: int = 0
    notified_this_year: int = 0
    used: int = 0
    refused: int = 0
    students: int = 0
    students_with_used_guardian: int = 0

    @property
    def used_percent(self) -> str:
        return percent(self.used, self.accounts, spaced=False)

    @property
    def students_percent(self) -> str:
        return percent(self.students_with_used_guardian, self.students, spaced=False)

    def add(self, other: GuardianCounts) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def cells(self) -> list:
        return [self.accounts, self.not_notified, self.notified_or_activating, self.notified_this_year, self.used,
                self.used_percent, self.students_percent, self.refused]


GUARDIAN_COLUMNS = ("Nombre de comptes responsables", "Nombre de comptes non notifiés",
                    "Nombre de comptes notifiés ou en cours d'activation",
                    "Nombre de comptes notifiés ou en cours d'activation année courante", "Nombre de comptes utilisés",
                    "% de comptes resp. avec un compte utilisé",
                    "% élèves ayant au moins un resp. avec un compte utilisé",
                    "Nombre de refus téléservices")


@dataclass
class MefTable:
    """A MEF's table: a row per division, then « Somme »."""

    label: str
    divisions: list[tuple[str, StudentCounts | GuardianCounts]]
    total: StudentCounts | GuardianCounts


@dataclass
class Summary:
    """A page of G1 or G2: the school's line, then the MEF tables."""

    school: StudentCounts | GuardianCounts
    mefs: list[MefTable] = field(default_factory=list)


def assemble(lines: dict[tuple[str, str], StudentCounts | GuardianCounts], empty,
             mef_labels: dict[str, str]) -> Summary:
    """`lines`: (MEF code, division) -> counts; a MEF table per MEF (in code order, named by
    `mef_labels`), its divisions in name order, a « Somme » each, and the school's total."""
    school = empty()
    by_mef: dict[str, list[tuple[str, StudentCounts | GuardianCounts]]] = {}
    for (mef_code, division), counts in lines.items():
        by_mef.setdefault(mef_code, []).append((division, counts))
    tables = []
    for mef_code, divisions in sorted(by_mef.items(), key=lambda item: (item[0] == "", item[0])):
        mef_label = mef_labels.get(mef_code) or mef_code or NO_MEF
        total = empty()
        for _, counts in divisions:
            total.add(counts)
        school.add(total)
        tables.append(MefTable(mef_label, sorted(divisions, key=lambda item: (item[0] == NO_DIVISION, item[0])),
                               total))
    return Summary(school, tables)


# --- the academy's campaign ----------------------------------------------------------------------

@dataclass
class SchoolCampaign:
    uai: str
    name: str
    students: int = 0
    student_accounts_used: int = 0
    guardian_accounts: int = 0
    guardian_accounts_used: int = 0
    last_notified_at: datetime | None = None

    @property
    def never_notified(self) -> bool:
        return self.last_notified_at is None

    @property
    def students_used_ratio(self) -> float:
        return self.student_accounts_used / self.students if self.students else 0.0

    @property
    def guardians_used_ratio(self) -> float:
        return self.guardian_accounts_used / self.guardian_accounts if self.guardian_accounts else 0.0


CAMPAIGN_SORTS = {
    "name": lambda s: (s.name.casefold(), s.uai),
    "students": lambda s: s.students,
    "students_used": lambda s: s.student_accounts_used,
    "students_percent": lambda s: s.students_used_ratio,
    "guardians_used": lambda s: s.guardian_accounts_used,
    "guardians_percent": lambda s: s.guardians_used_ratio,
    "last_notified": lambda s: (s.last_notified_at is not None, s.last_notified_at or datetime.min),
}


def week_starts(since: date, until: date) -> list[date]:
    """The Mondays of the weeks from the one holding `since` to the one holding `until`."""
    first = since - timedelta(days=since.weekday())
    return [first + timedelta(weeks=n) for n in range((until - first).days // 7 + 1)]


def weekly_curve(daily: dict[date, int], since: date, until: date) -> list[tuple[date, int]]:
    """Accounts used at the end of each week: those activated before `since` count from the start."""
    weeks = week_starts(since, until)
    points, days = [], sorted(daily.items())
    total, index = 0, 0
    for week in weeks:
        end = week + timedelta(days=7)
        while index < len(days) and days[index][0] < end:
            total += days[index][1]
            index += 1
        points.append((week, total))
    return points
