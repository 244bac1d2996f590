"""The school year (1 September – 31 August), shown in every staff page and used by counters."""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def school_year_start(today: date) -> int:
    """The calendar year in which the current school year began."""
    return today.year if today.month >= 9 else today.year - 1


def school_year_label(today: date) -> str:
    """« 2026/2027 » for any day from 1 September 2026 to 31 August 2027."""
    start = school_year_start(today)
    return f"{start}/{start + 1}"


# French schools' local time: day boundaries of searches, dates printed on letters and pages.
PARIS = ZoneInfo("Europe/Paris")


def start_of_day(day: date) -> datetime:
    """Midnight in Paris on `day`, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=PARIS)


def french_datetime(moment: datetime | None) -> str:
    """« 02/12/2026 à 14 h 05 » in Paris time ('' for None)."""
    if moment is None:
        return ""
    local = moment.astimezone(PARIS)
    return f"{local:%d/%m/%Y} à {local:%H} h {local:%M}"


def french_date(moment: datetime | date | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = moment.astimezone(PARIS).date()
    return f"{moment:%d/%m/%Y}"
