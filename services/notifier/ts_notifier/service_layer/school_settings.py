"""The notifier's copy of what letters print about each school."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ts_notifier.adapters.orm import SchoolLetterSettings
from ts_shared.db import utcnow
from ts_shared.read_models import upsert_if_newer


def record_school_settings(session: Session, uai: str, settings: dict) -> bool:
    values = {
        "uai": uai,
        "settings_version": settings["settings_version"],
        "name": settings["name"],
        "academy_code": settings["academy_code"],
        "letter_type": settings["letter_type"],
        "ent_url": settings["ent_url"],
        "open_services": list(settings["open_services"]),
        "address_lines": list(settings["address_lines"]),
        "phone": settings["phone"],
        # Absent from events older than these fields: unknown, the letters then do without.
        "academy_name": settings.get("academy_name"),
        "city": settings.get("city"),
        "head_name": settings.get("head_name"),
        "service_labels": dict(settings.get("service_labels") or {}) or None,
        "updated_at": utcnow(),
    }
    return upsert_if_newer(
        session, SchoolLetterSettings.__table__, values, key="uai", version_column="settings_version"
    )
