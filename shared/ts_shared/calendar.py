"""The school year (1 September – 31 August, in Paris time): the one calendar every service uses —
the year shown in every staff page, the school year's change (I2) in accounts, the « année
courante » counters of the statistics."""
from __future__ import annotations

from datetime import date, datetime, time, UTC
from zoneinfo import ZoneInfo

# French schools' local time: day boundaries of searches, dates printed on letters and pages.
PARIS = ZoneInfo("Europe/Paris")
FIRST_MONTH = 9  # a school year begins on 1 September


def school_year_start(today: date) -> int:
    """The calendar year in which the school year of `today` (a date in Paris) began."""
    return today.year if today.month >= FIRST_MONTH else today.year - 1


def school_year_of(moment: datetime | date) -> int:
    """The school year (« 2027 » for 2027/2028) of a moment, read in Paris time: 31 August 2027 at
    23:30 in Paris (21:30 UTC) is still 2026/2027, 1 September at 00:00 in Paris is 2027/2028."""
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(PARIS).date()
    return school_year_start(moment)


def current_school_year(now: datetime | None = None) -> int:
    return school_year_of(now or datetime.now(UTC))


def school_year_begins(year: int) -> datetime:
    """When school year `year` begins: 1 September at midnight in Paris."""
    return datetime(year, FIRST_MONTH, 1, tzinfo=PARIS)


def school_year_label(value: date | datetime | int) -> str:
    """« 2026/2027 » for the school year 2026, or any moment from 1 September 2026 to 31 August 2027."""
    start = value if isinstance(value, int) else school_year_of(value)
    return f"{start}/{start + 1}"


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
