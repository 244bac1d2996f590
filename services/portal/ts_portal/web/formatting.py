"""Dates as families read them (Jinja filters of the portal)."""
from __future__ import annotations

from datetime import date, datetime, UTC
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def french_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def french_datetime(moment: datetime | None) -> str:
    """« 07/01/2015 à 18 h 05 », in Paris time."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(PARIS)
    return f"{local:%d/%m/%Y} à {local:%H} h {local:%M}"
