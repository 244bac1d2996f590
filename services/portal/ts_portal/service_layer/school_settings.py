"""The portal's copy of each school's settings."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ts_portal.adapters.orm import SchoolPortalSettings
from ts_shared.db import utcnow
from ts_shared.read_models import upsert_if_newer


def record_school_settings(session: Session, uai: str, settings: dict) -> bool:
    """Keep the newest settings of a school (an older version arriving late is ignored)."""
    values = {
        "uai": uai,
        "settings_version": settings["settings_version"],
        "name": settings["name"],
        "academy_code": settings["academy_code"],
        "services_activated": settings["services_activated"],
        "welcome_message_html": settings["welcome_message_html"],
        "open_services": list(settings["open_services"]),
        "letter_type": settings["letter_type"],
        "ent_url": settings["ent_url"],
        "contact_email": settings["contact_email"],
        "address_lines": list(settings["address_lines"]),
        "phone": settings["phone"],
        "useful_links": [dict(link) for link in settings["useful_links"]],
        "service_labels": dict(settings.get("service_labels") or {}),
        "service_urls": dict(settings.get("service_urls") or {}),
        "updated_at": utcnow(),
    }
    return upsert_if_newer(
        session, SchoolPortalSettings.__table__, values, key="uai", version_column="settings_version"
    )


def school_settings(session: Session, uai: str) -> SchoolPortalSettings | None:
    return session.get(SchoolPortalSettings, uai)
