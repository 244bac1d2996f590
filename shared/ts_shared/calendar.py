"""The school year (1 September – 31 August), shown in every staff page and used by counters."""
from __future__ import annotations

from datetime import date


def school_year_start(today: date) -> int:
    """The calendar year in which the current school year began."""
    return today.year if today.month >= 9 else today.year - 1


def school_year_label(today: date) -> str:
    """« 2026/2027 » for any day from 1 September 2026 to 31 August 2027."""
    start = school_year_start(today)
    return f"{start}/{start + 1}"
